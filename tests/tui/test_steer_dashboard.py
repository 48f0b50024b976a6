"""Steering from the dashboard: the learning-rate dialog, own-run commands in the record, L on an own run."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from scripted_trainer import ScriptedTrainer
from waiting import wait_for

from core.config import TrainConfig
from core.events import ControlApplied, LearningRateChanged, RunFinished, StepEnded
from core.records.jsonl import read_jsonl
from core.records.steer import SteerError
from tui.app import make_app
from tui.widgets.lr_control import LearningRateScreen, parse_lr

SIZE = (160, 48)
TINY = TrainConfig(hidden=(4,), input_size=7, train_subset=48, val_subset=16, test_subset=16, epochs=1,
                   batch_size=8)


@pytest.fixture(autouse=True)
def _no_torch_probe(monkeypatch):
    monkeypatch.setattr("tui.widgets.backend_switch.describe", lambda backend, device: "cpu")



def test_parse_lr():
    assert parse_lr(" 0.01 ") == 0.01 and parse_lr("10") == 10.0
    for bad in ("", "fast", "0", "-0.1", "nan", "inf", "10.5"):
        with pytest.raises(SteerError):
            parse_lr(bad)


async def test_lr_dialog_refuses_bad_values_and_cancels(tmp_path):
    app = make_app(runs_dir=tmp_path)
    results: list = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("L")  # no live run: a warning, no dialog
        await pilot.pause()
        assert not isinstance(app.screen, LearningRateScreen)
        app.push_screen(LearningRateScreen(0.05, "this run"), results.append)
        await pilot.pause()
        app.screen.query_one("#lr-input").value = "11"
        await pilot.press("enter")
        assert isinstance(app.screen, LearningRateScreen)
        assert "at most 10" in str(app.screen.query_one("#lr-error").content)
        await pilot.press("escape")
        await pilot.pause()
    assert results == [None]


async def test_own_run_commands_are_recorded_with_source_key_at_the_step_obeyed(tmp_path):
    trainer = ScriptedTrainer(steps_per_epoch=5000, delay=0.02)
    app = make_app(TINY, runs_dir=tmp_path / "runs", trainer_factory=lambda backend: trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.current is not None and app.history.current.step >= 3)
        await pilot.press("p")
        await pilot.pause(0.1)
        await pilot.press("p")
        await pilot.press("x")
        await wait_for(pilot, lambda: app.state == "stopped")
        run_dir = Path(app.history.current.started.run_dir)
        assert [c.command for c in app.controller.marks.controls] == ["pause", "resume", "stop"]
    events = read_jsonl(run_dir / "events.jsonl")
    assert [(e.command, e.source) for e in events if isinstance(e, ControlApplied)] == [
        ("pause", "key"), ("resume", "key"), ("stop", "key")]
    pause = next(i for i, e in enumerate(events) if isinstance(e, ControlApplied))
    last = [e.step for e in events[:pause] if isinstance(e, StepEnded)][-1]
    assert events[pause].step == last > 0  # the step the run held at, where its StepEnded events stop


async def test_L_changes_the_learning_rate_of_an_own_run(tmp_path, scripted_rates):
    # The scripted trainer (its run book takes the rate as a backend's does, tests/conftest.py): the handmade engine
    # in this process held the interpreter from the dashboard for seconds; backends obeying a rate change are
    # tests/test_backend_contract.py's.
    trainer = ScriptedTrainer(steps_per_epoch=5000, delay=0.02)
    app = make_app(TINY.replace(lr=0.05), runs_dir=tmp_path / "runs", trainer_factory=lambda backend: trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state == "running" and app.history.current.step > 0)
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, LearningRateScreen)
        app.screen.query_one("#lr-input").value = "0.02"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.controller.marks.lr == 0.02)
        await pilot.press("x")
        await wait_for(pilot, lambda: app.state == "stopped")
        run_dir = Path(app.history.current.started.run_dir)
    events = read_jsonl(run_dir / "events.jsonl")
    changes = [(e.lr, e.previous, e.source) for e in events if isinstance(e, LearningRateChanged)]
    assert changes == [(0.02, 0.05, "key")]
    assert isinstance(events[-1], RunFinished) and events[-1].reason == "stopped"


async def test_a_signal_stop_is_recorded_with_source_signal_then_the_app_exits(tmp_path):
    trainer = ScriptedTrainer(steps_per_epoch=5000, delay=0.02)
    app = make_app(TINY, runs_dir=tmp_path / "runs", trainer_factory=lambda backend: trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.current is not None and app.history.current.step >= 3)
        run_dir = Path(app.history.current.started.run_dir)
        app.signals.first(signal.SIGTERM)  # what the SIGTERM handler schedules on the app's loop
        assert app.state == "stopping"
        await wait_for(pilot, lambda: app.return_code is not None)
    assert app.return_value == 128 + signal.SIGTERM  # the CLI exits with what app.run() returns
    events = read_jsonl(run_dir / "events.jsonl")
    assert [(e.command, e.source) for e in events if isinstance(e, ControlApplied)] == [("stop", "signal")]
    assert [e.reason for e in events if isinstance(e, RunFinished)] == ["stopped"]
