"""``cnnbench worker tcp://HOST:8786``: a Dask worker the way the benchmark needs it.

One thread and the resource ``unit=1``: the worker holds one unit (every engine of one
cell and seed) at a time, and runs the unit's engines in engine worker processes of its
own, so with one ``cnnbench worker`` per machine no two units ever share a machine's
cores. A nanny process restarts the worker when it dies (the unit it held goes to another
worker once, see :mod:`suite.run.cluster`).

Data sets are read from this machine's files: ``--data-dir``, else ``CNNBENCH_DATA``, else
the cache; the driver checks every unit's split fingerprint against its own.

Exit codes: 0 after Ctrl-C or SIGTERM (or when the scheduler closes the worker), 2 for
bad arguments, 1 when the worker cannot start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import sys
from pathlib import Path
from typing import Any


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``worker`` sub-command's arguments.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-parser to fill.
    """
    parser.add_argument(
        "scheduler", metavar="ADDRESS", help="the Dask scheduler, e.g. tcp://10.0.0.1:8786"
    )
    parser.add_argument(
        "--name",
        default=None,
        help="the worker's name in progress lines (default: HOSTNAME-PID)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="folder of the data set files on this machine (default: $CNNBENCH_DATA, then "
        "the cache)",
    )
    parser.add_argument(
        "--no-nanny",
        action="store_true",
        help="run the worker in this process (no restart after a crash)",
    )
    parser.add_argument(
        "--local-directory",
        default=None,
        metavar="DIR",
        help="Dask's scratch folder (default: the system's temporary folder)",
    )


async def serve(
    scheduler: str,
    name: str,
    nanny: bool = True,
    local_directory: str | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run one unit worker until ``stop`` is set or the scheduler closes it.

    Parameters
    ----------
    scheduler : str
        Scheduler address.
    name : str
        Worker name.
    nanny : bool
        Start the worker in a process watched by a nanny (restarted when it dies).
    local_directory : str, optional
    stop : asyncio.Event, optional
        Set to close the worker (Ctrl-C, SIGTERM).
    """
    from distributed import Nanny, Worker

    from suite.run.cluster import UNIT_RESOURCE

    server_class: Any = Nanny if nanny else Worker
    server = server_class(
        scheduler,
        nthreads=1,
        resources={UNIT_RESOURCE: 1},
        name=name,
        local_directory=local_directory,
    )
    await server
    stop = stop or asyncio.Event()
    finished = asyncio.ensure_future(server.finished())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([finished, stopped], return_when=asyncio.FIRST_COMPLETED)
    for task in (finished, stopped):
        task.cancel()
    await server.close()


def run(args: argparse.Namespace) -> int:
    """Start the worker and serve until Ctrl-C; return the exit code.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of :func:`configure_parser`.

    Returns
    -------
    int
        0, 1 or 2 (see the module docstring).
    """
    try:
        import dask
        import distributed  # noqa: F401
    except ImportError:
        print(
            "cnnbench worker: needs the 'distributed' package; install it with "
            "pip install 'cnnbench[dask]'",
            file=sys.stderr,
        )
        return 1
    if "://" not in args.scheduler:
        print(
            f"cnnbench worker: {args.scheduler!r} is not an address like tcp://HOST:8786",
            file=sys.stderr,
        )
        return 2
    if args.data_dir is not None:
        data_dir = Path(args.data_dir).expanduser().resolve()
        if not data_dir.is_dir():
            print(f"cnnbench worker: --data-dir {data_dir} is not a folder", file=sys.stderr)
            return 2
        os.environ["CNNBENCH_DATA"] = str(data_dir)  # the worker process inherits it
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    name = args.name or f"{platform.node()}-{os.getpid()}"
    # The unit's engines run in child processes of the Dask worker process: Dask's default
    # daemonic worker processes may not have children.
    from suite.run.cluster import WORKER_PROCESS_CONFIG

    dask.config.set({"distributed.worker.daemon": False, **WORKER_PROCESS_CONFIG})

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(args.scheduler, name, not args.no_nanny, args.local_directory, stop)

    print(
        f"cnnbench worker {name}: 1 unit at a time for {args.scheduler}; Ctrl-C stops it",
        file=sys.stderr,
    )
    try:
        asyncio.run(main())
    except (OSError, TimeoutError) as error:
        print(f"cnnbench worker: {error}", file=sys.stderr)
        return 1
    return 0
