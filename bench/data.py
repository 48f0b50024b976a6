"""Time reading the full gzipped MNIST set (and preparing splits). Usage: python bench/data.py [DIR]."""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from core.data import clear_cache, find_and_load, prepare, read_sample  # noqa: E402


def timed(fn, repeat: int = 3) -> float:
    """Best of `repeat` cold calls (the in-process cache cleared before each), in seconds."""
    best = float("inf")
    for _ in range(repeat):
        clear_cache()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    """Print seconds for the full load, a cached load, the sample load and prepare at each size."""
    src = sys.argv[1] if len(sys.argv) > 1 else str(REPO.parent / "shared" / "data" / "mnist")
    full = timed(lambda: find_and_load(src, allow_download=False))
    raw = find_and_load(src, allow_download=False)
    t = time.perf_counter()
    find_and_load(src, allow_download=False)
    cached = time.perf_counter() - t
    print(f"full gzipped load ({src}): {full:.3f} s  (60,000 + 10,000 images; best of 3)")
    print(f"same load again, in-process cache: {cached * 1e3:.2f} ms")
    print(f"embedded sample load: {timed(read_sample):.3f} s")
    for size in (28, 14, 7):
        print(f"prepare(input_size={size}) on the full set: {timed(lambda s=size: prepare(raw, input_size=s)):.3f} s")


if __name__ == "__main__":
    main()
