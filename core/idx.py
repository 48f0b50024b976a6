"""IDX decoding: one MNIST file's bytes (gzipped or raw) checked and turned into a uint8 array.

Everything a file can get wrong (empty, not gzip, a gzip bomb, wrong magic, wrong shape, truncated, labels
out of range) is a `DataError` naming the file and what is wrong.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

SIDE = 28
MAX_IDX_BYTES = 1_000_000 * SIDE * SIDE + 16  # a million digits: well above MNIST (60,000), far below a bomb


class DataError(Exception):
    """A data problem a user can fix: names the file, what is wrong and how to fix it."""


def parse_idx(data: bytes, name: str, magic: int) -> np.ndarray:
    """Decode one IDX file's bytes (gzipped or raw) into a read-only uint8 array; DataError if bad."""
    if name.endswith(".gz") and data[:2] != b"\x1f\x8b":
        raise DataError(f"{name}: not gzip-compressed although its name ends in .gz "
                        f"(first bytes {data[:4].hex() or 'none: the file is empty'})")
    ndim = 3 if magic == 2051 else 1
    header = 4 + 4 * ndim
    if data[:2] == b"\x1f\x8b":
        data = _gunzip_capped(data, name, header, ndim)
    if len(data) < header:
        raise DataError(f"{name}: truncated: {len(data)} bytes, shorter than the {header}-byte IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        kind = "images" if magic == 2051 else "labels"
        raise DataError(f"{name}: wrong magic number {found} (MNIST {kind} files start with {magic}); "
                        f"is this the right file?")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    if ndim == 3 and dims[1:] != [SIDE, SIDE]:
        raise DataError(f"{name}: images are {dims[1]}x{dims[2]}, MNIST images are {SIDE}x{SIDE}")
    expected = header + math.prod(dims)
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "too long"
        raise DataError(f"{name}: {what}: {len(data):,} bytes where the header ({' x '.join(map(str, dims))}) "
                        f"needs {expected:,}")
    arr = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
    if ndim == 1 and arr.size and int(arr.max()) > 9:
        raise DataError(f"{name}: label {int(arr.max())} is out of range 0-9")
    return arr


def _gunzip_capped(data: bytes, name: str, header: int, ndim: int) -> bytes:
    """Decompress no more than the IDX header promises (plus one byte to notice a file that is too long).

    A gzip bomb (a few kB that inflate to gigabytes) is refused after reading its header, not after
    inflating it all into memory; a header promising more than MAX_IDX_BYTES is refused outright.
    """
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = bytearray(inflater.decompress(data, header))
        if len(out) == header:
            dims = [int.from_bytes(out[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
            promised = header + math.prod(dims)
            if promised > MAX_IDX_BYTES:
                raise DataError(f"{name}: its header promises {promised:,} bytes ({' x '.join(map(str, dims))}), "
                                f"more than any MNIST-like file ({MAX_IDX_BYTES:,}); is this the right file?")
            out += inflater.decompress(inflater.unconsumed_tail, promised - header + 1)
            if len(out) > promised:
                return bytes(out)  # parse_idx names it "too long" with the sizes
    except zlib.error as e:
        raise DataError(f"{name}: damaged or truncated gzip data ({e})") from None
    if not inflater.eof:
        raise DataError(f"{name}: damaged or truncated gzip data (the compressed stream ends early)")
    return bytes(out)
