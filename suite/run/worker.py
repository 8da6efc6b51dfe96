"""The worker process of one engine spec, and the driver's handle on it.

The driver starts one long-lived worker per engine spec of a matrix (``spawn``: a fresh
interpreter, so the Keras backend is chosen before Keras is imported and a scratch worker
never loads TensorFlow, Keras, JAX or torch). A worker sets up its engine once, reports
its environment and its RSS after imports (the baseline), then runs one task at a time:

    driver -> worker   ("run", RunTask) | ("stop", None)
    worker -> driver   ("ready", info) | ("startup_failed", text)
                       ("epoch", {"epoch", "loss", "accuracy"}) | ("result", dict)

A worker that dies (a signal, the OOM killer, a crash in a native library) closes its end
of the pipe; the handle turns that into a :class:`WorkerDied` naming the signal or exit
code, and the driver stores the run as ``failed`` and starts a fresh worker for the next.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: engine libraries whose presence in a worker is reported (a scratch worker loads none)
ENGINE_LIBRARIES = ("tensorflow", "keras", "jax", "torch", "cupy")


class WorkerDied(RuntimeError):
    """The worker process ended while it held a run; ``exitcode`` and ``signal`` say how."""

    def __init__(self, spec: str, exitcode: int | None, pid: int | None) -> None:
        self.exitcode = exitcode
        self.signal = None
        if exitcode is not None and exitcode < 0:
            try:
                self.signal = signal.Signals(-exitcode).name
            except ValueError:
                self.signal = f"signal {-exitcode}"
        how = (
            f"killed by {self.signal}"
            if self.signal
            else f"exit code {exitcode}"
            if exitcode is not None
            else "ended"
        )
        super().__init__(
            f"the {spec} worker process (pid {pid}) died during the run: {how}. Other runs "
            "go on in a fresh worker; rerun with --resume to retry this one."
        )

    def as_record(self) -> dict[str, Any]:
        """``{"exitcode", "signal"}`` for the failed record."""
        return {"exitcode": self.exitcode, "signal": self.signal}


class WorkerStartupError(RuntimeError):
    """A worker could not set its engine up (missing library, bad backend...)."""


@dataclass
class WorkerConfig:
    """How every worker of a matrix is set up."""

    threads: int | None = None
    data_dir: str | None = None
    download: bool = False
    device: str = "cpu"
    extra_environment: dict[str, str] = field(default_factory=dict)


def worker_environment(engine: Any, thread_settings: dict[str, Any], device: str) -> dict:
    """The environment block of a worker (machine, libraries, threads, engine)."""
    from suite.environment import environment_block
    from suite.timing import ThreadSettings

    settings = ThreadSettings(**thread_settings)
    block = environment_block(settings, device, settings.keras_backend)
    block.update(engine.environment())
    block["engine"] = engine.name
    block["engine_libraries_loaded"] = sorted(
        name for name in ENGINE_LIBRARIES if name in sys.modules
    )
    return block


def _end_with_the_driver() -> None:
    """Ask Linux to send this worker SIGTERM when the driver dies (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:  # no glibc: the worker still ends when its pipe closes
        pass


def worker_main(connection: Any, spec: str, config: WorkerConfig) -> None:
    """Body of a worker process: set the engine up, then run tasks until told to stop.

    Parameters
    ----------
    connection : multiprocessing.connection.Connection
        The worker's end of the pipe.
    spec : str
        Canonical engine spec.
    config : WorkerConfig
    """
    # Ctrl-C goes to the whole process group: the driver decides what stops, and when.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_the_driver()
    os.environ.update(config.extra_environment)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        from suite.engines.base import create_engine
        from suite.run.data import DataCache
        from suite.run.training import execute_run, failure_text
        from suite.timing import current_rss_bytes

        engine = create_engine(spec)
        thread_settings = engine.setup(config.threads)
        environment = worker_environment(engine, thread_settings, config.device)
        # what every run imports (data loaders, metrics, scikit-learn's digits loader with
        # SciPy) belongs to the baseline too, so a run's peak over the baseline is what the
        # run itself used
        import sklearn.datasets  # noqa: F401

        import datasets  # noqa: F401
        import suite.metrics  # noqa: F401

        baseline = current_rss_bytes()
    except Exception as error:  # reported to the driver, which fails this engine's runs
        import traceback

        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        connection.send(("startup_failed", text))
        return
    connection.send(
        (
            "ready",
            {"environment": environment, "baseline_rss_bytes": baseline, "pid": os.getpid()},
        )
    )
    cache = DataCache(config.data_dir, config.download)
    while True:
        try:
            kind, payload = connection.recv()
        except (EOFError, OSError):
            return
        if kind == "stop":
            return
        try:
            result = execute_run(
                engine,
                payload,
                cache,
                progress=lambda info: connection.send(("epoch", info)),
                threads=thread_settings.get("threads"),
            )
        except Exception as error:  # execute_run catches run failures; this is a last resort
            result = {"status": "failed", "error": failure_text(error)}
        connection.send(("result", result))


class WorkerProcess:
    """The driver's handle on one engine's worker process.

    Parameters
    ----------
    spec : str
        Canonical engine spec.
    config : WorkerConfig
    """

    def __init__(self, spec: str, config: WorkerConfig) -> None:
        self.spec = spec
        self.config = config
        self.process: Any = None
        self.connection: Any = None
        self.info: dict[str, Any] = {}

    @property
    def alive(self) -> bool:
        """Whether the process is started and running."""
        return self.process is not None and self.process.is_alive()

    @property
    def pid(self) -> int | None:
        """The worker's process id (None before it starts)."""
        return None if self.process is None else self.process.pid

    def start(self) -> dict[str, Any]:
        """Start the process and wait until its engine is set up.

        Returns
        -------
        dict
            ``environment``, ``baseline_rss_bytes``, ``pid``.

        Raises
        ------
        WorkerStartupError
            With the worker's own error (e.g. a missing backend and its pip extra).
        """
        from suite.engines.base import MissingEngineError, check_engine_available
        from suite.engines.spec import parse_engine_spec

        try:  # in the driver: a missing library is named before a process is spent on it
            check_engine_available(parse_engine_spec(self.spec))
        except MissingEngineError as error:
            raise WorkerStartupError(str(error)) from None
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self.process = context.Process(
            target=worker_main,
            args=(child, self.spec, self.config),
            name=f"cnnbench-{self.spec}",
            daemon=True,
        )
        self.process.start()
        child.close()  # so that the worker's death shows as EOF on our end
        self.connection = parent
        try:
            kind, payload = self.connection.recv()
        except (EOFError, OSError):
            self.process.join(timeout=5)
            raise WorkerStartupError(
                f"the {self.spec} worker died while starting (exit code {self.process.exitcode})"
            ) from None
        if kind == "startup_failed":
            self.stop()
            raise WorkerStartupError(f"the {self.spec} worker could not start: {payload}")
        self.info = payload
        return payload

    def run(
        self, task: Any, on_epoch: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        """Send one task and wait for its result, passing epoch reports to ``on_epoch``.

        Raises
        ------
        WorkerDied
            When the process ends before it returns the result.
        """
        if not self.alive:
            self.start()
        try:
            self.connection.send(("run", task))
            while True:
                kind, payload = self.connection.recv()
                if kind == "epoch":
                    if on_epoch is not None:
                        on_epoch(payload)
                    continue
                return payload
        except (EOFError, OSError, BrokenPipeError):
            pid = self.pid
            self.process.join(timeout=10)
            exitcode = self.process.exitcode
            self._discard()
            raise WorkerDied(self.spec, exitcode, pid) from None

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the worker to finish; terminate it when it does not."""
        if self.process is None:
            return
        try:
            if self.process.is_alive():
                self.connection.send(("stop", None))
        except (OSError, BrokenPipeError):
            pass
        self.process.join(timeout=timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
        self._discard()

    def kill(self) -> None:
        """End the worker at once (Ctrl-C on the driver)."""
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self._discard()

    def _discard(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = None
        self.process = None


class InlineWorker:
    """Runs an engine in the driver's own process, with the worker's interface.

    For tests and debugging (``cnnbench run --inline``): no isolation, no per-engine peak
    memory, but no start-up cost either.

    Parameters
    ----------
    engine : Engine
        An engine object (set up on start).
    config : WorkerConfig
    """

    def __init__(self, engine: Any, config: WorkerConfig) -> None:
        self.engine = engine
        self.spec = engine.name
        self.config = config
        self.info: dict[str, Any] = {}
        self._cache: Any = None
        self._threads: int | None = None

    @property
    def alive(self) -> bool:
        """Whether the engine is set up."""
        return bool(self.info)

    def start(self) -> dict[str, Any]:
        """Set the engine up in this process; return the worker info."""
        from suite.run.data import DataCache
        from suite.timing import current_rss_bytes

        thread_settings = self.engine.setup(self.config.threads)
        self._threads = thread_settings.get("threads")
        self._cache = DataCache(self.config.data_dir, self.config.download)
        self.info = {
            "environment": worker_environment(self.engine, thread_settings, self.config.device),
            "baseline_rss_bytes": current_rss_bytes(),
            "pid": os.getpid(),
        }
        return self.info

    def run(
        self, task: Any, on_epoch: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        """Run one task in this process."""
        from suite.run.training import execute_run

        if not self.alive:
            self.start()
        return execute_run(self.engine, task, self._cache, on_epoch, self._threads)

    def stop(self, timeout: float = 10.0) -> None:
        """Nothing to stop."""

    def kill(self) -> None:
        """Nothing to kill."""
