"""Pilot tests of the dashboard: a scripted trainer for the controls, the real scalar backend end to end."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from scripted_trainer import ScriptedTrainer  # noqa: E402
from textual.widgets import Input, Static
from waiting import wait_for  # noqa: E402

from core.config import TrainConfig
from tui.app import make_app

ROOT = Path(__file__).resolve().parents[2]
SIZE = (140, 40)
TINY = TrainConfig(hidden=(4,), input_size=7, train_subset=48, val_subset=16, test_subset=16, epochs=1,
                   batch_size=8)


@pytest.fixture(autouse=True)
def _no_torch_probe(monkeypatch):
    """Switching to Lightning probes the device by importing torch; tests don't pay for that."""
    monkeypatch.setattr("tui.widgets.backend_switch.describe", lambda backend, device: "cpu")



def scripted_app(tmp_path, trainer: ScriptedTrainer, config: TrainConfig = TINY, **kw):
    return make_app(config, runs_dir=tmp_path / "runs", trainer_factory=lambda backend: trainer, **kw)


async def test_start_pause_resume_stop_with_scripted_trainer(tmp_path):
    gate = threading.Event()
    trainer = ScriptedTrainer(steps_per_epoch=2000, gate=gate, delay=0.01)
    app = scripted_app(tmp_path, trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state == "running")
        assert app.form.disabled and app.switch.disabled
        gate.set()
        await wait_for(pilot, lambda: app.history.current and app.history.current.step >= 3)
        await pilot.press("p")
        assert app.state == "paused" and app.control.user_paused
        assert str(app.query_one("#pause-button").label) == "Resume (p)"
        await pilot.pause(0.2)
        paused_at = app.history.current.step
        await pilot.pause(0.2)
        assert app.history.current.step <= paused_at + 1  # at most the step in flight
        await pilot.press("p")
        assert app.state == "running" and not app.control.user_paused
        await pilot.press("x")
        await wait_for(pilot, lambda: app.state == "stopped")
        assert not app.form.disabled
        run_dir = Path(app.history.current.started.run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reason"] == "stopped"
    assert (run_dir / "events.jsonl").is_file() and (run_dir / "config.json").is_file()


async def test_invalid_input_is_named_inline_and_start_refused(tmp_path):
    app = scripted_app(tmp_path, ScriptedTrainer())
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#cfg-lr", Input).value = "fast"
        app.query_one("#cfg-hidden", Input).value = "64,0"
        await pilot.pause()
        lr_error = str(app.query_one("#err-lr", Static).render())
        assert "fast" in lr_error and "not a number" in lr_error
        assert app.query_one("#err-hidden", Static).display
        await pilot.press("s")
        await pilot.pause()
        assert app.state == "idle" and app.control is None
        app.query_one("#cfg-lr", Input).value = "0.1"
        app.query_one("#cfg-hidden", Input).value = "8"
        await pilot.pause()
        assert app.form.config is not None and app.form.config.lr == 0.1
        assert not app.query_one("#err-lr", Static).display


async def test_multi_device_is_refused_with_a_clear_message(tmp_path):
    app = scripted_app(tmp_path, ScriptedTrainer(), config=TINY.replace(backend="lightning"))
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#cfg-devices", Input).value = "2"
        await pilot.pause()
        message = str(app.query_one("#err-devices", Static).render())
        assert "headless" in message
        await pilot.press("s")
        await pilot.pause()
        assert app.state == "idle"


async def test_switch_backend_updates_form_and_device(tmp_path):
    app = scripted_app(tmp_path, ScriptedTrainer())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        await wait_for(pilot, lambda: app.switch.devices.get(("lightning", "auto")) == "cpu")
        assert app.switch.backend == "lightning" and app.form.config.backend == "lightning"
        assert "CPU" in str(app.query_one("#device-line", Static).render())
        assert "estimate" in str(app.query_one("#estimate-line", Static).render())
        await pilot.press("b")
        await pilot.pause()
        assert app.form.config.backend == "scalar"


async def test_quit_mid_run_stops_the_training_thread(tmp_path):
    trainer = ScriptedTrainer(steps_per_epoch=100_000, delay=0.005)
    app = scripted_app(tmp_path, trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state == "running")
        control = app.control
        await pilot.press("q")
        await pilot.pause()
    assert control.stop_requested
    assert trainer.finished.wait(10)  # the loop saw the stop flag and returned


async def test_backend_failure_is_shown_and_the_app_survives(tmp_path):
    app = scripted_app(tmp_path, ScriptedTrainer(fail_at=3))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state == "failed")
        assert any("scripted failure" in str(line) for line in app.log_pane.lines)
        assert app.is_running
        await pilot.press("s")  # a failed run can be followed by another
        await wait_for(pilot, lambda: app.state == "failed")


async def test_open_a_past_run_and_small_terminal(tmp_path):
    app = scripted_app(tmp_path, ScriptedTrainer(steps_per_epoch=10))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state == "completed")
        run_dir = app.history.current.started.run_dir
    viewer = make_app(open_run=run_dir, runs_dir=tmp_path / "runs")
    async with viewer.run_test(size=(90, 24)) as pilot:
        await pilot.pause()
        assert viewer.state == "viewing" and viewer.history.current.step == 10
        assert viewer.screen.has_class("-too-small")
        await pilot.resize_terminal(140, 40)
        await pilot.pause()
        assert not viewer.screen.has_class("-too-small")
        await pilot.press("o")
        await pilot.pause()
        assert type(viewer.screen).__name__ == "RunsTableScreen"
        await pilot.press("enter")
        await wait_for(pilot, lambda: viewer.screen is viewer.screen_stack[0])
        assert viewer.history.previous is not None and viewer.history.current.run_id == Path(run_dir).name


async def test_help_and_inspector_keys_never_crash(tmp_path):
    app = scripted_app(tmp_path, ScriptedTrainer())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.query_one("#help-overlay").visible
        await pilot.press("escape")
        assert not app.query_one("#help-overlay").visible
        await pilot.press("i")
        await pilot.pause()
        if importlib.util.find_spec("tui.inspector") is None:
            assert type(app.screen).__name__ == "Screen"
        assert app.is_running


@pytest.mark.skipif(importlib.util.find_spec("core.backends.scalar") is None, reason="scalar backend not here")
async def test_real_scalar_backend_start_pause_resume_stop(tmp_path):
    config = TrainConfig(hidden=(32,), input_size=14, train_subset=2000, val_subset=16, test_subset=16, epochs=5)
    app = make_app(config, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.current and app.history.current.step >= 2, timeout=60)
        await pilot.press("p")
        assert app.control.user_paused
        await pilot.press("p")
        await pilot.press("x")
        await wait_for(pilot, lambda: app.state == "stopped", timeout=30)
        run = app.history.current
        assert run.finished is not None and run.finished.reason == "stopped"
        probe = app.controller.probe()  # the stopped run's model, through its probe
        assert probe is not None and probe.layer_sizes == config.layer_sizes and probe.step() >= 2


@pytest.mark.skipif(importlib.util.find_spec("core.backends.scalar") is None, reason="scalar backend not here")
async def test_real_scalar_backend_completes_and_quits_mid_run(tmp_path):
    app = make_app(TINY, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state == "completed", timeout=60)
        assert app.history.current.val_accuracy
        app.query_one("#cfg-epochs", Input).value = "500"
        await pilot.pause()
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state == "running", timeout=30)
        control = app.control
        await pilot.press("q")
    assert control.stop_requested


def test_first_frame_does_not_import_torch():
    code = (
        "import asyncio, sys\n"
        "from tui.app import make_app\n"
        "async def main():\n"
        "    app = make_app()\n"
        "    async with app.run_test(size=(140, 40)) as pilot:\n"
        "        await pilot.pause()\n"
        "    print('torch' in sys.modules, 'lightning' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr


async def test_quit_button_stops_and_exits(tmp_path):
    trainer = ScriptedTrainer(steps_per_epoch=100_000, delay=0.005)
    app = scripted_app(tmp_path, trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state == "running")
        await pilot.click("#quit-button")
        await pilot.pause()
    assert trainer.finished.wait(10)
