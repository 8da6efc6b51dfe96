"""``cnnbench run MATRIX``: validate a benchmark matrix, then run it into a results store.

Exit codes: 0 when every run finished (success, diverged, skipped or already stored),
1 when a run failed, 2 for an invalid matrix or arguments, 130 after Ctrl-C (or
SIGTERM); in every case each finished run is already stored, whole, and ``--resume``
carries on where the run stopped.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from suite.builtin_matrices import resolve_matrix_path
from suite.matrix import MatrixError, load_matrix
from suite.results import RESULTS_FILE_NAME


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``run`` sub-command's arguments.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-parser to fill.
    """
    parser.add_argument(
        "matrix",
        help="the benchmark matrix: a TOML file, or a built-in name (quick, seeds, backends, "
        "speed)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results"),
        metavar="DIR",
        help=f"output folder; records are appended to DIR/{RESULTS_FILE_NAME} (default: results)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GLOB",
        help="run only cells whose 'experiment/dataset/architecture' or 'dataset/architecture' "
        "matches GLOB (repeatable), e.g. --only 'mnist/*' --only '*/lenet5'",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="skip runs already stored in DIR with status success or diverged (same key)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="threads for both engines (BLAS and the Keras backend); default: all usable cores",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default="cpu",
        help="where both engines run (gpu: CuPy for scratch_cnn, the backend's GPU for Keras)",
    )
    parser.add_argument(
        "--keras-backend",
        default=None,
        metavar="NAME",
        help="Keras backend: tensorflow, jax or torch (default: $KERAS_BACKEND or tensorflow)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="folder holding the data set files (default: $CNNBENCH_DATA, then the cache)",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="download absent data set files (checksum-verified); without it such cells "
        "are stored as skipped",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bars and no per-run lines"
    )
    parser.add_argument(
        "--thread-policy",
        choices=("auto", "size", "load", "off"),
        default="auto",
        help="scratch_cnn's BLAS threads: auto = fewer threads for small GEMMs and while other "
        "processes use the cores (docs/performance.md), off = always --threads",
    )
    parser.add_argument(
        "--inline",
        action="store_true",
        help="run every engine in this process instead of one worker process per engine "
        "(debugging only: no isolation, per-process peak memory, one Keras backend)",
    )
    # --scheduler ADDRESS / --local-cluster N (suite/run/cluster.py)
    from suite.run.cluster import add_cluster_arguments

    add_cluster_arguments(parser)


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    """Validate the matrix, run it, print a summary; return the exit code.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of :func:`configure_parser`.

    Returns
    -------
    int
        0, 1, 2 or 130 (see the module docstring).
    """
    import os

    # TensorFlow's C++ start-up chatter (CPU features, absent CUDA drivers) would bury the
    # progress bars; its Python errors still surface. An explicit setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from suite.run.cluster import ClusterError, runner_for_arguments
    from suite.run.driver import DeviceUnavailableError, RunOptions

    if args.threads is not None and args.threads < 1:
        print(f"cnnbench run: --threads is {args.threads}; expected 1 or more", file=sys.stderr)
        return 2
    try:
        matrix = load_matrix(resolve_matrix_path(args.matrix))
    except MatrixError as error:
        print(f"cnnbench run: {error}", file=sys.stderr)
        return 2
    options = RunOptions(
        out_dir=args.out,
        only=args.only,
        resume=args.resume,
        threads=args.threads,
        device=args.device,
        keras_backend=args.keras_backend,
        quiet=args.quiet,
        data_dir=args.data_dir,
        download=args.download,
        inline=args.inline,
        thread_policy=args.thread_policy,
    )
    try:  # the local executor, or the Dask one for --scheduler / --local-cluster
        runner = runner_for_arguments(matrix, options, args)
    except ClusterError as error:
        print(f"cnnbench run: {error}", file=sys.stderr)
        return 2
    if not runner.cells:
        print(
            f"cnnbench run: no cell of {args.matrix} matches --only {' '.join(args.only)}; "
            "patterns match 'experiment/dataset/architecture' or 'dataset/architecture'",
            file=sys.stderr,
        )
        return 2
    if not args.quiet:
        print(
            f"matrix {matrix.name}: {len(runner.cells)} cells, "
            f"{matrix.run_count(runner.cells)} runs -> {options.results_path}",
            file=sys.stderr,
        )
        if options.results_path.exists() and not args.resume:
            print(
                f"note: {options.results_path} exists; new records are appended to it "
                "(add --resume to skip the runs it already holds)",
                file=sys.stderr,
            )
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        summary = runner.run()
    except (DeviceUnavailableError, ClusterError) as error:
        print(f"cnnbench run: {error}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    counts = ", ".join(f"{count} {status}" for status, count in sorted(summary.stored.items()))
    stored_text = counts or "nothing new"
    line = (
        f"{stored_text} stored; {summary.already_stored} already stored; "
        f"{summary.seconds:.1f} s; results in {summary.results_path}"
    )
    if summary.interrupted:
        print(
            f"interrupted: {line}. Every finished run is stored; rerun with --resume to go on.",
            file=sys.stderr,
        )
        return 130
    if not args.quiet:
        print(line, file=sys.stderr)
    return 1 if summary.failed else 0
