"""Estimate a matrix's wall time on N exclusive Dask workers from measured throughput.

Two steps (docs/cluster.md):

    python tools/cluster_estimate.py measure matrices/seeds.toml --out throughput.json
    python tools/cluster_estimate.py table throughput.json --seeds 3 --workers 1 8 64

``measure`` trains each cell's model (the catalog's config for the data set's image shape)
with each engine, in one process per engine, on ``--images`` random images: one warm-up
batch (Keras traces its graphs there), then one timed ``fit_epoch`` and one timed
``predict``, and stores images per second. No data files are needed.

``table`` turns the throughputs into unit times (a unit: every engine of one cell and seed,
``epochs x (train / train rate + validation / inference rate) + 2 x test / inference rate``
per engine, plus the per-unit overhead), then into the wall time of the matrix on N
workers, each taking the next unit in plan order as it frees (what Dask does with one
``unit`` slot per worker), with the cold start of each worker (engine start-up and data
load) once. Rates given with ``--rate CELL=ENGINE:TRAIN:INFER`` replace measured ones
(e.g. figures quoted from elsewhere).
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: shortest timed training pass; shorter passes are redone on more images
MIN_SECONDS = 2.0


def _cells(matrix_path: str, only: list[str]) -> list[Any]:
    from suite.builtin_matrices import resolve_matrix_path
    from suite.matrix import load_matrix

    matrix = load_matrix(resolve_matrix_path(matrix_path))
    return matrix.select(only)


def _sizes(cell: Any) -> dict[str, int]:
    """Train, validation and test image counts of a cell's split.

    digits8x8 ships with the package: its real split. The others from their official
    sizes (``datasets.registry``), the validation part taken from the training set, so
    no data files are needed.
    """
    from datasets.registry import DATASET_INFO

    validation = cell.settings.get("validation_size")
    info = DATASET_INFO[cell.dataset]
    if info.test_count is None:
        import datasets

        dataset = datasets.load_dataset(cell.dataset)
        sizes = datasets.make_split(dataset, seed=0, validation_size=validation).sizes
        return {part: int(sizes[part]) for part in ("train", "validation", "test")}
    validation = 5000 if validation is None else int(validation)
    return {
        "train": info.train_count - validation,
        "validation": validation,
        "test": info.test_count,
    }


def measure_engine(spec: str, matrix_path: str, only: list[str], images: int, threads: int | None):
    """In this process: images per second of one engine on every cell (JSON to stdout)."""
    import numpy as np

    from datasets.registry import DATASET_INFO
    from suite.engines.base import create_engine
    from suite.engines.spec import canonical_engine_spec
    from suite.run.driver import catalog_configs

    engine = create_engine(spec)
    engine.setup(threads)
    results = {}
    for cell in _cells(matrix_path, only):
        if spec not in [canonical_engine_spec(name) for name in cell.engines]:
            continue
        info = DATASET_INFO[cell.dataset]
        model_config, compile_config = catalog_configs(cell, info.input_shape, info.num_classes, 0)
        model = engine.build(model_config, compile_config, seed=0)
        rng = np.random.default_rng(0)
        sizes = _sizes(cell)
        count = min(sizes["train"], max(images, 2 * cell.batch_size))
        for attempt in range(2):
            x = rng.random((count, *info.input_shape), dtype=np.float32)
            labels = rng.integers(0, info.num_classes, count)
            y = np.eye(info.num_classes, dtype=np.float32)[labels]
            if attempt == 0:  # warm-up: kernels, thread pools, Keras's traced graphs
                engine.fit_epoch(model, x[: cell.batch_size], y[: cell.batch_size], cell.batch_size)
                engine.predict(model, x[: cell.batch_size])
            _, seconds = engine.fit_epoch(model, x, y, cell.batch_size)
            started = time.perf_counter()
            engine.predict(model, x)
            infer = time.perf_counter() - started
            # a fast model's rate from a few batches is mostly per-call cost: time at least
            # MIN_SECONDS of training (or the whole training set) instead
            if seconds >= MIN_SECONDS or count >= sizes["train"]:
                break
            count = min(sizes["train"], int(count * MIN_SECONDS / max(seconds, 1e-3)) + 1)
        results[cell.name] = {"train_ips": count / seconds, "infer_ips": count / infer}
        print(f"{spec} {cell.name}: {results[cell.name]}", file=sys.stderr)
    json.dump(results, sys.stdout)


def measure(args: argparse.Namespace) -> int:
    """Run one measuring process per engine of the matrix; write the throughput file."""
    from suite.engines.spec import canonical_engine_spec

    cells = _cells(args.matrix, args.only)
    engines = sorted({canonical_engine_spec(e) for cell in cells for e in cell.engines})
    with open("/proc/loadavg") as handle:
        load_before = handle.read().split()[:3]
    output: dict[str, Any] = {
        "matrix": args.matrix,
        "images": args.images,
        "threads": args.threads,
        "load_before": load_before,
        "cells": {},
    }
    for cell in cells:
        output["cells"][cell.name] = {
            "epochs": cell.epochs,
            "seeds": cell.seeds,
            "engines": [canonical_engine_spec(e) for e in cell.engines],
            **_sizes(cell),
            "rates": {},
        }
    for spec in engines:
        command = [sys.executable, __file__, "_engine", spec, args.matrix, str(args.images)]
        command += [str(args.threads or 0)] + [f"--only={pattern}" for pattern in args.only]
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        done = subprocess.run(command, capture_output=True, text=True, env=environment)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        for name, rates in json.loads(done.stdout.strip().splitlines()[-1]).items():
            output["cells"][name]["rates"][spec] = rates
    with open("/proc/loadavg") as handle:
        output["load_after"] = handle.read().split()[:3]
    Path(args.out).write_text(json.dumps(output, indent=1))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def unit_seconds(cell: dict[str, Any], overhead: float) -> float:
    """One unit (every engine of the cell, one seed) from the cell's rates."""
    total = overhead
    for spec in cell["engines"]:
        rates = cell["rates"][spec]
        per_epoch = cell["train"] / rates["train_ips"] + cell["validation"] / rates["infer_ips"]
        total += cell["epochs"] * per_epoch + 2 * cell["test"] / rates["infer_ips"]
    return total


def makespan(durations: list[float], workers: int, cold_start: float) -> float:
    """Wall time when each of ``workers`` takes the next unit, in order, as it frees.

    Every worker is ready after its cold start (engine start-up, first data load).
    """
    free = [cold_start] * workers
    heapq.heapify(free)
    end = 0.0
    for duration in durations:
        finish = heapq.heappop(free) + duration
        end = max(end, finish)
        heapq.heappush(free, finish)
    return end


def table(args: argparse.Namespace) -> int:
    """Print the per-cell unit times and the wall time on each worker count (Markdown)."""
    data = json.loads(Path(args.throughput).read_text())
    for text in args.rate:
        name, _, rest = text.partition("=")
        spec, train, infer = rest.rsplit(":", 2)
        data["cells"][name]["rates"][spec] = {"train_ips": float(train), "infer_ips": float(infer)}
    durations = []
    print("| Cell | Epochs | Train images | Unit (one seed, all engines) |")
    print("|---|---|---|---|")
    for name, cell in data["cells"].items():
        seconds = unit_seconds(cell, args.overhead)
        durations += [seconds] * args.seeds
        print(f"| {name} | {cell['epochs']} | {cell['train']} | {seconds / 3600:.2f} h |")
    total = sum(durations)
    print()
    print(f"{len(durations)} units, {total / 3600:.1f} h of unit time in all")
    print()
    print("| Workers | Wall time (plan order) | Wall time (longest first) | Lower bound |")
    print("|---|---|---|---|")
    for workers in args.workers:
        plan = makespan(durations, workers, args.cold_start)
        longest = makespan(sorted(durations, reverse=True), workers, args.cold_start)
        bound = max(max(durations), total / workers) + args.cold_start
        print(
            f"| {workers} | {plan / 3600:.1f} h | {longest / 3600:.1f} h | {bound / 3600:.1f} h |"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_engine":
        spec, matrix_path, images, threads = argv[1:5]
        only = [arg.split("=", 1)[1] for arg in argv[5:]]
        measure_engine(spec, matrix_path, only, int(images), int(threads) or None)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    measuring = commands.add_parser("measure", help="measure each engine's images per second")
    measuring.add_argument("matrix")
    measuring.add_argument("--out", default="throughput.json")
    measuring.add_argument("--images", type=int, default=200)
    measuring.add_argument("--threads", type=int, default=None)
    measuring.add_argument("--only", action="append", default=[])
    tabling = commands.add_parser("table", help="wall time on N workers from a throughput file")
    tabling.add_argument("throughput")
    tabling.add_argument("--seeds", type=int, default=3)
    tabling.add_argument("--workers", type=int, nargs="+", default=[1, 8, 64])
    tabling.add_argument("--overhead", type=float, default=0.25, help="seconds per unit")
    tabling.add_argument("--cold-start", type=float, default=15.0, help="seconds per worker")
    tabling.add_argument("--rate", action="append", default=[], metavar="CELL=ENGINE:TRAIN:INFER")
    args = parser.parse_args(argv)
    return measure(args) if args.command == "measure" else table(args)


if __name__ == "__main__":
    sys.exit(main())
