"""``cnnbench validate``: prove, model by model, that scratch_cnn computes what Keras computes.

Builds each catalog architecture's Keras twin from the catalog's Keras-form config and runs
the checks of :mod:`keras_models.validate` on it (transfer, forward float32/float64,
gradients, 50 SGD and 50 Adam steps); one table row per architecture, written as Markdown
and JSON. ``--keras-backend`` picks the backend (it must be chosen before Keras is
imported, so the command sets it first). Exit code 1 when any check fails.
"""

from __future__ import annotations

import argparse
import os
import sys

from keras_models.validate import (
    BIG_ARCHITECTURE_BATCH_SIZE,
    DATASET_SHAPES,
    DEFAULT_BATCH_SIZE,
    DEFAULT_OUT,
    DEFAULT_STEPS,
    ParityRecord,
    make_inputs,
    markdown_table,
    validate_keras_model,
    validate_saved_model,
    write_reports,
)
from suite import catalog
from suite.engines import models


def validate_architecture(
    name: str,
    *,
    dataset: str | None = None,
    batch_size: int | None = None,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    data_dir: str | None = None,
) -> ParityRecord:
    """Validate one catalog architecture (see :func:`validate_keras_model`).

    The SGD steps use the architecture's own learning rate when its seed trains with SGD
    (else 0.01), the Adam steps its own Adam set-up (else Keras's defaults).
    """
    arch = catalog.get_architecture(name)
    dataset_name = dataset or arch.reference_dataset
    input_shape, num_classes = DATASET_SHAPES[dataset_name]
    batch_size = batch_size or BIG_ARCHITECTURE_BATCH_SIZE.get(name, DEFAULT_BATCH_SIZE)
    problems = catalog.check_input_shape(name, input_shape, num_classes)
    if problems:
        record = ParityRecord(name, dataset_name, input_shape, batch_size, steps)
        record.error = "; ".join(problems)
        return record
    hp = catalog.hyperparameters(name)
    batches, description = make_inputs(
        input_shape, num_classes, batch_size, steps, dataset_name, data_dir, seed
    )
    keras_model = models.build(name, "keras", input_shape, num_classes, seed=seed)
    adam = hp if hp.optimizer == "adam" else catalog.hyperparameters(name, learning_rate=1e-3)
    return validate_keras_model(
        keras_model,
        name=name,
        batches=batches,
        input_description=description,
        sgd_learning_rate=hp.learning_rate if hp.optimizer == "sgd" else 0.01,
        adam_config={
            "learning_rate": adam.learning_rate if hp.optimizer == "adam" else 1e-3,
            "beta_1": adam.beta_1 if hp.optimizer == "adam" else 0.9,
            "beta_2": adam.beta_2 if hp.optimizer == "adam" else 0.999,
            "epsilon": 1e-7,
        },
    )


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``validate`` arguments.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    """
    parser.add_argument(
        "--arch",
        dest="architectures",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="catalog architectures to validate (default: all 13)",
    )
    parser.add_argument(
        "--dataset",
        help="use this data set's image shape for every architecture (default: each "
        "architecture's own data set); real images when its files are readable",
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"directory for the JSON and Markdown tables (default {DEFAULT_OUT})",
    )
    parser.add_argument("--data-dir", help="directory with the data files (else CNNBENCH_DATA)")
    parser.add_argument(
        "--keras-model",
        dest="keras_models",
        action="append",
        default=[],
        metavar="PATH",
        help="also validate a saved Keras Sequential (.keras file)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        help=f"images per batch (default {DEFAULT_BATCH_SIZE}; 2 for vgg_b and vgg_c)",
    )
    parser.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help="SGD and Adam steps (default 50)"
    )
    parser.add_argument("--seed", type=int, default=0, help="weights and random images (0)")
    parser.add_argument(
        "--keras-backend",
        choices=("tensorflow", "jax", "torch"),
        default=None,
        help="the Keras backend to validate against (default: $KERAS_BACKEND or tensorflow)",
    )


def run(args: argparse.Namespace) -> int:
    """Validate and print the table; 0 when every check passes, 1 when one fails, 2 on misuse.

    Parameters
    ----------
    args : argparse.Namespace
        From the parser :func:`configure_parser` set up.

    Returns
    -------
    int
    """
    names = list(dict.fromkeys(args.architectures or []))
    if not names and not args.keras_models:
        names = catalog.architecture_names()
    unknown = [name for name in names if name not in catalog.ARCHITECTURES]
    if unknown:
        print(
            f"cnnbench validate: unknown architecture(s) {', '.join(unknown)}; the catalog "
            f"knows: {', '.join(catalog.architecture_names())}",
            file=sys.stderr,
        )
        return 2
    if args.dataset is not None and args.dataset not in DATASET_SHAPES:
        print(
            f"cnnbench validate: unknown data set {args.dataset!r}; expected one of "
            f"{', '.join(DATASET_SHAPES)}",
            file=sys.stderr,
        )
        return 2
    if args.steps < 1 or (args.batch_size is not None and args.batch_size < 1):
        print("cnnbench validate: --steps and --batch-size must be >= 1", file=sys.stderr)
        return 2
    # Full float32 on GPUs: no TF32 in cuBLAS/cuDNN, JAX matmuls at highest precision.
    os.environ.setdefault("NVIDIA_TF32_OVERRIDE", "0")
    os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")
    # JAX truncates float64 to float32 unless x64 is enabled before it is imported.
    os.environ.setdefault("JAX_ENABLE_X64", "true")
    if args.keras_backend is not None:
        if "keras" in sys.modules and sys.modules["keras"].backend.backend() != args.keras_backend:
            print(
                "cnnbench validate: Keras is already imported with another backend in this "
                "process; run the command in a fresh process",
                file=sys.stderr,
            )
            return 2
        os.environ["KERAS_BACKEND"] = args.keras_backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    backend = keras.backend.backend()
    records = []
    for name in names:
        record = validate_architecture(
            name,
            dataset=args.dataset,
            batch_size=args.batch_size,
            steps=args.steps,
            seed=args.seed,
            data_dir=args.data_dir,
        )
        records.append(record)
        print(f"{name}: {'pass' if record.passed else 'FAIL'} ({record.seconds:.0f} s)", flush=True)
    for path in args.keras_models:
        record = validate_saved_model(
            path,
            dataset=args.dataset,
            batch_size=args.batch_size,
            steps=args.steps,
            seed=args.seed,
            data_dir=args.data_dir,
        )
        records.append(record)
        print(f"{record.name}: {'pass' if record.passed else 'FAIL'}", flush=True)
    print()
    print(markdown_table(records, backend), end="")
    written = write_reports(records, args.out, backend)
    print("\nwritten: " + ", ".join(str(path) for path in written))
    return 0 if all(record.passed for record in records) else 1


__all__ = ["configure_parser", "run", "validate_architecture"]
