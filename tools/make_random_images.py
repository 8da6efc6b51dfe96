"""Write a folder of random images in MNIST's IDX layout, for timing runs on any image shape.

The speed matrix (``matrices/speed.toml``) times the 32x32x3 architectures on random
images: how fast an engine trains does not depend on what the pixels show, and no
download is needed. The folder loads as the data set ``idx:PATH``
(``datasets.load_idx_directory``, see docs/datasets.md)::

    python tools/make_random_images.py results/random32x32x3            # 4,000 + 1,000
    python tools/make_random_images.py DIR --train 4000 --test 1000 --seed 0 --shape 32 32 3

It writes ``train-images-idx4-ubyte`` (``N x H x W x C`` uint8, or ``idx3`` for one
channel), ``train-labels-idx1-ubyte``, the ``t10k-*`` pair for the test images, and
``classes.txt``. Labels are balanced (each class within one image of ``N / classes``) and
shuffled; pixels are uniform on 0..255. The same arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

import numpy as np

IDX_UNSIGNED_BYTE = 0x08


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an uncompressed IDX file (magic, big-endian sizes, C-order data).

    Parameters
    ----------
    path : Path
    array : numpy.ndarray of uint8
    """
    if array.dtype != np.uint8:
        raise ValueError(f"{path}: IDX files here hold uint8 data, got {array.dtype}")
    header = bytes([0, 0, IDX_UNSIGNED_BYTE, array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    with open(path, "wb") as stream:
        stream.write(header)
        stream.write(np.ascontiguousarray(array).tobytes())


def random_images(
    count: int, shape: tuple[int, ...], num_classes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` uniform uint8 images of ``shape`` and balanced, shuffled labels.

    Returns
    -------
    images : numpy.ndarray (count, *shape) uint8
    labels : numpy.ndarray (count,) uint8
    """
    images = rng.integers(0, 256, size=(count, *shape), dtype=np.uint8)
    labels = rng.permutation(np.arange(count) % num_classes).astype(np.uint8)
    return images, labels


def make_random_images(
    directory: str | Path,
    *,
    train: int = 4000,
    test: int = 1000,
    shape: tuple[int, ...] = (32, 32, 3),
    num_classes: int = 10,
    seed: int = 0,
) -> Path:
    """Write the IDX folder (see the module docstring) and return its path.

    Parameters
    ----------
    directory : path-like
        Created if missing; existing files of the same names are replaced.
    train, test : int
        Image counts (``test=0`` writes no test pair: the split then draws one).
    shape : (H, W, C) or (H, W)
    num_classes : int
        Between 2 and 256 (labels are uint8).
    seed : int

    Returns
    -------
    Path
    """
    if not 2 <= num_classes <= 256:
        raise ValueError(f"num_classes is {num_classes}; expected 2..256 (labels are uint8)")
    if train < num_classes or test < 0:
        raise ValueError(
            f"--train {train} / --test {test}: expected at least one training image per "
            f"class ({num_classes}) and a non-negative test count"
        )
    if len(shape) == 3 and shape[2] == 1:
        shape = shape[:2]  # one channel: MNIST's own idx3 layout
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    dims = len(shape) + 1
    parts = [("train", train)] + ([("t10k", test)] if test else [])
    for prefix, count in parts:
        images, labels = random_images(count, shape, num_classes, rng)
        write_idx(directory / f"{prefix}-images-idx{dims}-ubyte", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", labels)
    names = "\n".join(f"class{label}" for label in range(num_classes))
    (directory / "classes.txt").write_text(names + "\n", encoding="utf-8")
    return directory


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="output folder (use as idx:DIRECTORY)")
    parser.add_argument("--train", type=int, default=4000, help="training images (4000)")
    parser.add_argument("--test", type=int, default=1000, help="test images (1000; 0: none)")
    parser.add_argument(
        "--shape", type=int, nargs="+", default=[32, 32, 3], help="H W [C] (32 32 3)"
    )
    parser.add_argument("--classes", type=int, default=10, help="number of classes (10)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if len(args.shape) not in (2, 3) or min(args.shape) < 1:
        parser.error(f"--shape takes H W or H W C (positive), got {args.shape}")
    try:
        path = make_random_images(
            args.directory,
            train=args.train,
            test=args.test,
            shape=tuple(args.shape),
            num_classes=args.classes,
            seed=args.seed,
        )
    except ValueError as error:
        parser.error(str(error))
    print(
        f"wrote {args.train} + {args.test} random {'x'.join(map(str, args.shape))} images: "
        f"idx:{path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
