"""``python -m datasets KEY``: load a data set, split it, and say what was loaded.

Prints the images' shape, the split sizes and fingerprint, the class histogram of each
part, the source files with their checksums, the load time and the process's peak
memory: a quick check that a data directory holds what the benchmarks will use.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Sequence

from datasets.batches import PixelScaler
from datasets.errors import DatasetError
from datasets.registry import DATASET_NAMES, load_dataset
from datasets.splits import make_split


def _peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m datasets", description=__doc__.split("\n")[0])
    parser.add_argument("key", help=f"{', '.join(DATASET_NAMES)}, or idx:PATH")
    parser.add_argument("--data-dir", help="directory searched first for the files")
    parser.add_argument("--cache-dir", help="download cache (default: the user cache)")
    parser.add_argument("--no-download", action="store_true", help="never download")
    parser.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    parser.add_argument("--validation-size", type=float, help="count (>= 1) or fraction")
    args = parser.parse_args(argv)
    validation_size = args.validation_size
    if validation_size is not None and validation_size >= 1:
        validation_size = int(validation_size)

    rss_before = _peak_rss_mib()
    start = time.perf_counter()
    try:
        dataset = load_dataset(
            args.key,
            data_dir=args.data_dir,
            cache_dir=args.cache_dir,
            download=not args.no_download,
        )
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    load_seconds = time.perf_counter() - start
    rss_after_load = _peak_rss_mib()
    split = make_split(dataset, seed=args.seed, validation_size=validation_size)

    print(f"data set     {dataset.name}: {len(dataset)} images of {dataset.image_shape}, uint8")
    print(f"classes      {', '.join(dataset.class_names)}")
    for record in dataset.sources:
        print(f"source       {record.filename}  md5 {record.md5}  {record.size} bytes")
        print(f"             {record.path}")
    print(f"split        seed {split.seed}: {split.sizes}")
    print(f"fingerprint  {split.fingerprint}")
    for part in ("train", "validation", "test"):
        counts = dataset.class_counts(getattr(split, part)).tolist()
        print(f"{part:<12} {counts}")
    scaler = PixelScaler.standardize(dataset, split.train)
    means = (-scaler.offset / scaler.scale).round(3).tolist()
    deviations = (1 / scaler.scale).round(3).tolist()
    print(f"standardize  mean {means}, std {deviations} (training part)")
    print(f"load         {load_seconds:.3f} s; images {dataset.images.nbytes / 2**20:.1f} MiB")
    print(f"peak RSS     {rss_before:.0f} MiB before loading, {rss_after_load:.0f} MiB after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
