"""core.data and core.idx: IDX reader on crafted files, source order, embedded sample, splits, subsets, pooling."""

from __future__ import annotations

import gzip
import os
import sys
import tracemalloc
import types
import zlib
from pathlib import Path

import numpy as np
import pytest

from core import data
from core.data import DataError, RawMnist, find_and_load, prepare, read_dir, read_sample
from core.idx import parse_idx

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx(arr: np.ndarray, magic: int | None = None) -> bytes:
    """IDX bytes for a uint8 array (magic 2051 for 3-d, 2049 for 1-d unless given)."""
    magic = magic or (2051 if arr.ndim == 3 else 2049)
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape) + arr.tobytes()


def make_dir(d: Path, n_train: int = 24, n_test: int = 12, *, gz: bool = True, side: int = 28) -> Path:
    """Write four small valid IDX files whose pixels encode the image index, labels = index % 10."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n_train)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for role, arr in arrays.items():
        raw = idx(arr)
        if gz:
            (d / f"{NAMES[role]}.gz").write_bytes(gzip.compress(raw, mtime=0))
        else:
            (d / NAMES[role]).write_bytes(raw)
    return d


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real env var, an empty user cache, no parsed-array cache across tests."""
    monkeypatch.delenv("MNIST_DASH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(data, "_offline_at", None)
    data.clear_cache()
    yield
    data.clear_cache()


# ---------------------------------------------------------------- the IDX reader


@pytest.mark.parametrize("gz", [True, False])
def test_reads_good_files_gzipped_or_raw(tmp_path, gz):
    arrays = read_dir(make_dir(tmp_path / "d", gz=gz))
    assert arrays["train_images"].shape == (24, 28, 28) and arrays["train_images"].dtype == np.uint8
    assert arrays["test_labels"].tolist() == [i % 10 for i in range(12)]


def test_reads_torchvision_layout(tmp_path):
    make_dir(tmp_path / "root" / "MNIST" / "raw", gz=False)
    raw = find_and_load(tmp_path / "root", allow_download=False)
    assert raw.train_images.shape == (24, 28, 28) and not raw.is_sample


def test_missing_file_is_named(tmp_path):
    d = make_dir(tmp_path / "d")
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"missing t10k-labels-idx1-ubyte.*--data-dir"):
        find_and_load(d, allow_download=False)


def test_missing_directory(tmp_path):
    with pytest.raises(DataError, match="does not exist.*--data-dir"):
        find_and_load(tmp_path / "nope", allow_download=False)


def test_truncated_raw_file(tmp_path):
    d = make_dir(tmp_path / "d", gz=False)
    p = d / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: truncated"):
        read_dir(d)


def test_truncated_gzip_file(tmp_path):
    d = make_dir(tmp_path / "d")
    p = d / "train-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:-50])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: damaged or truncated gzip"):
        read_dir(d)


def test_non_gzip_with_gz_name(tmp_path):
    d = make_dir(tmp_path / "d")
    (d / "train-labels-idx1-ubyte.gz").write_bytes(b"<html>not found</html>")
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: not gzip-compressed"):
        read_dir(d)


def test_wrong_magic(tmp_path):
    d = make_dir(tmp_path / "d", gz=False)
    # A labels file where images belong.
    (d / "t10k-images-idx3-ubyte").write_bytes(idx(np.zeros(12, np.uint8)))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: wrong magic number 2049.*2051"):
        read_dir(d)


def test_wrong_dims(tmp_path):
    d = make_dir(tmp_path / "d")
    (d / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(np.zeros((24, 32, 32), np.uint8))))
    with pytest.raises(DataError, match=r"images are 32x32, MNIST images are 28x28"):
        read_dir(d)


def test_mismatched_counts(tmp_path):
    d = make_dir(tmp_path / "d")
    (d / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx(np.zeros(23, np.uint8))))
    with pytest.raises(DataError, match=r"holds 24 images but .*train-labels-idx1-ubyte.gz holds 23 labels"):
        read_dir(d)


def test_bad_label_value():
    with pytest.raises(DataError, match="label 12 is out of range"):
        parse_idx(idx(np.array([1, 12], np.uint8)), "labels", 2049)


def test_empty_and_header_only():
    with pytest.raises(DataError, match="empty"):
        parse_idx(b"", "x.gz", 2051)
    with pytest.raises(DataError, match="shorter than the 16-byte IDX header"):
        parse_idx(b"\0\0\x08\x03", "x", 2051)


# ---------------------------------------------------------------- sources


def test_source_order(tmp_path, monkeypatch):
    explicit = make_dir(tmp_path / "explicit", n_train=24)
    env = make_dir(tmp_path / "env", n_train=36)
    make_dir(data.cache_dir(), n_train=48)
    monkeypatch.setenv("MNIST_DASH_DATA", str(env))
    assert len(find_and_load(explicit, allow_download=False).train_labels) == 24
    assert len(find_and_load(allow_download=False).train_labels) == 36
    monkeypatch.delenv("MNIST_DASH_DATA")
    raw = find_and_load(allow_download=False)
    assert len(raw.train_labels) == 48 and raw.source == str(data.cache_dir())
    for p in data.cache_dir().iterdir():
        p.unlink()
    said: list[str] = []
    raw = find_and_load(announce=said.append, allow_download=False)
    assert raw.is_sample and said == ["using the embedded MNIST sample: 10,000 train / 2,000 test"]
    assert raw.source == "embedded MNIST sample (10,000 train / 2,000 test)"


def test_broken_env_raises_instead_of_falling_back(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DASH_DATA", str(tmp_path / "missing"))
    with pytest.raises(DataError, match="unset MNIST_DASH_DATA"):
        find_and_load(allow_download=False)


def test_broken_cache_is_announced_then_sample(tmp_path):
    d = make_dir(data.cache_dir())
    (d / "train-images-idx3-ubyte.gz").write_bytes(b"junk")
    said: list[str] = []
    assert find_and_load(announce=said.append, allow_download=False).is_sample
    assert "ignoring the MNIST cache" in said[0] and "not gzip-compressed" in said[0]


def test_offline_download_falls_through_to_sample(monkeypatch):
    monkeypatch.setattr(data, "_online", lambda timeout=1.5: False)
    said: list[str] = []
    assert find_and_load(announce=said.append).is_sample
    assert said[0].startswith("offline") and said[-1].startswith("using the embedded MNIST sample")


def test_offline_is_remembered_so_later_runs_do_not_probe_again(monkeypatch):
    probes: list[float] = []
    monkeypatch.setattr(data, "_online", lambda timeout=1.5: probes.append(timeout) or False)
    find_and_load()
    said: list[str] = []
    assert find_and_load(announce=said.append).is_sample
    assert len(probes) == 1 and not any(s.startswith("offline") for s in said)


def fake_torchvision(monkeypatch, fail: bool) -> None:
    """A torchvision whose MNIST writes valid files into ROOT/MNIST/raw, or half of them then fails."""

    def mnist(root: str, download: bool) -> None:
        raw = make_dir(Path(root) / "MNIST" / "raw", n_train=60)
        if fail:
            os.truncate(raw / "t10k-images-idx3-ubyte.gz", 10)
            raise RuntimeError("Error downloading t10k-images-idx3-ubyte.gz:\nconnection reset")

    module = types.SimpleNamespace(datasets=types.SimpleNamespace(MNIST=mnist))
    monkeypatch.setitem(sys.modules, "torchvision", module)
    monkeypatch.setattr(data, "_online", lambda timeout=1.5: True)


def test_download_moves_files_into_cache(monkeypatch):
    fake_torchvision(monkeypatch, fail=False)
    said: list[str] = []
    raw = find_and_load(announce=said.append)
    assert len(raw.train_labels) == 60 and raw.source == str(data.cache_dir())
    assert sorted(p.name for p in data.cache_dir().iterdir()) == sorted(f"{n}.gz" for n in NAMES.values())
    assert said[0].startswith("downloading MNIST into")


def test_failed_download_leaves_no_half_files(monkeypatch):
    fake_torchvision(monkeypatch, fail=True)
    said: list[str] = []
    assert find_and_load(announce=said.append).is_sample
    assert list(data.cache_dir().iterdir()) == []
    assert any("download failed (RuntimeError: Error downloading" in s for s in said)


# ---------------------------------------------------------------- sample and full set


def test_embedded_sample_is_real_mnist():
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not present")
    sample, full = read_sample(), read_dir(SHARED)
    n = {"train": 10_000, "test": 2_000}
    for role, arr in sample.items():
        assert np.array_equal(arr, full[role][: n[role.split("_")[0]]]), role


def test_full_set_from_read_only_shared_dir():
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not present")
    raw = find_and_load(SHARED, allow_download=False)
    assert raw.train_images.shape == (60_000, 28, 28) and raw.test_images.shape == (10_000, 28, 28)
    assert raw.source == str(SHARED) and not raw.is_sample
    assert find_and_load(SHARED, allow_download=False).train_images is raw.train_images  # parsed once


# ---------------------------------------------------------------- splits


def sample_raw() -> RawMnist:
    return find_and_load(allow_download=False)


def test_split_sizes_and_types():
    d = prepare(sample_raw())
    assert (len(d.train), len(d.val), len(d.test)) == (9_167, 833, 2_000)
    assert d.train.images.shape == (9_167, 784) and d.train.images.dtype == np.float32
    assert d.train.labels.dtype == np.int64 and d.side == 28 and d.is_sample
    assert d.source.startswith("embedded MNIST sample")
    assert 0.0 <= d.train.images.min() and d.train.images.max() <= 1.0 and d.train.images.max() == 1.0


def test_splits_deterministic_per_seed_and_disjoint():
    raw = sample_raw()
    a, b, c = prepare(raw, seed=1), prepare(raw, seed=1), prepare(raw, seed=2)
    assert np.array_equal(a.val.images, b.val.images) and np.array_equal(a.train.labels, b.train.labels)
    assert not np.array_equal(a.val.labels, c.val.labels)
    rows = {r.tobytes() for r in a.train.images}
    assert not any(r.tobytes() in rows for r in a.val.images)
    assert len(a.train) + len(a.val) == len(raw.train_labels)


def test_subsets():
    d = prepare(sample_raw(), seed=3, train_subset=100, val_subset=20, test_subset=30)
    assert (len(d.train), len(d.val), len(d.test)) == (100, 20, 30)
    full = prepare(sample_raw(), seed=3)
    assert np.array_equal(d.train.images, full.train.images[:100])
    assert len(set(d.train.labels.tolist())) == 10  # shuffled first: every digit is there
    big = prepare(sample_raw(), train_subset=10**6)
    assert len(big.train) == 9_167


def test_average_pooling_known_pattern():
    # Each 4x4 block of the 28x28 image holds one value: 7x7 pooling must return exactly those values.
    blocks = (np.arange(49, dtype=np.uint8) * 5).reshape(7, 7)
    img = np.kron(blocks, np.ones((4, 4), np.uint8))
    raw = RawMnist(train_images=np.stack([img] * 12), train_labels=np.zeros(12, np.uint8),
                   test_images=img[None], test_labels=np.zeros(1, np.uint8), source="t", is_sample=False)
    d7 = prepare(raw, input_size=7)
    assert d7.side == 7 and d7.test.images.shape == (1, 49)
    np.testing.assert_allclose(d7.test.images[0], blocks.ravel() / 255.0, rtol=1e-6)
    # A checkerboard averages to 0.5 everywhere at 14x14.
    checker = ((np.indices((28, 28)).sum(0) % 2) * 255).astype(np.uint8)
    raw14 = RawMnist(train_images=np.stack([checker] * 12), train_labels=np.zeros(12, np.uint8),
                     test_images=checker[None], test_labels=np.zeros(1, np.uint8), source="t", is_sample=False)
    d14 = prepare(raw14, input_size=14)
    assert d14.test.images.shape == (1, 196) and np.allclose(d14.test.images, 0.5)


def test_bad_prepare_arguments():
    with pytest.raises(ValueError, match="input_size"):
        prepare(sample_raw(), input_size=10)
    with pytest.raises(ValueError, match="train_subset"):
        prepare(sample_raw(), train_subset=-1)


@pytest.mark.parametrize("side", [14, 7])
def test_pooling_matches_block_mean_on_real_digits(side):
    raw = sample_raw()
    f = 28 // side
    d = prepare(raw, input_size=side, seed=5, train_subset=50)
    idx = np.random.default_rng(5).permutation(len(raw.train_labels))[len(raw.train_labels) // 12:][:50]
    ref = (raw.train_images[idx] / 255.0).reshape(50, side, f, side, f).mean(axis=(2, 4)).reshape(50, -1)
    np.testing.assert_allclose(d.train.images, ref, atol=1e-6)
    assert np.array_equal(d.train.labels, raw.train_labels[idx])


def test_directory_without_idx_files(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(DataError, match=r"d: no MNIST IDX files .* MNIST/raw subfolder\. Fix: pass --data-dir"):
        find_and_load(tmp_path / "d", allow_download=False)


# ---------------------------------------------------------------- hostile files (issue 14)


def test_mismatched_test_counts(tmp_path):
    d = make_dir(tmp_path / "d")
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx(np.zeros(11, np.uint8))))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz holds 12 images but .*holds 11 labels"):
        read_dir(d)


def test_empty_test_file_is_an_error_not_an_untested_run(tmp_path):
    d = make_dir(tmp_path / "d")
    (d / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(np.zeros((0, 28, 28), np.uint8))))
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx(np.zeros(0, np.uint8))))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz holds no images; the test split needs at least"):
        read_dir(d)


def _bomb(header: bytes, inflated: int) -> bytes:
    """A gzip stream of `header` followed by `inflated` zero bytes, built without holding them in memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    parts = [packer.compress(header)]
    for _ in range(inflated >> 20):
        parts.append(packer.compress(chunk))
    parts.append(packer.flush())
    return b"".join(parts)


def test_gzip_bomb_is_refused_without_inflating_it():
    header = (2049).to_bytes(4, "big") + (10).to_bytes(4, "big")  # promises 10 labels
    bomb = _bomb(header, 256 << 20)  # 256 MiB of zeros in about 250 kB
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"too long: 19 bytes where the header \(10\) needs 18"):
            parse_idx(bomb, "bomb.gz", 2049)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20  # never more than a few MB, against 256 MiB for gzip.decompress


def test_header_promising_gigabytes_is_refused():
    header = (2051).to_bytes(4, "big") + (4_000_000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    with pytest.raises(DataError, match=r"promises 3,136,000,016 bytes"):
        parse_idx(gzip.compress(header), "big.gz", 2051)


def test_exact_gzip_still_reads_and_truncated_stream_is_named():
    raw = idx(np.arange(10, dtype=np.uint8) % 10)
    assert parse_idx(gzip.compress(raw), "ok.gz", 2049).tolist() == list(range(10))
    with pytest.raises(DataError, match="damaged or truncated gzip data"):
        parse_idx(gzip.compress(raw)[:-12], "cut.gz", 2049)


def test_cache_dir_follows_xdg(tmp_path):
    assert data.cache_dir() == tmp_path / "xdg" / "mnist-dash" / "mnist"
