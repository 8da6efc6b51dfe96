"""``cnnbench profile ARCH``: where one training step of scratch_cnn spends its time.

Prints one row per layer and part (forward, activation, pooling, weight and input
gradient, loss, optimizer update, data copy) with milliseconds, the share of the step and
the time of TensorFlow's equivalent op on the same shapes, then the whole step of scratch
and of the Keras twin on TensorFlow (see :mod:`suite.profile`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``profile`` arguments."""
    from suite.profile import DEFAULT_BATCH_SIZE, DEFAULT_OPTIMIZER

    parser.add_argument("architecture", metavar="ARCH", help="catalog architecture name")
    parser.add_argument(
        "--dataset",
        metavar="D",
        help="data set whose image shape and class count to use (random images of that "
        "shape); default: the architecture's reference data set",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help="default: %(default)s",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="threads for NumPy's BLAS and TensorFlow (default: all usable cores)",
    )
    parser.add_argument(
        "--optimizer",
        default=DEFAULT_OPTIMIZER,
        choices=("adam", "sgd", "catalog"),
        help="default: %(default)s (the speed matrix's); 'catalog' keeps the architecture's own",
    )
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds of timed steps (default: 3)"
    )
    parser.add_argument(
        "--steps", type=int, default=4, metavar="N", help="steps per round (default: 4)"
    )
    parser.add_argument(
        "--no-keras", action="store_true", help="skip the Keras twin and TensorFlow's ops"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Profile the architecture and print the table; returns the exit code."""
    from suite.catalog import UnknownArchitectureError, get_architecture
    from suite.timing import configure_threads, default_thread_count

    try:
        get_architecture(args.architecture)
    except UnknownArchitectureError as error:
        print(f"cnnbench profile: {error}", file=sys.stderr)
        return 2
    if args.batch_size < 1 or args.rounds < 1 or args.steps < 1:
        print("cnnbench profile: --batch-size, --rounds and --steps must be >= 1", file=sys.stderr)
        return 2
    threads = args.threads or default_thread_count()
    # Before anything imports TensorFlow: its thread pools are fixed when it starts.
    configure_threads(
        threads, keras_backend="tensorflow", configure_keras_backend=not args.no_keras
    )
    from suite.profile import profile_architecture

    result = profile_architecture(
        args.architecture,
        args.dataset,
        batch_size=args.batch_size,
        optimizer=None if args.optimizer == "catalog" else args.optimizer,
        dtype=args.dtype,
        rounds=args.rounds,
        steps_per_round=args.steps,
        with_keras=not args.no_keras,
        with_tensorflow_ops=not args.no_keras,
    )
    result.threads = threads
    print(result.format())
    if args.json is not None:
        args.json.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return 0
