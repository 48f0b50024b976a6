"""Events: every type serialises to one JSON object with a "type" key and loads back equal."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import events as ev
from core.config import TrainConfig
from core.records import jsonl as jl

SAMPLES = [
    ev.RunStarted(run_id="r", backend="scalar", device="cpu", data_source="embedded", config=TrainConfig().to_dict(),
                  train_size=10, val_size=2, test_size=3, total_steps=5, parameter_count=9),
    ev.StepEnded(run_id="r", step=3, epoch=1, loss=0.5, accuracy=0.25, samples_per_s=100.0, samples_seen=24,
                 progress=0.1),
    ev.EpochEnded(run_id="r", epoch=1, step=10, train_loss=0.4, train_accuracy=0.8, val_loss=0.5,
                  val_accuracy=0.7, epoch_seconds=1.5),
    ev.ScalarWatch(run_id="r", step=3, address="L0.N12.w345", data=0.1, grad=-0.02),
    ev.LayerGradStats(run_id="r", step=3, layer=0, mean=0.0, std=1.0, max_abs=2.0, histogram=(1, 2, 3),
                      histogram_edges=(-4.0, -3.0, -2.0, -1.0), dead_fraction=0.1, update_ratio=1e-3),
    ev.LogLine(run_id="r", level="warning", message="hello", source="lightning"),
    ev.RunFinished(run_id="r", reason="completed", steps=10, epochs_completed=1, seconds=2.0, test_loss=0.3,
                   test_accuracy=0.9),
    ev.RunFailed(run_id="r", error="boom", error_type="RuntimeError"),
    ev.Evaluation(run_id="r", step=10, epoch=1, split="val", loss=0.5, accuracy=0.75,
                  confusion=tuple(tuple(int(i == j) * 3 for j in range(10)) for i in range(10)),
                  precision=(1.0,) * 9 + (0.5,), recall=(0.25,) * 10, mistakes=((7, 9, 4, 0.875), (2, 1, 7, 0.5))),
    ev.LearningRateChanged(run_id="r", step=12, lr=0.01, previous=0.1, source="folder"),
    ev.ControlApplied(run_id="r", step=13, command="pause", source="dashboard"),
    ev.SystemStats(run_id="r", cpu_percent=150.0, rss_bytes=1 << 30, gpu_util=97.0, gpu_memory_bytes=5 << 30,
                   gpu_temperature_c=61.0, gpu_memory_total_bytes=140 << 30),
    ev.SystemStats(run_id="r", cpu_percent=0.0, rss_bytes=1),
]


def test_every_event_type_is_sampled():
    assert {type(e).__name__ for e in SAMPLES} == set(ev.EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip(event):
    line = jl.to_json(event)
    assert "\n" not in line
    obj = json.loads(line)
    assert obj["type"] == type(event).__name__
    assert obj["run_id"] == "r"
    assert jl.from_json(line) == event


def test_events_are_frozen_and_keyword_only():
    with pytest.raises(AttributeError):
        SAMPLES[1].step = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        ev.LogLine("r", 0.0, "info", "positional")  # type: ignore[misc]


def test_unknown_type_and_fields_are_rejected():
    with pytest.raises(ValueError, match="unknown event type"):
        ev.from_dict({"type": "Nope", "run_id": "r"})
    with pytest.raises(ValueError, match="unknown fields"):
        ev.from_dict({"type": "LogLine", "run_id": "r", "level": "info", "message": "m", "colour": "red"})


def test_read_jsonl_skips_a_torn_last_line(tmp_path):
    path = tmp_path / "events.jsonl"
    text = "".join(jl.to_json(e) + "\n" for e in SAMPLES[:3])
    path.write_text(text + jl.to_json(SAMPLES[3])[:20])
    assert jl.read_jsonl(path) == SAMPLES[:3]


def test_nested_tuples_come_back_as_tuples():
    evaluation = next(e for e in SAMPLES if isinstance(e, ev.Evaluation))
    back = jl.from_json(jl.to_json(evaluation))
    assert type(back.confusion) is tuple and type(back.confusion[3]) is tuple
    assert back.confusion[3][3] == 3 and back.confusion[3][4] == 0
    assert back.mistakes[0] == (7, 9, 4, 0.875) and type(back.mistakes[0]) is tuple
    assert hash(back) == hash(evaluation)  # only possible when no list is left inside


def test_non_finite_floats_round_trip_like_the_standard_library():
    step = ev.StepEnded(run_id="r", step=1, epoch=1, loss=float("inf"), accuracy=0.0, samples_per_s=0.0,
                        samples_seen=1, progress=0.0)
    line = jl.to_json(step)
    assert '"loss":Infinity' in line
    assert jl.from_json(line) == step
    nan = jl.from_json(jl.to_json(ev.ScalarWatch(run_id="r", step=1, address="loss", data=float("nan"), grad=0.0)))
    assert nan.data != nan.data
    finished = ev.RunFinished(run_id="r", reason="stopped", steps=3, epochs_completed=0, seconds=1.0)
    assert json.loads(jl.to_json(finished))["test_loss"] is None
    assert jl.from_json(jl.to_json(finished)) == finished


def test_missing_fields_and_non_objects_are_value_errors():
    with pytest.raises(ValueError, match=r"missing fields \['message'\]"):
        ev.from_dict({"type": "LogLine", "run_id": "r", "level": "info"})
    with pytest.raises(ValueError):
        jl.from_json("[1, 2]")
    with pytest.raises(ValueError):
        jl.from_json("[" * 100_000)


def test_read_jsonl_tolerates_foreign_bytes_blank_lines_and_junk(tmp_path):
    path = tmp_path / "events.jsonl"
    log = ev.LogLine(run_id="r", level="info", message="caf\u00e9")
    good = [jl.to_json(e).encode() for e in SAMPLES[:2]]
    broken_log = jl.to_json(log).encode().replace("\u00e9".encode(), b"\xff")
    path.write_bytes(b"\n".join([good[0], b"\xfe\xff\x00garbage", b"", broken_log, b"[1]", b"{}", good[1]]) + b"\n")
    events = jl.read_jsonl(path)
    assert events[0] == SAMPLES[0] and events[-1] == SAMPLES[1]
    assert len(events) == 3
    assert events[1].message == "caf\ufffd"  # the undecodable byte replaced, the line kept


def test_iter_jsonl_keeps_only_the_named_types(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(jl.to_json(e) + "\n" for e in SAMPLES))
    kept = list(jl.iter_jsonl(path, keep={"EpochEnded", "LogLine"}))
    assert [type(e).__name__ for e in kept] == ["EpochEnded", "LogLine"]


def test_lines_longer_than_a_chunk_are_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(jl, "CHUNK", 7)
    path = tmp_path / "events.jsonl"
    path.write_text("".join(jl.to_json(e) + "\n" for e in SAMPLES))
    assert jl.read_jsonl(path) == SAMPLES


def test_wrongly_typed_fields_are_refused():
    good = ev.to_dict(SAMPLES[1])
    with pytest.raises(ValueError, match=r"StepEnded.step: str is not int"):
        ev.from_dict({**good, "step": "3"})
    with pytest.raises(ValueError, match="StepEnded.loss"):
        ev.from_dict({**good, "loss": None})
    assert ev.from_dict({**good, "loss": 1}).loss == 1  # JSON may write a whole float as an integer
    assert jl.parse_line(json.dumps({**good, "epoch": [1]})) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_an_event_or_nothing(raw):
    assert jl.parse_line(raw) is None or isinstance(jl.parse_line(raw), ev.Event)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SAMPLES), st.dictionaries(st.text(max_size=12), json_values, max_size=4))
def test_damaged_events_load_or_raise_value_error(sample, changes):
    data = {**ev.to_dict(sample), **changes}
    try:
        event = ev.from_dict(data)
    except ValueError:
        return
    assert jl.from_json(jl.to_json(event)) == event or any(v != v for v in ev.to_dict(event).values()
                                                            if isinstance(v, float))


def test_numpy_scalars_from_a_backend_are_written_as_numbers():
    np = pytest.importorskip("numpy")
    step = ev.StepEnded(run_id="r", step=np.int64(3), epoch=1, loss=np.float64("nan"), accuracy=np.float32(0.25),
                        samples_per_s=1.0, samples_seen=2, progress=0.5)
    back = jl.from_json(jl.to_json(step))
    assert (back.step, back.accuracy, type(back.step)) == (3, 0.25, int) and back.loss != back.loss
    fast = jl.from_json(jl.to_json(ev.ScalarWatch(run_id="r", step=np.int64(1), address="loss", data=np.float32(2),
                                                  grad=0.5)))
    assert (fast.step, fast.data) == (1, 2.0)
