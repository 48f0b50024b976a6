"""Regenerate the embedded MNIST sample (core/sample/) from a directory of IDX files, then check it.

Usage: python scripts/make_sample.py [SOURCE_DIR]   (default: ../shared/data/mnist relative to the repo)
The sample is the first 10,000 training and the first 2,000 test images and labels, gzipped IDX with
mtime 0 so the bytes are reproducible.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from core.data import FILES, DataError, clear_cache, read_dir, read_sample  # noqa: E402

N_TRAIN, N_TEST = 10_000, 2_000
OUT = REPO / "core" / "sample"


def idx_bytes(arr: np.ndarray, magic: int) -> bytes:
    """Encode a uint8 array as IDX: big-endian magic, one 4-byte size per dimension, the data."""
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def main(argv: list[str] | None = None) -> int:
    """Write core/sample/*.gz from SOURCE_DIR and verify them against it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=str(REPO.parent / "shared" / "data" / "mnist"))
    args = parser.parse_args(argv)
    try:
        src = read_dir(args.source)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    counts = {"train": N_TRAIN, "test": N_TEST}
    OUT.mkdir(parents=True, exist_ok=True)
    total = 0
    for role, (base, magic) in FILES.items():
        part = src[role][: counts[role.split("_")[0]]]
        data = gzip.compress(idx_bytes(part, magic), compresslevel=9, mtime=0)
        (OUT / f"{base}.gz").write_bytes(data)
        total += len(data)
        print(f"{base}.gz  {part.shape}  {len(data):>9,} bytes  sha256 {hashlib.sha256(data).hexdigest()[:16]}")
    clear_cache()
    sample = read_sample()
    for role in FILES:
        want = src[role][: counts[role.split("_")[0]]]
        if not np.array_equal(sample[role], want):
            print(f"error: core/sample/{FILES[role][0]}.gz does not match the source", file=sys.stderr)
            return 1
    print(f"checked: the sample equals the first {N_TRAIN:,} train / {N_TEST:,} test of {args.source}; "
          f"{total / 1e6:.2f} MB in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
