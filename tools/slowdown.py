"""Slowdown factor of each engine under a standard competing load.

For each engine and net, a fresh worker process (so thread pools start as a run's would)
builds the model on small random data, trains warm-up epochs, then trains ``--epochs``
epochs quiet, beside 1 busy process, beside 2 busy processes (``tools/load_generator.py``)
and quiet again. The slowdown factor is the median s/epoch under load over the median
quiet s/epoch; the machine's load average is printed beside every figure, because the
"quiet" baseline is only as quiet as the machine. Each phase also keeps the process's
CPU time per wall second and how it split over the worker's threads (``thread_cores``):
beside another session's work, a process with more runnable threads gets a larger share.

    python tools/slowdown.py                                 # the issue's 5 nets, both engines
    python tools/slowdown.py --nets lenet5 --engines scratch --policy off
    python tools/slowdown.py --json slowdown.json --markdown

``--policy`` picks the scratch engine's BLAS thread policy (:mod:`suite.thread_policy`):
``off`` is the old behaviour (``--threads`` OpenBLAS threads for every GEMM), ``auto`` the
default. Keras runs are unaffected by it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_generator import CompetingLoad

NETS = ("dnn_128_128_64", "densenet4_300", "cnn1_32", "lenet5", "vgg12_32")
#: (input shape, training images): sized for roughly 0.1-0.5 s quiet epochs on 2 cores
SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "dnn_128_128_64": ((28, 28, 1), 32768),
    "densenet4_300": ((28, 28, 1), 16384),
    "cnn1_32": ((28, 28, 1), 4096),
    "lenet5": ((32, 32, 3), 1024),
    "vgg12_32": ((32, 32, 3), 2048),
}
DEFAULT_SHAPE = ((28, 28, 1), 4096)


def loadavg() -> str:
    """The 1/5/15-minute load averages as ``"0.12 0.30 0.25"``."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def thread_cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) of each of this process's threads, by thread id.

    Read from ``/proc/self/task``: the share of the cores each thread got under a load,
    which ``time.process_time`` sums away. A thread that exits between listing and
    reading is left out.

    Returns
    -------
    dict of int to float
        Thread id to CPU seconds since the thread started; empty where there is no
        ``/proc`` (not Linux).
    """
    ticks = os.sysconf("SC_CLK_TCK")
    seconds: dict[int, float] = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return seconds
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as stat:
                # utime and stime are fields 14 and 15; the name in brackets may hold spaces.
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[int(tid)] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def thread_cores(before: dict[int, float], after: dict[int, float], wall: float) -> list[float]:
    """Cores each thread used between two :func:`thread_cpu_seconds` readings.

    Parameters
    ----------
    before, after : dict of int to float
        The two readings; a thread missing from ``before`` started in between.
    wall : float
        Wall-clock seconds between them.

    Returns
    -------
    list of float
        Cores per thread (CPU seconds over ``wall``, two decimals), largest first;
        threads under 0.01 of a core, and those that ended in between, left out.
    """
    used = ((after[tid] - before.get(tid, 0.0)) / wall for tid in after) if wall > 0 else ()
    return sorted((round(cores, 2) for cores in used if cores >= 0.01), reverse=True)


def _epoch_clock(engine: str) -> Any:
    if engine != "keras":
        return None
    import keras

    class EpochClock(keras.callbacks.Callback):
        seconds = 0.0
        started = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.seconds = time.perf_counter() - self.started

    return EpochClock()


def build_model(net: str, engine: str, shape: tuple[int, ...], seed: int = 0) -> Any:
    """The catalog architecture for one engine (``suite.engines.models.build``)."""
    from suite.engines import models

    return models.build(net, engine, shape, 10, seed=seed)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Worker: train one engine x net quiet and under each load; return the figures."""
    from suite.timing import configure_threads

    settings = configure_threads(
        args.threads, keras_backend="tensorflow", configure_keras_backend=args.engine == "keras"
    )
    policy = None
    if args.engine == "scratch":
        from suite.thread_policy import BlasThreadPolicy

        policy = BlasThreadPolicy(settings.threads, args.policy)

    import numpy as np

    from suite import catalog

    shape, count = SHAPES.get(args.net, DEFAULT_SHAPE)
    if args.samples:
        count = args.samples
    rng = np.random.default_rng(0)
    x = rng.random((count, *shape), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, count)]
    if args.engine == "keras":
        import keras

        keras.utils.set_random_seed(0)
    model = build_model(args.net, args.engine, shape)
    batch_size = catalog.hyperparameters(args.net).batch_size
    clock = _epoch_clock(args.engine)
    if policy is not None:
        if getattr(model, "output_shape", None) is None:
            model.build(shape)
        policy.for_model(model, batch_size)
        from scratch_cnn import parallel

        parallel.plan_shards_for(policy.cap)  # as suite.engines.scratch does
    blas_threads: list[int] = []

    def epoch() -> float:
        if policy is not None:
            blas_threads.append(policy.before_epoch())
        if clock is None:
            history = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
            return float(history.epoch_times[-1])
        model.fit(
            x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[clock]
        )
        return float(clock.seconds)

    for _ in range(args.warmup):
        epoch()
    phases = []
    for processes in [0, *args.loads, 0]:
        with CompetingLoad(
            processes,
            seconds=600,
            kind=args.load_kind,
            settle_seconds=0.5,
            new_session=args.load_session == "new",
        ):
            before = loadavg()
            threads0, wall0 = thread_cpu_seconds(), time.perf_counter()
            cpu0 = time.process_time()
            seconds = [epoch() for _ in range(args.epochs)]
            cpu = time.process_time() - cpu0
            phase_wall = time.perf_counter() - wall0
            per_thread = thread_cores(threads0, thread_cpu_seconds(), phase_wall)
        phases.append(
            {
                "processes": processes,
                "blas_threads": blas_threads[-args.epochs :] if policy else None,
                "epoch_seconds": seconds,
                "median": statistics.median(seconds),
                "cpu_per_wall": cpu / sum(seconds),
                "cpu_seconds_per_epoch": cpu / len(seconds),
                # How the process's share split over its threads: a process with more
                # runnable threads gets a larger share beside another session's work
                # (docs/performance.md, "Why Keras gets a larger share").
                "thread_cores": per_thread,
                # The process's CPU time the list does not show: threads that ended within
                # the phase (gone from /proc/self/task) and those under 0.01 of a core.
                "ended_threads_cores": round(max(0.0, cpu / phase_wall - sum(per_thread)), 2),
                "loadavg_before": before,
            }
        )
    quiet = statistics.median(
        s for phase in phases if phase["processes"] == 0 for s in phase["epoch_seconds"]
    )
    factors = {
        str(phase["processes"]): phase["median"] / quiet
        for phase in phases
        if phase["processes"] > 0
    }
    # The process's own CPU time per epoch, loaded over quiet: 1 when the load only took
    # CPU time away (the engine did the same work, later), above 1 when the engine also
    # burnt more of it (threads spinning or waiting on each other).
    quiet_cpu = statistics.mean(
        phase["cpu_seconds_per_epoch"] for phase in phases if phase["processes"] == 0
    )
    cpu_factors = {
        str(phase["processes"]): phase["cpu_seconds_per_epoch"] / quiet_cpu
        for phase in phases
        if phase["processes"] > 0
    }
    return {
        "engine": args.engine,
        "net": args.net,
        "policy": policy.as_dict() if policy else None,
        "threads": settings.threads,
        "samples": count,
        "quiet_seconds": quiet,
        "slowdown": factors,
        "cpu_time_factor": cpu_factors,
        "phases": phases,
    }


def wait_for_quiet(limit_seconds: float, window: float = 2.0, below: float = 0.15) -> float:
    """Wait (up to ``limit_seconds``) until other processes use under ``below`` cores.

    Returns the last ``window``-second reading of other processes' cores.
    """
    from suite.contention import OtherWorkMeter

    meter = OtherWorkMeter()
    deadline = time.monotonic() + limit_seconds
    while True:
        time.sleep(window)
        other = meter.read()
        if other is None or other < below or time.monotonic() >= deadline:
            return -1.0 if other is None else other


def _worker_command(args: argparse.Namespace, engine: str, net: str) -> list[str]:
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        "--engine",
        engine,
        "--net",
        net,
        "--epochs",
        str(args.epochs),
        "--warmup",
        str(args.warmup),
        "--policy",
        args.policy,
        "--load-kind",
        args.load_kind,
        "--load-session",
        args.load_session,
        "--loads",
        *[str(n) for n in args.loads],
    ]
    if args.samples:
        command += ["--samples", str(args.samples)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    return command


def _per_net_table(
    results: list[dict[str, Any]],
    headers: Callable[[str], list[str]],
    cells: Callable[[dict[str, Any]], list[str] | None],
) -> str:
    """A Markdown table with a row per net and a group of columns per engine, scratch first.

    ``headers(engine)`` names an engine's columns; ``cells(result)`` fills them from its
    result for the net, or returns None for dashes (as for a net the engine lacks).
    """
    engines = sorted({r["engine"] for r in results}, key=lambda e: e != "scratch")
    by_net_engine: dict[tuple[str, str], dict[str, Any]] = {}
    for result in results:
        by_net_engine.setdefault((result["net"], result["engine"]), result)
    header = ["net"] + [name for engine in engines for name in headers(engine)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for net in dict.fromkeys(r["net"] for r in results):
        row = [net]
        for engine in engines:
            result = by_net_engine.get((net, engine))
            filled = None if result is None else cells(result)
            row += ["-"] * len(headers(engine)) if filled is None else filled
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def markdown_table(results: list[dict[str, Any]], loads: list[int]) -> str:
    """The results as a Markdown table: quiet s/epoch and slowdown per load, per engine.

    Where the results have them, each slowdown is followed by the CPU-time factor in
    parentheses (the process's CPU seconds per epoch under that load over quiet).
    """

    def cells(result: dict[str, Any]) -> list[str]:
        row = [f"{result['quiet_seconds']:.3f}"]
        for n in loads:
            cell = f"{result['slowdown'].get(str(n), float('nan')):.2f}"
            cpu = result.get("cpu_time_factor", {}).get(str(n))
            row.append(cell if cpu is None else f"{cell} ({cpu:.2f})")
        return row

    return _per_net_table(
        results,
        lambda engine: [f"{engine} quiet s/epoch", *(f"{engine} x{n} busy" for n in loads)],
        cells,
    )


def thread_table(results: list[dict[str, Any]], load: int) -> str:
    """The cores each engine's threads got beside ``load`` busy processes, as Markdown.

    One row per net: per engine, the cores of each thread that used at least 0.01 of
    one (``thread_cores``, largest first) and the process's CPU time per wall second
    (``cpu_per_wall``). Results without per-thread figures show ``-``.
    """

    def cells(result: dict[str, Any]) -> list[str] | None:
        for phase in result.get("phases", []):
            if phase["processes"] == load and "thread_cores" in phase:
                cores = ", ".join(f"{value:.2f}" for value in phase["thread_cores"])
                return [cores, f"{phase['cpu_per_wall']:.2f}"]
        return None

    return _per_net_table(
        results, lambda engine: [f"{engine}: cores per thread", f"{engine}: process"], cells
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nets", nargs="+", default=list(NETS))
    parser.add_argument("--engines", nargs="+", default=["scratch", "keras"])
    parser.add_argument("--loads", nargs="+", type=int, default=[1, 2], help="busy processes")
    parser.add_argument("--threads", type=int, default=None, help="threads (usable cores)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per phase (3)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed epochs first (2)")
    parser.add_argument("--samples", type=int, default=None, help="training images per epoch")
    parser.add_argument(
        "--policy", default="auto", help="scratch BLAS thread policy: auto, size, load, off"
    )
    parser.add_argument("--load-kind", default="python", choices=("python", "numpy"))
    parser.add_argument(
        "--load-session",
        default="same",
        choices=("same", "new"),
        help="busy processes in this session (compete thread by thread) or a new one",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each worker, wait up to this long for other processes to go quiet",
    )
    parser.add_argument("--json", type=Path, default=None, help="write all figures here")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--net", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parse(argv)
    if args.worker:
        print(json.dumps(measure(args)), flush=True)
        return 0
    results = []
    started = loadavg()
    for net in args.nets:
        for engine in args.engines:
            other = wait_for_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
            done = subprocess.run(
                _worker_command(args, engine, net),
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if done.returncode != 0:
                print(f"{engine} {net}: worker failed\n{done.stderr[-3000:]}", file=sys.stderr)
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            result["other_cores_before"] = other
            results.append(result)
            factors = " ".join(
                f"x{n}={v:.2f} (cpu {result['cpu_time_factor'][n]:.2f})"
                for n, v in result["slowdown"].items()
            )
            phases = " | ".join(
                f"{p['processes']}: {p['median']:.3f}s cpu/wall {p['cpu_per_wall']:.2f}"
                f" threads {p.get('thread_cores')} + ended {p.get('ended_threads_cores')}"
                f" load {p['loadavg_before']}"
                + (f" blas {p['blas_threads']}" if p["blas_threads"] else "")
                for p in result["phases"]
            )
            print(
                f"{engine:8s} {net:15s} policy={(result['policy'] or {}).get('policy')} quiet"
                f" {result['quiet_seconds']:.3f}s {factors}   [{phases}]"
                + ("" if other is None else f" (others {other:.2f} cores before)"),
                flush=True,
            )
    summary = {"loadavg_start": started, "loadavg_end": loadavg(), "results": results}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    if args.markdown:
        print(markdown_table(results, args.loads))
        for load in args.loads:
            print(f"\ncores per thread beside {load} busy process{'es' if load != 1 else ''}:")
            print(thread_table(results, load))
        print(f"\nload average at start {started}, at end {summary['loadavg_end']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
