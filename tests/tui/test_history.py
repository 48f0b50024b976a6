"""Unit tests for the bounded event history the dashboard and inspector read."""

from __future__ import annotations

from core.events import EpochEnded, LogLine, RunFinished, RunStarted, ScalarWatch, StepEnded
from tui.history import History, Series


def _started(run_id: str) -> RunStarted:
    return RunStarted(run_id=run_id, backend="scalar", device="cpu", data_source="sample", config={},
                      train_size=10, val_size=5, test_size=5)


def test_series_stays_bounded_and_ends_at_latest_point():
    s = Series(capacity=16)
    for i in range(1000):
        s.append(i, i * 2.0)
    assert len(s) <= 17
    xs, ys = s.points()
    assert xs[0] == 0 and xs[-1] == 999 and ys[-1] == 1998
    assert xs == sorted(xs)
    assert s.count == 1000


def test_history_rotates_runs_and_tracks_watches():
    h = History()
    h.add(_started("a"))
    h.add(StepEnded(run_id="a", step=1, epoch=1, loss=2.0, accuracy=0.1, samples_per_s=5, samples_seen=8,
                    progress=0.1))
    h.add(EpochEnded(run_id="a", epoch=1, step=1, train_loss=2, train_accuracy=0.1, val_loss=1.5,
                     val_accuracy=0.2, epoch_seconds=1))
    h.add(ScalarWatch(run_id="a", step=1, address="L0.N0.b", data=0.5, grad=0.1))
    h.add(ScalarWatch(run_id="a", step=2, address="L0.N0.b", data=0.4, grad=0.2))
    h.add(LogLine(run_id="a", level="info", message="hi"))
    h.add(RunFinished(run_id="a", reason="completed", steps=2, epochs_completed=1, seconds=1.0))
    run = h.current
    assert run is not None and run.status == "completed" and run.step == 1
    assert run.val_accuracy.last == (1, 0.2)
    assert abs(run.watches["L0.N0.b"].update - (-0.1)) < 1e-12
    assert run.watches["L0.N0.b"].grad.ys == [0.1, 0.2]
    h.add(_started("b"))
    assert h.previous is run and h.current.run_id == "b" and h.current.status == "running"
