"""Events: every type serialises to one JSON object with a "type" key and loads back equal."""

from __future__ import annotations

import json

import pytest

from core import events as ev
from core.config import TrainConfig

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
]


def test_every_event_type_is_sampled():
    assert {type(e).__name__ for e in SAMPLES} == set(ev.EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip(event):
    line = ev.to_json(event)
    assert "\n" not in line
    obj = json.loads(line)
    assert obj["type"] == type(event).__name__
    assert obj["run_id"] == "r"
    assert ev.from_json(line) == event


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
    text = "".join(ev.to_json(e) + "\n" for e in SAMPLES[:3])
    path.write_text(text + ev.to_json(SAMPLES[3])[:20])
    assert ev.read_jsonl(path) == SAMPLES[:3]
