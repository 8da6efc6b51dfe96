"""A standard competing load: N busy processes, each spinning one core.

Used to measure how the engines behave on a shared machine (``tools/slowdown.py``) and to
test contention flagging (``tests/suite/test_contention.py``). Each process runs a tight
loop (pure Python by default, or small NumPy matrix products with one BLAS thread) until
its time is up or it is killed, so it wants exactly one core, as a compile job or another
user's single-threaded script would. The processes are not pinned to cores: the
scheduler places them, as it would a real neighbour's work.

Command line::

    python tools/load_generator.py --processes 2 --seconds 60
    python tools/load_generator.py -n 1            # until Ctrl-C / SIGTERM

From Python::

    from load_generator import CompetingLoad   # (tools/ on sys.path)
    with CompetingLoad(processes=1):
        ...  # measure something beside one busy process
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from types import TracebackType

KINDS = ("python", "numpy")


def spin(seconds: float | None = None, kind: str = "python") -> int:
    """Keep one core busy for ``seconds`` (forever when None); return loop iterations.

    Parameters
    ----------
    seconds : float, optional
        How long to spin; until killed when omitted.
    kind : {"python", "numpy"}
        ``python``: integer arithmetic in the interpreter (no memory traffic to speak
        of). ``numpy``: 64x64 float64 matrix products with one BLAS thread (uses the
        vector units and the caches, as a numeric neighbour would).

    Returns
    -------
    int
        Iterations done (lets a test check that the loop really ran).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown load kind {kind!r}; expected one of {KINDS}")
    deadline = None if seconds is None else time.monotonic() + seconds
    iterations = 0
    if kind == "numpy":
        # One BLAS thread, set before NumPy loads, so the process wants one core only.
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = "1"
        import numpy as np

        a = np.random.default_rng(0).random((64, 64))
        while deadline is None or time.monotonic() < deadline:
            for _ in range(50):
                a = a @ a
                a *= 1.0 / (np.abs(a).max() + 1.0)  # keep the values finite
            iterations += 50
        return iterations
    value = 0
    while deadline is None or time.monotonic() < deadline:
        for i in range(10_000):
            value = (value + i * i) % 1_000_003
        iterations += 10_000
    return iterations


class CompetingLoad:
    """Start ``processes`` busy processes; stop them on :meth:`stop` or leaving ``with``.

    Parameters
    ----------
    processes : int
        Number of busy processes (each wants one core). 0 starts nothing.
    seconds : float, optional
        Each process stops by itself after this long (a safety net when the parent
        dies without stopping them); until stopped when omitted.
    kind : {"python", "numpy"}
        The loop each process runs (see :func:`spin`).
    settle_seconds : float, default 0.3
        Wait after starting, so the processes are running (and their imports done)
        before the caller measures anything.
    new_session : bool, default False
        Start the processes in a session of their own, as another terminal's or user's
        work would be. Where the kernel groups tasks by session for scheduling (Linux
        ``sched_autogroup_enabled``, on by default on desktops), another session's
        processes share the CPU with the caller's session as a group, not thread by
        thread, so a multi-threaded caller fares differently (see docs/performance.md).

    Examples
    --------
    >>> with CompetingLoad(processes=1, seconds=5) as load:
    ...     len(load.pids)
    1
    """

    def __init__(
        self,
        processes: int = 1,
        seconds: float | None = None,
        kind: str = "python",
        settle_seconds: float = 0.3,
        new_session: bool = False,
    ) -> None:
        if processes < 0:
            raise ValueError(f"processes is {processes}; expected 0 or more")
        if kind not in KINDS:
            raise ValueError(f"unknown load kind {kind!r}; expected one of {KINDS}")
        self.processes = processes
        self.seconds = seconds
        self.kind = kind
        self.settle_seconds = settle_seconds
        self.new_session = new_session
        self._children: list[subprocess.Popen] = []

    @property
    def pids(self) -> list[int]:
        """Process ids of the running busy processes."""
        return [child.pid for child in self._children if child.poll() is None]

    def describe(self) -> str:
        """A short description for records and logs, e.g. ``"1 busy python process"``."""
        plural = "es" if self.processes != 1 else ""
        return f"{self.processes} busy {self.kind} process{plural}"

    def start(self) -> CompetingLoad:
        """Start the processes (idempotent while they run) and return ``self``."""
        if self._children:
            return self
        command = [sys.executable, os.path.abspath(__file__), "--worker", "--kind", self.kind]
        if self.seconds is not None:
            command += ["--seconds", str(self.seconds)]
        for _ in range(self.processes):
            self._children.append(
                subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    start_new_session=self.new_session,
                )
            )
        if self.processes and self.settle_seconds > 0:
            time.sleep(self.settle_seconds)
        return self

    def stop(self) -> None:
        """Terminate the processes and wait for them (kill those that do not exit)."""
        for child in self._children:
            if child.poll() is None:
                child.terminate()
        for child in self._children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self._children.clear()

    def __enter__(self) -> CompetingLoad:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Start N busy processes (one core each) as a standard competing load."
    )
    parser.add_argument("-n", "--processes", type=int, default=1, help="busy processes (1)")
    parser.add_argument(
        "-t", "--seconds", type=float, default=None, help="stop after this long (default: never)"
    )
    parser.add_argument("--kind", choices=KINDS, default="python", help="loop to run (python)")
    parser.add_argument(
        "--new-session", action="store_true", help="run the processes in a session of their own"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parse(argv)
    if args.worker:
        # Exit quietly on SIGTERM/SIGINT: a stopped load is the normal end.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            spin(args.seconds, args.kind)
        except KeyboardInterrupt:
            pass
        return 0
    load = CompetingLoad(
        args.processes, args.seconds, args.kind, settle_seconds=0, new_session=args.new_session
    )
    load.start()
    print(f"{load.describe()} running: pids {load.pids}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while load.pids and (deadline is None or time.monotonic() < deadline + 1):
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        load.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
