"""Snapshot tests of the dashboard's main layouts, fed deterministic scripted events (no clock, no paths).

Update after an intended change: pytest tests/tui/test_snapshots.py --snapshot-update (and look at them).
"""

from __future__ import annotations

import dataclasses

import pytest
from scripted_trainer import ScriptedTrainer, feed  # noqa: E402
from textual.widgets import Input

from core.backends import RunControl
from core.config import TrainConfig
from core.events import RunStarted
from tui.app import make_app

BIG = (160, 48)
MEDIUM = (120, 36)


def scripted_events(run_id: str, config: TrainConfig, steps_per_epoch: int = 40) -> list:
    """The events of one scripted run, with a fixed run directory."""
    events: list = []
    ScriptedTrainer(steps_per_epoch=steps_per_epoch).fit(config, None, events.append, RunControl(), run_id=run_id)
    return [dataclasses.replace(e, run_dir=f"runs/{run_id}") if isinstance(e, RunStarted) else e for e in events]



@pytest.fixture(autouse=True)
def _fixed_device(monkeypatch):
    monkeypatch.setattr("tui.widgets.backend_switch.describe", lambda backend, device: "NVIDIA H200")


def test_idle_dashboard(snap_compare):
    assert snap_compare(make_app(), terminal_size=BIG)


def two_runs(config: TrainConfig, second: str):
    """A run_before feeding a completed run at lr 0.01, then one of `config` that ended for `second`."""

    async def run_before(pilot) -> None:
        feed(pilot.app, scripted_events("run-1-scalar", config.replace(lr=0.01), 30), "completed")
        feed(pilot.app, scripted_events("run-2-scalar", config), second)
        await pilot.pause()
        pilot.app.clear_notifications()  # "Run ended" toasts: not what these snapshots are about
        await pilot.pause()

    return run_before


def test_finished_run_over_the_previous_one(snap_compare):
    config = TrainConfig(epochs=3)
    assert snap_compare(make_app(config), terminal_size=BIG, run_before=two_runs(config, "completed"))


def test_invalid_configuration(snap_compare):
    async def run_before(pilot) -> None:
        pilot.app.query_one("#cfg-lr", Input).value = "fast"
        pilot.app.query_one("#cfg-hidden", Input).value = "64,0"
        pilot.app.query_one("#cfg-devices", Input).value = "2"
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=MEDIUM, run_before=run_before)


def test_lightning_backend_selected(snap_compare):
    async def run_before(pilot) -> None:
        await pilot.press("b")
        for _ in range(100):
            if pilot.app.switch.devices.get(("lightning", "auto")):
                break
            await pilot.pause(0.02)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=MEDIUM, run_before=run_before)


def test_help_overlay(snap_compare):
    assert snap_compare(make_app(), terminal_size=MEDIUM, press=["question_mark"])


def test_terminal_too_small(snap_compare):
    assert snap_compare(make_app(), terminal_size=(80, 24))


SMALL = (100, 30)  # the compact layout: the setup page, or the run page (v switches)


def test_small_terminal_setup_page(snap_compare):
    assert snap_compare(make_app(), terminal_size=SMALL)


def test_small_terminal_run_page(snap_compare):
    config = TrainConfig(epochs=3)
    assert snap_compare(make_app(config), terminal_size=SMALL, run_before=two_runs(config, "stopped"))
