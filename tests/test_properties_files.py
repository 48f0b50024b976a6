"""Arbitrary input never gives a traceback: IDX files and both backends' checkpoints (hypothesis).

Each reader may only return a result or raise its documented error type: DataError for IDX data,
CheckpointError (a ValueError) for the handmade engine's JSON checkpoints, ValueError for Lightning's.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.backends.runbook import Position
from core.backends.scalar.checkpoint import CheckpointError, read_checkpoint, read_position
from core.config import TrainConfig
from core.idx import DataError, parse_idx

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONFIG = TrainConfig(input_size=7, hidden=(4,), epochs=2)
SIZES = CONFIG.layer_sizes


def idx_header(magic: int, dims: list[int]) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


@SETTINGS
@given(data=st.binary(max_size=200), magic=st.sampled_from([2049, 2051]), gz=st.booleans())
def test_any_bytes_are_an_idx_file_or_a_data_error(data, magic, gz):
    name = "f.gz" if gz else "f"
    try:
        parse_idx(gzip.compress(data) if gz else data, name, magic)
    except DataError:
        pass


@SETTINGS
@given(dims=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=3), tail=st.binary(max_size=64),
       magic=st.sampled_from([2049, 2051]), gz=st.booleans())
def test_any_header_is_read_or_refused_without_allocating_what_it_promises(dims, tail, magic, gz):
    raw = idx_header(magic, dims) + tail
    try:
        parse_idx(gzip.compress(raw) if gz else raw, "h.gz" if gz else "h", magic)
    except DataError:
        pass


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _check_scalar_checkpoint(body: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scalar.json"
        path.write_bytes(body)
        try:
            doc = read_checkpoint(path, SIZES)
            read_position(doc, CONFIG)
        except CheckpointError:
            pass


@SETTINGS
@given(body=st.binary(max_size=300))
def test_any_bytes_as_a_scalar_checkpoint_are_refused_cleanly(body):
    _check_scalar_checkpoint(body)


@SETTINGS
@given(progress=st.dictionaries(st.sampled_from(list(Position().to_dict()) + ["extra"]), JSON, max_size=10),
       version=st.sampled_from([1, 2, 3, "2", None]), parameters=JSON)
def test_any_json_as_a_scalar_checkpoint_is_refused_cleanly(progress, version, parameters):
    doc = {"format": "mnist-dash-scalar-checkpoint", "version": version, "layer_sizes": list(SIZES),
           "progress": progress, "parameters": parameters}
    _check_scalar_checkpoint(json.dumps(doc).encode())


@SETTINGS
@given(body=st.binary(max_size=300))
def test_any_bytes_as_a_lightning_checkpoint_are_refused_cleanly(body):
    pytest.importorskip("torch")
    from core.backends.lightning.checkpoint import load_checkpoint

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lightning.pt"
        path.write_bytes(body)
        with pytest.raises(ValueError):
            load_checkpoint(path, CONFIG.replace(backend="lightning"))


@SETTINGS
@given(progress=st.dictionaries(st.sampled_from(list(Position().to_dict())), JSON, max_size=10),
       saved=st.dictionaries(st.sampled_from(["input_size", "hidden", "epochs", "lr"]), JSON, max_size=4),
       honest_config=st.booleans())
def test_any_progress_or_config_in_a_lightning_checkpoint_is_refused_or_valid(progress, saved, honest_config):
    torch = pytest.importorskip("torch")
    from core.backends.lightning.checkpoint import load_checkpoint

    model = {"0.weight": torch.zeros(4, 49), "0.bias": torch.zeros(4), "2.weight": torch.zeros(10, 4),
             "2.bias": torch.zeros(10)}
    config = CONFIG.to_dict() if honest_config else saved
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lightning.pt"
        torch.save({"format": "mnist-dash-lightning/2", "config": config, "progress": progress, "model": model,
                    "optimizer": {}}, path)
        try:
            load_checkpoint(path, CONFIG.replace(backend="lightning"))
        except ValueError:
            pass
