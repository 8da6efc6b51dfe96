"""The matrix loop: plans the units, sends each run to its engine's worker, stores records.

For every unit (cell x seed) the driver

1. draws the seeded split once (its fingerprint is part of every run's key) and, unless
   every run of the unit is already stored, the epoch orders and (``same_init``) the
   initial weights from the catalog's scratch build: prepared once, handed to every engine;
2. sends each engine's task to that engine's long-lived worker process, in an order
   rotated from seed to seed, back to back, so each time ratio comes from neighbouring
   runs on one host;
3. appends each record to the results store as soon as it returns: the driver is the
   store's only writer.

A run that raises is stored as ``failed`` with its error, a run whose loss becomes NaN or
infinite as ``diverged``, a worker that dies as ``failed`` with the signal or exit code (a
fresh worker takes the next run), and the matrix goes on. A cell whose data files are
absent is stored as ``skipped`` with the reason. Ctrl-C stops at once; every stored record
is whole, and ``resume=True`` skips the runs whose key is already stored.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from suite.engines.scratch import THREAD_POLICY_ENV_VAR
from suite.engines.spec import EngineSpec, parse_engine_spec
from suite.matrix import Cell, Matrix
from suite.results import DONE_STATUSES, RESULTS_FILE_NAME, ResultsStore, new_record_fields
from suite.run.data import DataCache
from suite.run.plan import (
    UNAVAILABLE_FINGERPRINT,
    RunTask,
    Unit,
    crossentropy_for,
    engine_specs,
    plan_units,
)
from suite.run.worker import InlineWorker, WorkerConfig, WorkerDied, WorkerProcess


@dataclass
class RunOptions:
    """Command-line choices that apply to every run of a matrix."""

    out_dir: Path = Path("results")
    only: Sequence[str] = ()
    resume: bool = False
    threads: int | None = None
    device: str = "cpu"
    keras_backend: str | None = None
    quiet: bool = False
    data_dir: str | None = None
    download: bool = False
    inline: bool = False
    thread_policy: str = "auto"

    @property
    def results_path(self) -> Path:
        """The results file inside the output folder."""
        return Path(self.out_dir) / RESULTS_FILE_NAME


@dataclass
class RunSummary:
    """What a matrix run did, counted by outcome."""

    planned: int = 0
    stored: dict[str, int] = field(default_factory=dict)
    already_stored: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    results_path: str = ""

    def count(self, status: str) -> None:
        """Count one stored record of ``status``."""
        self.stored[status] = self.stored.get(status, 0) + 1

    @property
    def failed(self) -> int:
        """Number of runs stored as failed."""
        return self.stored.get("failed", 0)


class DeviceUnavailableError(RuntimeError):
    """``--device gpu`` on a machine where an engine cannot reach a GPU."""


def catalog_configs(
    cell: Cell, input_shape: tuple[int, ...], num_classes: int, seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cell's model and compile configs from the catalog (Keras form).

    Parameters
    ----------
    cell : Cell
    input_shape : tuple of int
    num_classes : int
    seed : int

    Returns
    -------
    (dict, dict)
    """
    from suite import catalog

    overrides = cell.overrides()
    model = catalog.model_config(
        cell.architecture,
        input_shape,
        num_classes,
        dtype=cell.settings["dtype"],
        seed=seed,
        **overrides,
    )
    return model, catalog.compile_config(cell.architecture, **overrides)


def initial_weights_from_config(model_config: dict[str, Any], seed: int) -> list[np.ndarray]:
    """The seeded scratch_cnn start weights of a config (what ``same_init`` hands over)."""
    import scratch_cnn as sc
    from suite.engines.models import redraw_initial_weights

    model = sc.Sequential.from_config(model_config, seed=seed)
    redraw_initial_weights(model)
    return [np.array(weight, copy=True) for weight in model.get_weights()]


def _check_gpu(specs: set[str]) -> None:
    """Refuse a GPU run that would quietly train on the CPU (its timings would mislead)."""
    problems = []
    if "scratch:gpu" in specs:
        try:
            import cupy

            cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # ImportError, or a CUDA runtime error
            problems.append(
                f"scratch_cnn needs CuPy with a CUDA device ({type(error).__name__}: {error}); "
                "install the gpu extra (pip install 'cnnbench[gpu]')"
            )
    if problems:
        raise DeviceUnavailableError(
            "--device gpu cannot run here: " + "; ".join(problems) + ". Use --device cpu."
        )


def _architecture_family(name: str) -> str | None:
    from suite import catalog

    try:
        return catalog.get_architecture(name).family
    except KeyError:  # a test's stand-in architecture: no family to report
        return None


class MatrixRunner:
    """Runs the selected cells of a matrix and appends one record per run.

    Parameters
    ----------
    matrix : Matrix
        The validated matrix.
    options : RunOptions
        Output folder, selection, resume, threads, device, backend, quiet, data folder.
    engines : dict, optional
        Engine spec -> engine object, run in this process (tests); by default every engine
        runs in its own worker process (``options.inline`` runs them all in this process).
    configs : callable, optional
        ``(cell, input_shape, num_classes, seed) -> (model_config, compile_config)``;
        the catalog's by default (tests pass stand-in architectures).
    out : callable, optional
        Where progress lines go.
    """

    def __init__(
        self,
        matrix: Matrix,
        options: RunOptions,
        engines: dict[str, Any] | None = None,
        configs: Callable[..., tuple[dict[str, Any], dict[str, Any]]] | None = None,
        out: Callable[[str], None] | None = None,
    ) -> None:
        self.matrix = matrix
        self.options = options
        self.cells = matrix.select(list(options.only))
        self.store = ResultsStore(options.results_path)
        self.injected_engines = engines or {}
        self.configs = configs or catalog_configs
        self.data = DataCache(options.data_dir, options.download)
        self.out = out or (lambda text: tqdm.write(text, file=sys.stderr))
        self.workers: dict[str, Any] = {}
        self.worker_config = WorkerConfig(
            threads=options.threads,
            data_dir=options.data_dir,
            download=options.download,
            device=options.device,
            # on the CPU, no backend may place its work on a GPU the harness did not ask for
            extra_environment={
                THREAD_POLICY_ENV_VAR: options.thread_policy,
                **({"CUDA_VISIBLE_DEVICES": "-1"} if options.device == "cpu" else {}),
            },
        )
        self.startup_errors: dict[str, str] = {}

    def _say(self, text: str) -> None:
        if not self.options.quiet:
            self.out(text)

    # -- engines and workers -----------------------------------------------------------------
    def _specs(self, cell: Cell) -> list[EngineSpec]:
        return engine_specs(cell, self.options.keras_backend, self._bare_scratch_device())

    def _bare_scratch_device(self) -> str:
        return "gpu" if self.options.device == "gpu" else "cpu"

    def _worker(self, spec: str) -> Any:
        """The worker of an engine spec, started on first use (and after a death)."""
        worker = self.workers.get(spec)
        if worker is None:
            if spec in self.injected_engines:
                worker = InlineWorker(self.injected_engines[spec], self.worker_config)
            elif self.options.inline:
                from suite.engines.base import create_engine

                worker = InlineWorker(create_engine(spec), self.worker_config)
            else:
                worker = WorkerProcess(spec, self.worker_config)
            self.workers[spec] = worker
        if not worker.alive:
            info = worker.start()
            self._say(
                f"worker {spec}: pid {info.get('pid')}, "
                f"{info.get('baseline_rss_bytes', 0) / 2**20:.0f} MiB after imports"
            )
        return worker

    def stop_workers(self, kill: bool = False) -> None:
        """Stop every worker (kill them after Ctrl-C)."""
        for worker in self.workers.values():
            if kill:
                worker.kill()
            else:
                worker.stop()

    # -- the loop ----------------------------------------------------------------------------
    def plan(self) -> list[Unit]:
        """Every unit of the selection, with keys (the split is drawn here)."""
        return plan_units(
            self.cells,
            self._fingerprint,
            self.options.keras_backend,
            self._bare_scratch_device(),
        )

    def _fingerprint(self, cell: Cell, seed: int) -> str:
        return self.data.split(cell.dataset, seed, cell.settings["validation_size"]).fingerprint

    def run(self) -> RunSummary:
        """Run every selected cell; return the summary (``interrupted`` after Ctrl-C)."""
        started = time.perf_counter()
        summary = RunSummary(
            planned=self.matrix.run_count(self.cells), results_path=str(self.store.path)
        )
        done_keys: set[str] = set()
        if self.options.resume:
            stored = self.store.read()
            for problem in stored.problems:
                self._say(f"warning: {problem}")
            done_keys = {
                record["key"]
                for record in stored.records
                if record.get("status") in DONE_STATUSES and isinstance(record.get("key"), str)
            }
        if self.options.device == "gpu":
            _check_gpu({spec.name for cell in self.cells for spec in self._specs(cell)})
        units = self.plan()
        overall = tqdm(
            total=summary.planned,
            desc=f"matrix {self.matrix.name}",
            unit="run",
            disable=self.options.quiet,
            position=0,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        interrupted = False
        try:
            self.execute_units(units, done_keys, summary, overall)
        except KeyboardInterrupt:
            summary.interrupted = interrupted = True
        finally:
            overall.close()
            self.stop_workers(kill=interrupted)
            summary.seconds = time.perf_counter() - started
        return summary

    # -- executors (suite/run/cluster.py overrides execute_units) --------------------------
    def execute_units(
        self, units: list[Unit], done_keys: set[str], summary: RunSummary, overall: Any
    ) -> None:
        """Run every unit in this process, one after another (the local executor)."""
        for unit in units:
            self.run_unit(unit, done_keys, summary, overall)

    def run_unit(self, unit: Unit, done_keys: set[str], summary: RunSummary, overall: Any) -> None:
        """Run (or skip) every engine of one unit, storing each record as it returns."""
        pending = [name for name in unit.engines if unit.keys[name] not in done_keys]
        for _ in range(len(unit.engines) - len(pending)):
            summary.already_stored += 1
            overall.update(1)
        for record in self.unit_records(unit, pending):
            self._store(record, summary)
            overall.update(1)
            self._report_line(record)

    def unit_records(self, unit: Unit, pending: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Run the ``pending`` engines of one unit; yield each record as it returns.

        Nothing is stored here: the local executor stores each record as it is yielded,
        a Dask task (:mod:`suite.run.cluster`) returns them all to the driver.
        """
        cell, seed = unit.cell, unit.seed
        family = _architecture_family(cell.architecture)
        if not pending:
            return
        try:
            split = self.data.split(cell.dataset, seed, cell.settings["validation_size"])
        except KeyboardInterrupt:
            raise
        except Exception as error:
            yield from self._skip_or_fail_records(unit, list(pending), error, family)
            return
        dataset = self.data.load(cell.dataset)
        input_shape = tuple(int(size) for size in dataset.images.shape[1:])
        model_config, compile_config = self.configs(cell, input_shape, dataset.num_classes, seed)
        import datasets

        shuffle_seed = seed if cell.settings["shuffle"] else None
        orders = [datasets.epoch_order(split.train, shuffle_seed, e) for e in range(cell.epochs)]
        initial = (
            initial_weights_from_config(model_config, seed) if cell.settings["same_init"] else None
        )
        specs = {spec.name: spec for spec in self._specs(cell)}
        crossentropy = crossentropy_for(list(specs.values()))
        for name in pending:
            task = RunTask(
                key=unit.keys[name],
                engine=name,
                cell_name=cell.name,
                dataset=cell.dataset,
                architecture=cell.architecture,
                seed=seed,
                settings=cell.harness_settings(),
                epochs=cell.epochs,
                batch_size=cell.batch_size,
                model_config=model_config,
                compile_config=compile_config,
                crossentropy=crossentropy,
                split=split,
                fingerprint=unit.fingerprint,
                epoch_orders=orders,
                initial_weights=initial,
            )
            record = self._base_record(cell, specs[name], seed, family)
            record["key"] = unit.keys[name]
            record["engine_order"] = list(unit.engines)
            record["split"] = split.to_record()
            record.update(self._run_task(task))
            yield record  # stored by the caller (here, or the Dask driver)

    def _run_task(self, task: RunTask) -> dict[str, Any]:
        """Send one task to its worker; a dead or unstartable worker becomes a failed run."""
        from suite.run.worker import WorkerStartupError

        bar = tqdm(
            total=task.epochs,
            desc=f"{task.dataset}/{task.architecture} {task.engine} seed {task.seed}",
            unit="epoch",
            leave=False,
            disable=self.options.quiet,
            position=1,
            file=sys.stderr,
            dynamic_ncols=True,
        )

        def on_epoch(info: dict[str, Any]) -> None:
            loss, accuracy = info.get("loss"), info.get("accuracy")
            bar.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy or 0:.3f}", refresh=False)
            bar.update(1)
            self._on_epoch(task, info)  # progress of a Dask task

        try:
            if task.engine in self.startup_errors:
                return {"status": "failed", "error": self.startup_errors[task.engine]}
            try:
                worker = self._worker(task.engine)
            except WorkerStartupError as error:
                self.startup_errors[task.engine] = str(error)
                return {"status": "failed", "error": str(error)}
            try:
                result = worker.run(task, on_epoch)
            except WorkerDied as died:
                return {"status": "failed", "error": str(died), "worker_exit": died.as_record()}
            result["worker"] = {
                "pid": worker.info.get("pid"),
                "baseline_rss_bytes": worker.info.get("baseline_rss_bytes"),
                "isolated": isinstance(worker, WorkerProcess),
            }
            if result.get("timings") is not None:
                result["timings"]["worker_baseline_rss_bytes"] = worker.info.get(
                    "baseline_rss_bytes"
                )
            result["environment"] = worker.info.get("environment")
            return result
        finally:
            bar.close()

    def _on_epoch(self, task: RunTask, info: dict[str, Any]) -> None:
        """Called after each epoch of a run (the cluster executor reports progress here)."""

    def _base_record(self, cell: Cell, spec: EngineSpec, seed: int, family: Any) -> dict:
        record = new_record_fields()
        record.update(
            {
                "matrix_cell": cell.name,
                "experiment": cell.experiment,
                "dataset": cell.dataset,
                "architecture": cell.architecture,
                "family": family,
                "engine": spec.name,
                "engine_family": spec.family,
                "keras_backend": spec.option if spec.family == "keras" else None,
                "device": self.options.device,
                "seed": seed,
                "hyperparameters": cell.run_settings(),
                "configuration_hash": cell.configuration_hash(),
                "error": None,
                "metrics": None,
                "timings": None,
                "curves": None,
                "training": None,
                "first_layer_filters": None,
            }
        )
        return record

    def _store(self, record: dict[str, Any], summary: RunSummary) -> None:
        if record.get("environment") is None:
            from suite.environment import environment_block

            record["environment"] = environment_block(
                None, self.options.device, self.options.keras_backend
            )
        # every record names its host and how its unit was executed
        if record.get("host") is None:
            from suite.host import record_host

            record["host"] = record_host()
        record.setdefault("execution", {"executor": "local", "concurrent_units": 1})
        self.store.append(record)
        summary.count(record["status"])

    def _skip_or_fail_records(
        self, unit: Unit, engines: list[str], error: Exception, family: Any
    ) -> Iterator[dict[str, Any]]:
        # absent files are expected (seeds.toml names every data set); anything else failed
        absent = isinstance(error, FileNotFoundError)
        for name in engines:
            spec = parse_engine_spec(name)
            record = self._base_record(unit.cell, spec, unit.seed, family)
            record["key"] = unit.keys[name]
            record["engine_order"] = list(unit.engines)
            record["status"] = "skipped" if absent else "failed"
            record["error"] = f"{type(error).__name__}: {error}"
            record["split"] = {"fingerprint": UNAVAILABLE_FINGERPRINT}
            yield record

    def _report_line(self, record: dict[str, Any]) -> None:
        head = (
            f"{record['status']:>8}  {record['dataset']}/{record['architecture']} "
            f"{record['engine']} seed {record['seed']}"
        )
        metrics = record.get("metrics") or {}
        timings = record.get("timings") or {}
        if record["status"] == "success":
            self._say(
                f"{head}: accuracy {metrics['accuracy']:.4f}, weighted F1 "
                f"{metrics['weighted_f1']:.4f}, train {timings['train_seconds']:.2f} s "
                f"(first epoch {timings['first_epoch_seconds']:.2f} s)"
            )
        else:
            first_line = (record.get("error") or "").splitlines()[:1]
            self._say(f"{head}: {first_line[0] if first_line else ''}")
