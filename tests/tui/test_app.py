"""Pilot tests of the dashboard: a scripted trainer for the controls, the real scalar backend end to end."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from scripted_trainer import ScriptedTrainer
from textual.widgets import Input, Static
from waiting import wait_for

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


# ---- issue 23: every terminal size, the status and estimate flows, a button for every key ----------------

def scripted_events(run_id: str = "run-a", epochs: int = 2) -> list:
    """A whole scripted run's events (no thread): fed to the controller with `feed`."""
    from core.backends import RunControl

    events: list = []
    ScriptedTrainer(steps_per_epoch=20).fit(TrainConfig(epochs=epochs), None, events.append, RunControl(),
                                            run_id=run_id)
    return events


def region(app, selector: str):
    return app.dashboard.query_one(selector).region


async def test_at_100x30_the_run_page_has_readable_plots_unwrapped_progress_and_a_log(tmp_path):
    from scripted_trainer import feed

    app = make_app(TINY, runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.dashboard
        assert screen.compact and screen.page == "setup"  # the form first: nothing to watch yet
        assert region(app, "#sidebar").width == 100 and not app.query_one("#right").display
        assert app.query_one("#view-button").display  # v has its button
        feed(app, scripted_events(), "completed")  # a run starting shows the run page
        for _ in range(5):
            app.dashboard.log_pane.add("a line long enough to wrap in a narrow log pane, " * 2)
        await pilot.pause()
        assert screen.page == "run" and not app.query_one("#sidebar").display
        for plot in ("#loss-plot", "#accuracy-plot"):
            assert region(app, plot).height >= 10
        status = app.query_one("#status-lines", Static)
        widest = max(len(line) for line in str(status.render()).splitlines())
        assert status.region.width >= widest and status.region.height == len(str(status.render()).splitlines())
        assert app.dashboard.log_pane.scrollable_content_region.height >= 3
        assert app.dashboard.log_pane.virtual_size.width <= app.dashboard.log_pane.scrollable_content_region.width
        legend = app.query_one("#plot-legend", Static)
        assert legend.region.width >= len(str(legend.render()))  # the legend is whole
        def shown_keys() -> list:
            return [key for key in app.screen.query("FooterKey") if key.display]

        await wait_for(pilot, lambda: bool(shown_keys()))  # the footer recomposes for the run page's bindings
        footer_keys = shown_keys()
        assert footer_keys and max(k.region.right for k in footer_keys) <= 100  # the footer is whole
        await pilot.press("v")
        assert screen.page == "setup" and app.query_one("#sidebar").display
        await pilot.click("#view-button")
        assert screen.page == "run"


async def test_at_160x45_the_full_layout_shows_every_pane_and_v_does_nothing(tmp_path):
    app = make_app(TINY, runs_dir=tmp_path / "runs")
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.dashboard
        assert not screen.compact
        assert region(app, "#sidebar").width == 46 and region(app, "#right").width == 114
        assert region(app, "#loss-plot").height >= 20 and region(app, "#log").height == 9
        assert not app.query_one("#view-button").display
        await pilot.press("v")
        assert region(app, "#sidebar").width == 46 and app.query_one("#right").display


async def test_starting_says_what_it_waits_for_not_press_s(tmp_path):
    gate = threading.Event()
    app = make_app(TINY, runs_dir=tmp_path / "runs", trainer_factory=lambda backend: GatedStart(gate))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state == "starting")
        app.redraw()
        text = str(app.query_one("#status-lines", Static).render())
        assert "starting" in text and "press s" not in text and "loading the data" in text
        gate.set()
        await wait_for(pilot, lambda: app.state == "completed")


class GatedStart(ScriptedTrainer):
    """A scripted trainer that starts only once `gate` is set (the run stays `starting` until then)."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__(steps_per_epoch=4)
        self.start_gate = gate

    def fit(self, config, data, emit, control, **kwargs):
        self.start_gate.wait(30)
        return super().fit(config, data, emit, control, **kwargs)


@pytest.mark.parametrize("reason", ["stopped", "completed"])
async def test_a_run_that_is_over_shows_no_eta_and_no_samples_per_second(tmp_path, reason):
    from scripted_trainer import feed

    app = make_app(TINY, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        feed(app, scripted_events(), reason)
        await pilot.pause()
        text = str(app.query_one("#status-lines", Static).render())
        assert reason in text and "samples/s" not in text and "step 40/40" in text
        assert not app.query_one("#eta").visible or not app.query_one("#eta").display \
            or app.query_one("#status").has_class("-over")
        assert app.query_one("#eta").region.width == 0  # hidden: no ETA for a run that is not going


async def test_a_live_run_shows_its_eta_and_samples_per_second(tmp_path):
    gate = threading.Event()
    trainer = ScriptedTrainer(steps_per_epoch=100_000, gate=gate, delay=0.005)
    app = scripted_app(tmp_path, trainer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state == "running")
        gate.set()
        await wait_for(pilot, lambda: app.history.current is not None and app.history.current.step >= 2)
        app.redraw()
        assert "samples/s" in str(app.query_one("#status-lines", Static).render())
        assert app.query_one("#eta").region.width > 0
        await pilot.press("x")
        await wait_for(pilot, lambda: app.state == "stopped")


async def test_every_key_has_a_button_L_and_D_included(tmp_path):
    from tui.widgets.lr_control import LearningRateScreen

    gate = threading.Event()
    app = scripted_app(tmp_path, ScriptedTrainer(steps_per_epoch=100_000, gate=gate, delay=0.005))
    async with app.run_test(size=SIZE) as pilot:
        keys = {b.key for b in app.dashboard.BINDINGS if b.key not in ("escape",)}
        labels = " ".join(str(button.label) for button in app.query("ButtonBar Button"))
        shown = {"question_mark": "?"}
        assert all(f"({shown.get(key, key)})" in labels for key in keys), labels
        log = app.dashboard.log_pane
        log.add("library chatter", "debug")
        assert "D shows them" in log.border_subtitle  # the key is D (d opens the digits)
        await pilot.click("#debug-button")
        assert log.show_debug and "D hides them" in log.border_subtitle
        assert app.query_one("#lr-button").disabled  # no live run: no rate to change
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state == "running")
        await pilot.pause()
        await pilot.click("#lr-button")
        await wait_for(pilot, lambda: isinstance(app.screen, LearningRateScreen))
        await pilot.press("escape")
        gate.set()
        await pilot.press("x")
        await wait_for(pilot, lambda: app.state == "stopped")


async def test_help_fits_a_100_column_terminal(tmp_path):
    app = make_app(TINY, runs_dir=tmp_path / "runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        help_region = app.query_one("#help-overlay").region
        assert help_region.right <= 100 and help_region.bottom <= 30
        text = app.query_one("#help-text", Static)
        assert max(len(line) for line in str(text.render()).splitlines()) <= text.region.width


def test_import_of_the_app_waits_for_no_numpy_plotext_or_torch():
    code = ("import sys, tui.app\n"
            "print(*[m in sys.modules for m in ('numpy', 'plotext', 'psutil', 'torch', 'core.data')])\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False"] * 5, out.stderr


async def test_the_app_counts_the_frames_it_draws(tmp_path):
    # The key-priority hold waits for a frame drawn after the key (tui/priority.py); the count comes from
    # Textual's private App._display, so this fails if Textual stops drawing through it.
    app = make_app(TINY, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = app.frames_drawn
        assert before > 0
        await pilot.press("question_mark")  # the help overlay: something new to draw
        await wait_for(pilot, lambda: app.frames_drawn > before)
