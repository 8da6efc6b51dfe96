"""The Dask executor: a matrix's units spread over many machines, one store on the driver.

The unit of work is a whole :class:`~suite.run.plan.Unit`: every engine of one (cell,
seed), run back to back by one Dask worker in the order rotated by seed, so each time
ratio still comes from neighbouring runs on one host. Inside the Dask task the unit's
engines run in their own engine worker processes
(:class:`~suite.run.worker.WorkerProcess`), started by that Dask worker process and kept
alive from unit to unit (:func:`unit_runner`), exactly as the local executor runs them.

Workers started by ``cnnbench worker`` (or ``--local-cluster N``) have one thread and the
resource ``unit=1``; every unit asks for it, so a worker holds one unit at a time and no
two units share one worker's cores (one ``cnnbench worker`` per machine gives exclusive
machines).

The driver plans the units, sends them with :meth:`distributed.Client.submit`, and stores
each unit's records as it completes (:class:`distributed.as_completed`): it stays the only
writer of ``results.jsonl``, skips keys it already stored (``--resume``, and any duplicate
a retry could bring) and stores a ``failed`` record for every run of a unit that could not
complete, so that no run is lost.

Faults:

- a Dask worker that dies mid-unit: the scheduler gives the unit to another worker once
  (the driver sets the scheduler's ``allowed_failures`` to 1, see
  :func:`limit_retries`); when that worker dies too, every run of the unit is stored as
  ``failed`` naming the hosts it died on;
- a worker that cannot run an engine (its library is not installed there): the run is
  ``failed`` naming the pip extra (:func:`suite.engines.base.check_engine_available`);
- a worker whose split fingerprint differs from the driver's (other data files or library
  versions): every run of the unit is ``failed`` with both fingerprints and the host name;
- Ctrl-C (or SIGTERM) on the driver: the outstanding units are cancelled (a running
  unit stops after its current epoch), everything already stored stays; ``--resume``
  reruns only the missing runs.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from suite.matrix import Matrix
from suite.run.driver import MatrixRunner, RunOptions, RunSummary
from suite.run.plan import UNAVAILABLE_FINGERPRINT, RunTask, Unit

#: the worker resource a unit asks for; ``cnnbench worker`` offers one
UNIT_RESOURCE = "unit"
#: the Dask event topic on which tasks report progress to the driver
PROGRESS_TOPIC = "cnnbench-progress"
#: how many workers may die under one unit before it is stored as failed (one retry)
ALLOWED_FAILURES = 1
#: Dask settings of the worker processes that run units. Dask's nanny normally gives a
#: worker process one BLAS/OpenMP thread and a low malloc trim threshold; the engine
#: workers it starts inherit that environment, and should get the one the local executor
#: gives them instead (each engine sets its own thread counts, suite.timing).
WORKER_PROCESS_CONFIG = {"distributed.nanny.pre-spawn-environ": {}}
#: how long the driver waits for a scheduler to answer
CONNECT_TIMEOUT_SECONDS = 20


class ClusterError(RuntimeError):
    """No Dask cluster could be reached or started."""


class UnitCancelled(RuntimeError):
    """The driver cancelled the unit (Ctrl-C, or it went away) while it ran."""


@dataclass
class UnitJob:
    """What one Dask task gets: a unit, the engines still to run, the driver's choices.

    Attributes
    ----------
    unit : Unit
        The (cell, seed) with its engine order, keys and the driver's split fingerprint.
    pending : list of str
        Engine specs of the unit not yet stored (``--resume``).
    options : RunOptions
        The driver's run options; ``data_dir`` is None for a remote cluster (workers read
        their own ``CNNBENCH_DATA`` / cache).
    execution : dict
        The record's ``execution`` block as the driver sees it (executor, scheduler,
        concurrent units); the worker adds where and how long.
    session : str
        The driver session's id (progress events carry it).
    """

    unit: Unit
    pending: list[str]
    options: RunOptions
    execution: dict[str, Any]
    session: str


@dataclass
class UnitTiming:
    """Where one unit's time went, for the overhead figures (seconds; wall clocks)."""

    label: str
    worker: str
    host: str
    submitted: float
    started: float
    finished: float
    received: float
    unit_seconds: float
    data_seconds: float
    engine_start_seconds: float
    runs_seconds: float
    dispatch_seconds: float | None = None

    @property
    def return_seconds(self) -> float:
        """From the task's end on the worker to the result in the driver's hands."""
        return self.received - self.finished

    @property
    def preparation_seconds(self) -> float:
        """Inside the task, neither data check, engine start nor engine run."""
        return max(
            0.0,
            self.unit_seconds - self.data_seconds - self.engine_start_seconds - self.runs_seconds,
        )

    @property
    def overhead_seconds(self) -> float:
        """Dispatch, data check, preparation and return (engine start-up apart)."""
        return (
            (self.dispatch_seconds or 0.0)
            + self.data_seconds
            + self.preparation_seconds
            + self.return_seconds
        )


# -- inside the Dask worker -------------------------------------------------------------------


class UnitRunner(MatrixRunner):
    """The unit loop of :class:`MatrixRunner` inside a Dask worker process.

    Runs :meth:`MatrixRunner.unit_records` (the same code as the local executor) and
    keeps its engine worker processes alive from unit to unit; reports each run and epoch
    on :data:`PROGRESS_TOPIC` and stops a unit the driver cancelled after its current
    epoch.

    Parameters
    ----------
    options : RunOptions
        The driver's options, as this worker uses them.
    """

    def __init__(self, options: RunOptions) -> None:
        empty = Matrix(path="", name="dask-unit", description="", cells=[])
        super().__init__(empty, replace(options, quiet=True, only=(), resume=False))
        _drop_dask_worker_environment()
        self.report: Callable[[dict[str, Any]], None] = lambda event: None
        self.engine_start_seconds = 0.0
        self.runs_seconds = 0.0

    def _worker(self, spec: str) -> Any:
        started = time.perf_counter()
        starting = spec not in self.workers or not self.workers[spec].alive
        try:
            return super()._worker(spec)
        finally:
            if starting:
                self.engine_start_seconds += time.perf_counter() - started

    def _run_task(self, task: RunTask) -> dict[str, Any]:
        self.report({"event": "run", "engine": task.engine, "epochs": task.epochs})
        started = time.perf_counter()
        start_before = self.engine_start_seconds
        try:
            return super()._run_task(task)
        finally:
            took = time.perf_counter() - started
            self.runs_seconds += took - (self.engine_start_seconds - start_before)

    def _on_epoch(self, task: RunTask, info: dict[str, Any]) -> None:
        self.report(
            {
                "event": "epoch",
                "engine": task.engine,
                "epoch": info.get("epoch"),
                "epochs": task.epochs,
            }
        )
        if _task_cancelled():
            raise UnitCancelled(f"{task.cell_name} seed {task.seed}: cancelled by the driver")


def _drop_dask_worker_environment() -> None:
    """Undo what Dask's nanny put in this process's environment for its own sake.

    A nanny starts its worker process with one BLAS/OpenMP thread and a low malloc trim
    threshold (``distributed.nanny.pre-spawn-environ``); the engine worker processes
    started here would inherit them. ``cnnbench worker`` and ``--local-cluster`` turn that
    off; a plain ``dask worker`` (what dask-jobqueue starts) does not, so the values Dask
    set are dropped here and the engines start with the environment the local executor
    gives them (each engine then sets its own thread counts, ``suite.timing``).
    """
    if _current_dask_worker() is None:  # not in a Dask worker: nothing of Dask's to undo
        return
    import dask

    values = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    for name, value in values.items():
        if os.environ.get(name) == str(value):
            del os.environ[name]


_RUNNERS: dict[tuple[Any, ...], UnitRunner] = {}
_RUNNERS_LOCK = threading.Lock()


def unit_runner(options: RunOptions) -> UnitRunner:
    """This process's :class:`UnitRunner` for these options (engine workers kept alive).

    Parameters
    ----------
    options : RunOptions

    Returns
    -------
    UnitRunner
        One per (threads, device, backend, data folder, download, inline) and process.
    """
    key = (
        options.threads,
        options.device,
        options.keras_backend,
        options.data_dir,
        options.download,
        options.inline,
    )
    with _RUNNERS_LOCK:
        runner = _RUNNERS.get(key)
        if runner is None:
            if not _RUNNERS:  # the first runner of this process: stop its engines at exit
                atexit.register(stop_unit_runners)
            runner = _RUNNERS[key] = UnitRunner(options)
        return runner


def stop_unit_runners() -> None:
    """Stop the engine worker processes of this process's unit runners."""
    with _RUNNERS_LOCK:
        for runner in _RUNNERS.values():
            runner.stop_workers()
        _RUNNERS.clear()


def _current_dask_worker() -> Any:
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):  # called outside a Dask task (tests, debugging)
        return None


def _task_cancelled() -> bool:
    """Whether the Dask task running in this thread was cancelled or released."""
    worker = _current_dask_worker()
    if worker is None:
        return False
    from distributed.worker import thread_state

    key = getattr(thread_state, "key", None)
    if key is None:  # not inside a task this Dask version describes: never cancel
        return False
    state = worker.state.tasks.get(key)
    return state is None or state.state in ("cancelled", "released", "forgotten")


def failed_unit_records(
    runner: MatrixRunner, unit: Unit, engines: Sequence[str], error: str
) -> list[dict[str, Any]]:
    """A ``failed`` record for each of ``engines`` of a unit, with ``error``.

    Parameters
    ----------
    runner : MatrixRunner
        For the base record (options, device).
    unit : Unit
    engines : sequence of str
    error : str

    Returns
    -------
    list of dict
    """
    from suite.engines.spec import parse_engine_spec
    from suite.run.driver import _architecture_family

    family = _architecture_family(unit.cell.architecture)
    records = []
    for name in engines:
        record = runner._base_record(unit.cell, parse_engine_spec(name), unit.seed, family)
        record["key"] = unit.keys[name]
        record["engine_order"] = list(unit.engines)
        record["status"] = "failed"
        record["error"] = error
        record["split"] = {"fingerprint": unit.fingerprint}
        records.append(record)
    return records


def run_unit_job(job: UnitJob) -> dict[str, Any]:
    """The Dask task: run one unit's pending engines here; return their records.

    Parameters
    ----------
    job : UnitJob

    Returns
    -------
    dict
        ``records`` (one per pending engine, each with ``host`` and ``execution``),
        ``host`` (this machine's host block), ``worker`` (Dask worker address),
        ``worker_name``, ``pid``, ``started``/``finished`` (wall clock), ``unit_seconds``,
        ``data_seconds``, ``engine_start_seconds``, ``runs_seconds``.

    Raises
    ------
    UnitCancelled
        When the driver cancelled the unit while it ran (its engine workers are killed;
        nothing is returned, nothing is lost: the driver stores nothing for it).
    """
    from suite.host import record_host

    started_wall, started = time.time(), time.perf_counter()
    worker = _current_dask_worker()
    address = worker.address if worker is not None else "in-process"
    name = str(worker.name) if worker is not None else "in-process"
    unit = job.unit
    runner = unit_runner(job.options)  # first, so the host block sees its environment
    runner.engine_start_seconds = runner.runs_seconds = 0.0
    host = record_host()

    def report(event: dict[str, Any]) -> None:
        if worker is None:
            return
        message = {
            "session": job.session,
            "worker": address,
            "name": name,
            "host": host["hostname"],
            "pid": os.getpid(),
            "unit": unit.label,
            **event,
        }
        with contextlib.suppress(Exception):  # progress must never fail a unit
            worker.log_event(PROGRESS_TOPIC, message)

    runner.report = report
    report({"event": "start"})
    where = f"on host {host['hostname']} (Dask worker {address})"
    data_started = time.perf_counter()
    records: list[dict[str, Any]]
    try:
        split = runner.data.split(
            unit.cell.dataset, unit.seed, unit.cell.settings["validation_size"]
        )
        own = split.fingerprint
    except Exception as error:  # absent or corrupt files on this worker only
        own, problem = None, f"{type(error).__name__}: {error}"
    data_seconds = time.perf_counter() - data_started
    if own is None:
        records = failed_unit_records(
            runner,
            unit,
            job.pending,
            f"the data set {unit.cell.dataset!r} cannot be loaded {where}: {problem}; the "
            "driver has it (its split fingerprint is "
            f"{unit.fingerprint}); set CNNBENCH_DATA or --data-dir of cnnbench worker there",
        )
    elif own != unit.fingerprint:
        records = failed_unit_records(
            runner,
            unit,
            job.pending,
            f"SplitMismatchError: split fingerprint {where} is {own} but the driver's is "
            f"{unit.fingerprint} (data set {unit.cell.dataset!r}, seed {unit.seed}); the "
            "worker's data files or library versions differ from the driver's",
        )
    else:
        try:
            records = list(runner.unit_records(unit, job.pending))
        except UnitCancelled:
            runner.stop_workers(kill=True)  # its engine worker is mid-run: start afresh
            report({"event": "cancelled"})
            raise
    finished_wall = time.time()
    unit_seconds = time.perf_counter() - started
    for record in records:
        record["host"] = host
        record["execution"] = {
            **job.execution,
            "dask_worker": address,
            "dask_worker_name": name,
            "dask_worker_pid": os.getpid(),
            "unit_seconds": unit_seconds,
        }
    report({"event": "done"})
    return {
        "records": records,
        "host": host,
        "worker": address,
        "worker_name": name,
        "pid": os.getpid(),
        "started": started_wall,
        "finished": finished_wall,
        "unit_seconds": unit_seconds,
        "data_seconds": data_seconds,
        "engine_start_seconds": runner.engine_start_seconds,
        "runs_seconds": runner.runs_seconds,
    }


# -- the driver side --------------------------------------------------------------------------


def limit_retries(client: Any, allowed_failures: int = ALLOWED_FAILURES) -> bool:
    """Let the scheduler give a unit whose worker died to one other worker, not three.

    Dask moves the tasks of a worker that dies to another worker, up to the scheduler's
    ``allowed_failures`` times (3 by default, ``distributed.scheduler.allowed-failures``),
    then fails them with ``KilledWorker``. A unit that kills its worker twice is not
    likely to succeed a third time and holds a whole machine each time.

    Parameters
    ----------
    client : distributed.Client
    allowed_failures : int

    Returns
    -------
    bool
        False when the scheduler refused (its own setting then applies).
    """

    def set_allowed_failures(dask_scheduler: Any, value: int = allowed_failures) -> int:
        dask_scheduler.allowed_failures = value
        return value

    try:
        client.run_on_scheduler(set_allowed_failures)
    except Exception:  # an older or locked-down scheduler: its own setting applies
        return False
    return True


def unit_workers_per_host(client: Any) -> dict[str, int]:
    """Number of workers offering the ``unit`` resource on each host (by address)."""
    try:
        workers = client.scheduler_info(n_workers=-1)["workers"]
    except TypeError:  # older distributed without n_workers
        workers = client.scheduler_info()["workers"]
    counts: dict[str, int] = {}
    for info in workers.values():
        if (info.get("resources") or {}).get(UNIT_RESOURCE):
            host = info.get("host") or "?"
            counts[host] = counts.get(host, 0) + 1
    return counts


def _host_of(address: str) -> str:
    """The host part of ``tcp://HOST:PORT``."""
    rest = address.split("://", 1)[-1]
    return rest.rsplit(":", 1)[0].strip("[]")


@dataclass
class _Activity:
    """What each worker is doing, from the progress events (updated by the client thread)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: dict[str, list[str]] = field(default_factory=dict)

    def update(self, message: dict[str, Any]) -> None:
        with self.lock:
            worker = message.get("worker", "?")
            state = self.workers.setdefault(worker, {})
            state.update(message)
            if message.get("event") == "start":
                where = f"{message.get('host')} ({worker}, pid {message.get('pid')})"
                self.attempts.setdefault(message.get("unit", "?"), []).append(where)
            if message.get("event") in ("done", "cancelled"):
                state["idle"] = True
            elif message.get("event") in ("start", "run", "epoch"):
                state["idle"] = False

    def describe(self) -> str:
        with self.lock:
            parts = []
            for worker, state in sorted(self.workers.items()):
                label = state.get("name") or worker
                if state.get("idle", True):
                    parts.append(f"{label}: idle")
                    continue
                text = f"{label}: {state.get('unit')}"
                if state.get("engine"):
                    text += f" {state['engine']}"
                if state.get("epoch"):
                    text += f" {state['epoch']}/{state.get('epochs')}"
                parts.append(text)
            return "; ".join(parts)


def _format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class ClusterRunner(MatrixRunner):
    """Runs the units of a matrix on a Dask cluster; the driver stores every record.

    Parameters
    ----------
    matrix : Matrix
    options : RunOptions
    scheduler : str, optional
        Address of a running scheduler (``tcp://HOST:8786``).
    local_cluster : int, optional
        Start a :class:`distributed.LocalCluster` of this many worker processes instead.
    out : callable, optional
        Where progress lines go.
    """

    def __init__(
        self,
        matrix: Matrix,
        options: RunOptions,
        scheduler: str | None = None,
        local_cluster: int | None = None,
        out: Callable[[str], None] | None = None,
    ) -> None:
        if (scheduler is None) == (local_cluster is None):
            raise ClusterError("give either a scheduler address or a local cluster size")
        if local_cluster is not None and local_cluster < 1:
            raise ClusterError(f"--local-cluster is {local_cluster}; expected 1 or more")
        if options.inline:
            raise ClusterError("--inline runs engines in the driver; it cannot run on Dask")
        super().__init__(matrix, options, out=out)
        self.scheduler = scheduler
        self.local_cluster = local_cluster
        self.session = uuid.uuid4().hex
        self.activity = _Activity()
        self.unit_timings: list[UnitTiming] = []
        self.client: Any = None
        self._bar_lock = threading.Lock()

    @property
    def executor(self) -> str:
        """``local-cluster`` or ``dask``."""
        return "local-cluster" if self.local_cluster is not None else "dask"

    # -- the cluster ------------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        """The client of the scheduler, or of a LocalCluster started (and closed) here."""
        import dask
        from distributed import Client

        # The unit's engines run in child processes of the Dask worker process: Dask's
        # default daemonic worker processes may not have children.
        settings = {
            "distributed.worker.daemon": False,
            "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
            **WORKER_PROCESS_CONFIG,
        }
        with dask.config.set(settings):
            if self.local_cluster is not None:
                from distributed import LocalCluster

                with (
                    LocalCluster(
                        n_workers=self.local_cluster,
                        threads_per_worker=1,
                        processes=True,
                        resources={UNIT_RESOURCE: 1},
                        host="127.0.0.1",
                        dashboard_address=None,
                    ) as cluster,
                    Client(cluster) as client,
                ):
                    yield client
                return
            try:
                client = Client(self.scheduler, timeout=f"{CONNECT_TIMEOUT_SECONDS}s")
            except (OSError, TimeoutError) as error:
                raise ClusterError(
                    f"cannot reach the Dask scheduler at {self.scheduler}: {error}; start one "
                    "with `dask scheduler` and workers with `cnnbench worker ADDRESS`"
                ) from None
            with client:
                yield client

    def _job_options(self) -> RunOptions:
        options = replace(self.options, quiet=True, only=(), resume=False)
        if self.local_cluster is None:
            options = replace(options, data_dir=None)  # remote workers use their own files
        elif options.threads is None:
            # N concurrent units share this machine's cores rather than each taking all
            from suite.timing import default_thread_count

            options = replace(options, threads=max(1, default_thread_count() // self.local_cluster))
        return options

    def _execution(self, client: Any) -> dict[str, Any]:
        return {
            "executor": self.executor,
            "scheduler": client.scheduler.address,
            "concurrent_units": self.local_cluster or 1,
        }

    # -- the loop ---------------------------------------------------------------------------
    def execute_units(
        self, units: list[Unit], done_keys: set[str], summary: RunSummary, overall: Any
    ) -> None:
        """Send every unit with runs still to do to the cluster; store records as they come."""
        from distributed import as_completed

        self.stored_keys = set(done_keys)
        todo: list[tuple[Unit, list[str]]] = []
        for unit in units:
            pending = [name for name in unit.engines if unit.keys[name] not in done_keys]
            for _ in range(len(unit.engines) - len(pending)):
                summary.already_stored += 1
                overall.update(1)
            if not pending:
                continue
            if unit.fingerprint == UNAVAILABLE_FINGERPRINT:
                # the driver has no data for it either: skipped (or failed) here, as locally
                self.run_unit(unit, done_keys, summary, overall)
                continue
            todo.append((unit, pending))
        if not todo:
            return
        with self.connect() as client:
            self.client = client
            if not limit_retries(client):
                self._say(
                    "warning: the scheduler's allowed-failures could not be set to 1; a unit "
                    "whose worker dies is retried as often as the scheduler allows"
                )
            self._note_workers(client)
            client.subscribe_topic(PROGRESS_TOPIC, self._on_progress)
            execution = self._execution(client)
            options = self._job_options()
            by_key: dict[str, tuple[Unit, list[str], float]] = {}
            futures = []
            for unit, pending in todo:
                job = UnitJob(unit, pending, options, execution, self.session)
                key = f"cnnbench-unit-{unit.cell.name}-seed{unit.seed}-{uuid.uuid4().hex[:8]}"
                future = client.submit(
                    run_unit_job, job, key=key, resources={UNIT_RESOURCE: 1}, pure=False
                )
                by_key[future.key] = (unit, pending, time.time())
                futures.append(future)
            self._progress = {"done": 0, "total": len(futures)}
            self._refresh(overall)
            completed = as_completed(futures)
            # the loop blocks until the next unit ends; meanwhile a ticker thread shows on
            # the bar what each worker does, once a second
            ticking = threading.Event()
            ticker = threading.Thread(
                target=self._tick, args=(overall, ticking), name="cnnbench-bar", daemon=True
            )
            ticker.start()
            try:
                for future in completed:
                    unit, pending, submitted = by_key[future.key]
                    self._collect(client, future, unit, pending, submitted, summary, overall)
                    self._progress["done"] += 1
                    self._refresh(overall, force=True)
            except KeyboardInterrupt:
                outstanding = [future for future in futures if not future.done()]
                with contextlib.suppress(Exception):
                    client.cancel(outstanding, force=True)
                raise
            finally:
                ticking.set()
                ticker.join(timeout=5)
                with contextlib.suppress(Exception):
                    client.unsubscribe_topic(PROGRESS_TOPIC)
                self.client = None
        self._say_overhead()

    def _tick(self, overall: Any, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            self._refresh(overall)

    def _note_workers(self, client: Any) -> None:
        counts = unit_workers_per_host(client)
        if not counts:
            self._say(
                f"no worker with the '{UNIT_RESOURCE}' resource is connected yet; units wait "
                "until `cnnbench worker ADDRESS` runs on a machine"
            )
            return
        shared = {host: count for host, count in counts.items() if count > 1}
        self._say(
            f"{sum(counts.values())} unit workers on {len(counts)} hosts"
            + (
                f"; {', '.join(f'{count} on {host}' for host, count in shared.items())}: "
                "units running at once on one machine share its cores, so their times are "
                "not comparable (the records say concurrent_units)"
                if shared
                else ""
            )
        )

    def _on_progress(self, event: Any) -> None:
        _, message = event
        if isinstance(message, dict) and message.get("session") == self.session:
            self.activity.update(message)
            self.on_progress(message)

    def on_progress(self, message: dict[str, Any]) -> None:
        """Called (in the client's thread) for every progress event of this session."""

    def _refresh(self, overall: Any, force: bool = False) -> None:
        """Units done, what each worker does, and the ETA, on the bar (at most 2/s)."""
        progress = getattr(self, "_progress", None)
        if progress is None or self.options.quiet:
            return
        with self._bar_lock:  # the loop and the ticker thread both refresh
            self._refresh_locked(overall, progress, force)

    def _refresh_locked(self, overall: Any, progress: dict[str, Any], force: bool) -> None:
        now = time.monotonic()
        if not force and now - progress.get("shown", 0.0) < 0.5:
            return
        progress["shown"] = now
        done, total = progress["done"], progress["total"]
        overall.set_description(f"matrix {self.matrix.name}: units {done}/{total}", refresh=False)
        postfix = self.activity.describe()
        seconds = [timing.unit_seconds for timing in self.unit_timings]
        with self.activity.lock:  # the client's thread adds workers as they report
            workers = max(1, len(self.activity.workers))
        if seconds and total > done:
            eta = statistics.mean(seconds) * (total - done) / workers
            postfix += (
                f" | eta {_format_seconds(eta)} ({len(seconds)} unit times, {workers} workers)"
            )
        overall.set_postfix_str(postfix, refresh=True)

    def _collect(
        self,
        client: Any,
        future: Any,
        unit: Unit,
        pending: list[str],
        submitted: float,
        summary: RunSummary,
        overall: Any,
    ) -> None:
        """Store what one finished (or failed) unit future brought."""
        received = time.time()
        if future.status == "finished":
            outcome = future.result()
            records = outcome["records"]
            concurrent = unit_workers_per_host(client).get(_host_of(outcome["worker"]), 1)
            timing = self._timing(unit, outcome, submitted, received)
            for record in records:
                execution = record.setdefault("execution", {})
                execution["concurrent_units"] = max(
                    execution.get("concurrent_units", 1), concurrent
                )
                execution["dispatch_seconds"] = timing.dispatch_seconds
                execution["return_seconds"] = timing.return_seconds
                _mark_concurrency(record)
            returned = {record.get("key") for record in records}
            missing = [name for name in pending if unit.keys[name] not in returned]
            if missing:  # a unit must account for every run it was given
                records += failed_unit_records(
                    self,
                    unit,
                    missing,
                    f"the unit returned no record for this run (worker {outcome['worker']})",
                )
            if not self.options.quiet:
                self._say(
                    f"unit {unit.label} done on {outcome['host']['hostname']} "
                    f"({outcome['worker_name']}) in {timing.unit_seconds:.1f} s"
                )
        else:
            records = failed_unit_records(self, unit, pending, self._failure_text(unit, future))
        for record in records:
            key = record.get("key")
            if key in self.stored_keys:
                self._say(f"warning: a second record for run {key[:12]} was not stored")
                continue
            self.stored_keys.add(key)
            self._store(record, summary)
            overall.update(1)
            self._report_line(record)

    def _timing(
        self, unit: Unit, outcome: dict[str, Any], submitted: float, received: float
    ) -> UnitTiming:
        previous = [t.finished for t in self.unit_timings if t.worker == outcome["worker"]]
        ready = max([submitted, *previous])  # the worker could take the unit from here on
        timing = UnitTiming(
            label=unit.label,
            worker=outcome["worker"],
            host=outcome["host"]["hostname"],
            submitted=submitted,
            started=outcome["started"],
            finished=outcome["finished"],
            received=received,
            unit_seconds=outcome["unit_seconds"],
            data_seconds=outcome["data_seconds"],
            engine_start_seconds=outcome["engine_start_seconds"],
            runs_seconds=outcome["runs_seconds"],
        )
        timing.dispatch_seconds = max(0.0, timing.started - ready)
        self.unit_timings.append(timing)
        return timing

    def _failure_text(self, unit: Unit, future: Any) -> str:
        from distributed import KilledWorker

        attempts = self.activity.attempts.get(unit.label, [])
        try:
            error = future.exception(timeout=5)
        except Exception as caught:  # cancelled: the scheduler lost it
            error = caught
        if isinstance(error, KilledWorker):
            where = "; ".join(attempts) or error.last_worker.address
            return (
                f"KilledWorker: the Dask worker running this unit died "
                f"{ALLOWED_FAILURES + 1} times (on {where}); the unit was given to another "
                "worker once. Rerun with --resume to retry it."
            )
        where = f" (on {attempts[-1]})" if attempts else ""
        return f"{type(error).__name__}: {error}{where}"

    def _say_overhead(self) -> None:
        summary = overhead_summary(self.unit_timings)
        if summary:
            self._say(summary)


def _mark_concurrency(record: dict[str, Any]) -> None:
    """Flag a record whose unit ran beside other units on one machine as ``contended``."""
    concurrent = (record.get("execution") or {}).get("concurrent_units", 1)
    if concurrent <= 1 or record.get("status") == "skipped":
        return
    reason = (
        f"{concurrent} units ran at once on this machine (one per Dask worker); "
        "their times are not comparable with other runs'"
    )
    previous = record.get("timing_quality_reason")
    record["timing_quality"] = "contended"
    record["timing_quality_reason"] = f"{previous}; {reason}" if previous else reason


def overhead_summary(timings: Sequence[UnitTiming]) -> str:
    """One line of medians: dispatch, data check, preparation, return; and cold starts.

    The first unit on each Dask worker also loads the data set and starts the engine
    workers (kept alive after); the medians are over the other ("warm") units, when there
    are any, and the cold costs are given apart.

    Parameters
    ----------
    timings : sequence of UnitTiming

    Returns
    -------
    str
        Empty without timings.
    """
    if not timings:
        return ""

    def median(values: list[float]) -> float:
        return statistics.median(values) if values else 0.0

    first: dict[str, UnitTiming] = {}
    for timing in sorted(timings, key=lambda t: t.started):
        first.setdefault(timing.worker, timing)
    cold = list(first.values())
    warm = [t for t in timings if all(t is not c for c in cold)] or list(timings)
    dispatch = median([t.dispatch_seconds or 0.0 for t in warm])
    data = median([t.data_seconds for t in warm])
    preparation = median([t.preparation_seconds for t in warm])
    returned = median([t.return_seconds for t in warm])
    total = dispatch + data + preparation + returned
    return (
        f"per-unit overhead, medians over {len(warm)} units: dispatch {dispatch:.3f} s, "
        f"data split check {data:.3f} s, preparation {preparation:.3f} s, result return "
        f"{returned:.3f} s; total {total:.3f} s. First unit on each of {len(cold)} Dask "
        f"workers: data load {median([t.data_seconds for t in cold]):.2f} s, engine worker "
        f"start-up {median([t.engine_start_seconds for t in cold]):.2f} s (all its engines)"
    )


def add_cluster_arguments(parser: Any) -> None:
    """Add ``--scheduler`` and ``--local-cluster`` to ``cnnbench run``'s parser."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the units on a Dask cluster (tcp://HOST:8786) whose workers were started "
        "with `cnnbench worker ADDRESS`; this process stores every record",
    )
    group.add_argument(
        "--local-cluster",
        type=int,
        default=None,
        metavar="N",
        help="run the units on a Dask LocalCluster of N worker processes on this machine "
        "(to try the cluster set-up: N>1 concurrent units make times not comparable)",
    )


def runner_for_arguments(matrix: Matrix, options: RunOptions, args: Any) -> MatrixRunner:
    """The local :class:`MatrixRunner`, or a :class:`ClusterRunner` for the Dask options."""
    scheduler = getattr(args, "scheduler", None)
    local_cluster = getattr(args, "local_cluster", None)
    if scheduler is None and local_cluster is None:
        return MatrixRunner(matrix, options)
    return ClusterRunner(matrix, options, scheduler=scheduler, local_cluster=local_cluster)


__all__ = [
    "ALLOWED_FAILURES",
    "PROGRESS_TOPIC",
    "UNIT_RESOURCE",
    "ClusterError",
    "ClusterRunner",
    "UnitCancelled",
    "UnitJob",
    "UnitRunner",
    "UnitTiming",
    "add_cluster_arguments",
    "overhead_summary",
    "run_unit_job",
    "runner_for_arguments",
    "stop_unit_runners",
    "unit_runner",
]
