"""The system pane: sparklines and figures from SystemStats, own run or opened record, and its snapshot."""

from __future__ import annotations

import dataclasses

import pytest
from scripted_trainer import ScriptedTrainer, feed

from core.backends import RunControl
from core.config import TrainConfig
from core.events import LearningRateChanged, RunStarted, StepEnded, SystemStats
from tui.app import make_app
from tui.history import History
from tui.widgets.system import lines, size, sparkline

GIB, MIB = 1 << 30, 1 << 20


def stats(cpu: float, rss: int, **gpu) -> SystemStats:
    return SystemStats(run_id="r", cpu_percent=cpu, rss_bytes=rss, **gpu)


def test_sparkline_scales_to_the_given_range():
    assert sparkline([0, 50, 100], width=3, high=100.0) == "▁▅█"
    assert sparkline([0, 50, 100, 200], width=4, high=100.0) == "▁▃▅█"  # above `high`: the top grows
    assert sparkline([5.0], width=3) == "  █"  # right-aligned, newest at the right
    assert sparkline([], width=2) == "  "
    assert sparkline([3, 3], width=2) == "██"
    assert sparkline([1, None, 2], width=4, low=1.0, high=2.0) == "  ▁█"  # missing samples are skipped
    assert sparkline([200, 210, 220], width=3, low=None) == "▁▅█"  # None: from the smallest value up


def test_sizes():
    assert size(100 * MIB) == "100 MiB"
    assert size(3.5 * GIB) == "3.5 GiB"


def test_lines_say_no_gpu_plainly():
    text = lines([stats(10.0, 200 * MIB), stats(87.4, 300 * MIB)])
    assert text[0].endswith("   87 %") and "300 MiB" in text[1]
    assert text[2] == "gpu [dim]no GPU[/]" and len(text) == 3


def test_lines_with_a_gpu():
    text = lines([stats(100.0, GIB, gpu_util=55.0, gpu_memory_bytes=2 * GIB, gpu_temperature_c=61.0,
                        gpu_memory_total_bytes=80 * GIB)])
    assert text[2].endswith("   55 %")
    assert text[3].endswith("2.0 GiB / 80.0 GiB")
    assert text[4].endswith("   61 °C")


def test_marks_follow_the_current_run():
    history = History()
    history.add(stats(1.0, MIB))
    history.add(LearningRateChanged(run_id="r", step=3, lr=0.01, previous=0.1, source="dashboard"))
    assert len(history.marks.system) == 1 and history.marks.lr == 0.01
    history.add(dataclasses.replace(stats(2.0, MIB), run_id="other"))  # a new run starts afresh
    marks = history.marks
    assert [s.cpu_percent for s in marks.system] == [2.0] and marks.lr is None and not marks.lr_changes


def scripted_run(run_id: str, config: TrainConfig) -> list:
    """A scripted run with system samples every 10 steps and a learning-rate change at step 60."""
    events: list = []
    ScriptedTrainer(steps_per_epoch=40).fit(config, None, events.append, RunControl(), run_id=run_id)
    out: list = []
    for event in events:
        if isinstance(event, RunStarted):
            event = dataclasses.replace(event, run_dir=f"runs/{run_id}")
        out.append(event)
        if isinstance(event, StepEnded) and event.step % 10 == 0:
            out.append(SystemStats(run_id=run_id, cpu_percent=40.0 + event.step % 60,
                                   rss_bytes=(200 + event.step) * MIB))
        if isinstance(event, StepEnded) and event.step == 60:
            out.append(LearningRateChanged(run_id=run_id, step=60, lr=0.01, previous=0.05, source="dashboard"))
    return out



@pytest.fixture(autouse=True)
def _fixed_device(monkeypatch):
    monkeypatch.setattr("tui.widgets.backend_switch.describe", lambda backend, device: "NVIDIA H200")


async def test_pane_shows_the_runs_cpu_figure(tmp_path):
    app = make_app(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        assert "no system figures yet" in str(app.system_pane.content)
        feed(app, scripted_run("run-sys", TrainConfig(epochs=3, lr=0.05)), "completed")
        await pilot.pause()
        text = str(app.system_pane.content)
        assert "   40 %" in text and "320 MiB" in text and "no GPU" in text  # the last sample: step 120
        assert any("0.05 -> 0.01 at step 60" in t for t, _, _ in app.log_pane.entries)


def test_dashboard_with_system_pane_and_lr_marker(snap_compare):
    async def run_before(pilot) -> None:
        feed(pilot.app, scripted_run("run-sys", TrainConfig(epochs=3, lr=0.05)), "completed")
        await pilot.pause()
        pilot.app.clear_notifications()

    assert snap_compare(make_app(), terminal_size=(160, 48), run_before=run_before)
