"""MNIST: where the files come from (named folder, cache, download, embedded sample), splits, subsets, pooling.

Decoding one IDX file is core.idx (its DataError is this module's too).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np
import platformdirs

from core.idx import SIDE, DataError, parse_idx

ENV_VAR = "MNIST_DASH_DATA"
FILES = {  # role -> (standard file name, magic number)
    "train_images": ("train-images-idx3-ubyte", 2051),
    "train_labels": ("train-labels-idx1-ubyte", 2049),
    "test_images": ("t10k-images-idx3-ubyte", 2051),
    "test_labels": ("t10k-labels-idx1-ubyte", 2049),
}
SAMPLE_SOURCE = "embedded MNIST sample (10,000 train / 2,000 test)"
DOWNLOAD_HOST = ("ossci-datasets.s3.amazonaws.com", 443)  # torchvision's first mirror
FIX_DIR = ("pass --data-dir a directory holding the four MNIST IDX files (gzipped or raw), "
           "or leave --data-dir out to use the cache, a download or the embedded sample")
FIX_ENV = f"point {ENV_VAR} at a directory with the four MNIST IDX files, or unset {ENV_VAR}"
FIX_SAMPLE = "reinstall mnist-dash or regenerate the sample with `make sample`"


@dataclass(frozen=True, eq=False)
class Split:
    """One split: images as float32 rows in [0, 1] of length side*side, labels as int64."""

    images: np.ndarray  # (n, side*side) float32
    labels: np.ndarray  # (n,) int64

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True, eq=False)
class RawMnist:
    """The four IDX arrays as read (uint8), and where they came from."""

    train_images: np.ndarray  # (N, 28, 28) uint8
    train_labels: np.ndarray  # (N,) uint8
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # "embedded MNIST sample (10,000 train / 2,000 test)" or the directory
    is_sample: bool


@dataclass(frozen=True, eq=False)
class MnistData:
    """Train / validation / test splits ready for a backend."""

    train: Split
    val: Split
    test: Split
    side: int  # 28, 14 or 7
    source: str
    is_sample: bool


def _locate(directory: Path) -> dict[str, Path]:
    """Map each role to its file in DIR or torchvision's DIR/MNIST/raw; DataError when any is missing."""
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory" if directory.exists() else f"{directory}: does not exist")
    layouts = [directory, directory / "MNIST" / "raw"]

    def find(d: Path, base: str) -> Path | None:
        # The raw file is faster to read than the .gz; torchvision keeps both.
        return next((p for p in (d / base, d / f"{base}.gz") if p.is_file()), None)

    for d in layouts:
        found = {role: find(d, base) for role, (base, _) in FILES.items()}
        if any(found.values()):
            break
    else:
        raise DataError(f"{directory}: no MNIST IDX files ({', '.join(b for b, _ in FILES.values())}, "
                        f"each raw or .gz) in it or in its MNIST/raw subfolder")
    missing = [FILES[role][0] + "[.gz]" for role, p in found.items() if p is None]
    if missing:
        raise DataError(f"{d}: missing {', '.join(missing)}")
    return found  # type: ignore[return-value]


_CACHE: dict[tuple, dict[str, np.ndarray]] = {}
_CACHE_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget the arrays parsed so far in this process (benchmarks and tests)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _check_counts(arrays: dict[str, np.ndarray], names: dict[str, str]) -> None:
    for part in ("train", "test"):
        n_img, n_lab = len(arrays[f"{part}_images"]), len(arrays[f"{part}_labels"])
        if n_img == 0:  # an empty test split would report "0.00% (loss nan)" as if it had been tested
            raise DataError(f"{names[part + '_images']} holds no images; the {part} split needs at least one")
        if n_img != n_lab:
            raise DataError(f"{names[part + '_images']} holds {n_img:,} images but "
                            f"{names[part + '_labels']} holds {n_lab:,} labels")


def read_dir(directory: str | Path) -> dict[str, np.ndarray]:
    """Read and validate the four IDX files of a directory (cached by resolved path and mtime)."""
    paths = _locate(Path(directory).expanduser())
    try:
        key = tuple((str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size) for p in paths.values())
    except OSError as e:
        raise DataError(f"{e.filename}: cannot read ({e.strerror})") from None
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    arrays = {}
    for role, path in paths.items():
        try:
            data = path.read_bytes()
        except OSError as e:
            raise DataError(f"{path}: cannot read ({e.strerror})") from None
        arrays[role] = parse_idx(data, str(path), FILES[role][1])
    _check_counts(arrays, {role: str(p) for role, p in paths.items()})
    with _CACHE_LOCK:
        while len(_CACHE) >= 4:  # a few data sets at most; files rewritten in place must not pile up
            del _CACHE[next(iter(_CACHE))]
        _CACHE[key] = arrays
    return arrays


def read_sample() -> dict[str, np.ndarray]:
    """Read the embedded sample shipped in core/sample/."""
    with _CACHE_LOCK:
        if ("sample",) in _CACHE:
            return _CACHE[("sample",)]
    folder = resources.files("core") / "sample"
    arrays = {}
    for role, (base, magic) in FILES.items():
        name = f"{base}.gz"
        try:
            data = (folder / name).read_bytes()
        except OSError:
            raise DataError(f"embedded sample file core/sample/{name} is missing; {FIX_SAMPLE}") from None
        arrays[role] = parse_idx(data, f"core/sample/{name}", magic)
    _check_counts(arrays, {role: f"core/sample/{base}.gz" for role, (base, _) in FILES.items()})
    with _CACHE_LOCK:
        _CACHE[("sample",)] = arrays
    return arrays


# ---------------------------------------------------------------- sources


def cache_dir() -> Path:
    """The user cache directory for MNIST: $XDG_CACHE_HOME/mnist-dash/mnist or ~/.cache/mnist-dash/mnist on Linux."""
    return Path(platformdirs.user_cache_dir("mnist-dash", appauthor=False)) / "mnist"


def _online(timeout: float = 1.5) -> bool:
    """Whether the download mirror answers; a thread bounds DNS, which ignores socket timeouts."""
    ok: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(DOWNLOAD_HOST, timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 0.5)
    return bool(ok)


# When the mirror was unreachable (monotonic time): the TUI starts many runs, and re-probing before each
# would cost up to two seconds and repeat the same log line every time.
_offline_at: float | None = None
OFFLINE_RETRY_S = 600.0


def _download(cache: Path, say: Callable[[str], None]) -> bool:
    """Download MNIST with torchvision into a scratch folder, then move the .gz files into the cache."""
    global _offline_at
    if _offline_at is not None and time.monotonic() - _offline_at < OFFLINE_RETRY_S:
        return False
    if not _online():
        _offline_at = time.monotonic()
        say("offline: cannot reach the MNIST download mirror")
        return False
    try:
        import torchvision  # lazy: heavy, and only this path needs it
    except ImportError:
        say("torchvision is not installed: cannot download MNIST")
        return False
    say(f"downloading MNIST into {cache}")
    old_timeout = socket.getdefaulttimeout()
    scratch = None
    try:
        cache.mkdir(parents=True, exist_ok=True)
        for stale in cache.glob(".download-*"):  # left by a killed process; an hour old is surely dead
            if time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
        # A scratch folder on the same filesystem: a failed download never leaves half files in the cache.
        scratch = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
        if old_timeout is None:
            socket.setdefaulttimeout(30)  # torchvision's urlopen has no timeout: a stalled mirror would hang
        torchvision.datasets.MNIST(root=str(scratch), download=True)
        for base, _ in FILES.values():
            os.replace(scratch / "MNIST" / "raw" / f"{base}.gz", cache / f"{base}.gz")
        return True
    except Exception as e:  # noqa: BLE001 - any failure means: fall through to the sample
        detail = " ".join(str(e).split())  # torchvision's messages span lines, one per mirror
        say(f"MNIST download failed ({type(e).__name__}: {detail[:300]})")
        return False
    finally:
        socket.setdefaulttimeout(old_timeout)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _raw(arrays: dict[str, np.ndarray], source: str, is_sample: bool) -> RawMnist:
    return RawMnist(**arrays, source=source, is_sample=is_sample)


def find_and_load(
    data_dir: str | Path | None = None,
    *,
    announce: Callable[[str], None] | None = None,
    allow_download: bool = True,
) -> RawMnist:
    """Load from --data-dir, $MNIST_DASH_DATA, the user cache, a torchvision download, or the sample."""
    say = announce or (lambda _msg: None)
    # A directory the user named is never silently replaced by another source.
    for named, fix in ((data_dir, FIX_DIR), (os.environ.get(ENV_VAR), FIX_ENV)):
        if named is not None and str(named) != "":
            path = Path(named).expanduser()
            try:
                return _raw(read_dir(path), str(path), False)
            except DataError as e:
                raise DataError(f"{e}. Fix: {fix}") from None
    cache = cache_dir()
    if cache.is_dir() and any(not p.name.startswith(".") for p in cache.iterdir()):  # skip scratch dirs
        try:
            return _raw(read_dir(cache), str(cache), False)
        except DataError as e:
            say(f"ignoring the MNIST cache: {e} (delete {cache} to download again)")
    if allow_download and _download(cache, say):
        try:
            return _raw(read_dir(cache), str(cache), False)
        except DataError as e:
            say(f"the downloaded MNIST files are unusable: {e}")
    arrays = read_sample()
    n_train, n_test = len(arrays["train_labels"]), len(arrays["test_labels"])
    say(f"using the embedded MNIST sample: {n_train:,} train / {n_test:,} test")
    return _raw(arrays, f"embedded MNIST sample ({n_train:,} train / {n_test:,} test)", True)


# ---------------------------------------------------------------- splits


def _to_rows(images: np.ndarray, side: int) -> np.ndarray:
    """uint8 (n, 28, 28) -> float32 (n, side*side) in [0, 1], average-pooled by 28 // side."""
    n, f = len(images), SIDE // side
    x = images
    if f > 1:
        # Integer sums of strided slices (at most 16 * 255 fits uint16) are ~5x faster than
        # .mean(axis=(2, 4)) over the block axes; dividing afterwards keeps a full block exactly 1.0.
        cols = images.astype(np.uint16).reshape(n, SIDE, side, f)
        cols = sum((cols[..., i] for i in range(1, f)), cols[..., 0])
        rows = cols.reshape(n, side, f, side)
        x = sum((rows[:, :, i] for i in range(1, f)), rows[:, :, 0])
    x = x.astype(np.float32) / np.float32(255 * f * f)
    return np.ascontiguousarray(x.reshape(n, side * side))


def _split(images: np.ndarray, labels: np.ndarray, idx: np.ndarray, side: int) -> Split:
    return Split(images=_to_rows(images[idx], side), labels=labels[idx].astype(np.int64))


def prepare(
    raw: RawMnist,
    *,
    input_size: int = 28,
    seed: int = 0,
    train_subset: int = 0,
    val_subset: int = 0,
    test_subset: int = 0,
) -> MnistData:
    """Carve the seeded validation split, take subsets, normalise to [0, 1], average-pool to input_size."""
    if input_size not in (28, 14, 7):
        raise ValueError(f"input_size must be 28, 14 or 7, not {input_size}")
    for name, k in (("train_subset", train_subset), ("val_subset", val_subset), ("test_subset", test_subset)):
        if k < 0:
            raise ValueError(f"{name} must be >= 0 (0 = all), not {k}")
    n = len(raw.train_labels)
    perm = np.random.default_rng(seed).permutation(n)
    n_val = n // 12  # 60,000 -> 55,000 / 5,000 like the classic split
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    test_idx = np.arange(len(raw.test_labels))

    def first(idx: np.ndarray, k: int) -> np.ndarray:
        return idx[:k] if k else idx  # larger than the split = all of it

    return MnistData(
        train=_split(raw.train_images, raw.train_labels, first(train_idx, train_subset), input_size),
        val=_split(raw.train_images, raw.train_labels, first(val_idx, val_subset), input_size),
        test=_split(raw.test_images, raw.test_labels, first(test_idx, test_subset), input_size),
        side=input_size,
        source=raw.source,
        is_sample=raw.is_sample,
    )


def load_data(config, data_dir: str | Path | None = None, *, announce=None, allow_download: bool = True) -> MnistData:
    """find_and_load + prepare with the config's input_size, seed and subsets."""
    raw = find_and_load(data_dir, announce=announce, allow_download=allow_download)
    return prepare(
        raw,
        input_size=config.input_size,
        seed=config.seed,
        train_subset=config.train_subset,
        val_subset=config.val_subset,
        test_subset=config.test_subset,
    )
