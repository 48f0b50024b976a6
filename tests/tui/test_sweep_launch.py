"""The dashboard's sweep launcher: W opens it over the form's settings; bad spaces are named; Launch starts a real
(tiny) sweep in its own process and shows its screen."""

from __future__ import annotations

import json

from textual.widgets import Input, Select, Static
from waiting import wait_for

from core.config import TrainConfig
from core.sweeps.study import load, open_storage
from core.sweeps.view import trial_rows
from tui.app import make_app
from tui.sweep.launch import LaunchSweepScreen, default_space, launch_command
from tui.sweep.screen import SweepScreen

TINY = TrainConfig(input_size=7, hidden=(8,), batch_size=8, epochs=1, train_subset=48, val_subset=16, test_subset=16,
                   lr=0.1, device="cpu")


def test_default_spaces_surround_the_form_values_and_the_command_carries_them():
    assert default_space(TINY, "lr") == "log(0.01,1)"
    assert default_space(TINY, "hidden") == "[4,8,16]"
    assert default_space(TINY, "batch_size") == "int(4,16)"
    assert default_space(TINY, "seed") == "int(0,1)"
    assert default_space(TINY, "optimizer") == "[sgd,momentum,adam]"
    command = launch_command(TINY, "s", ["lr=log(0.01,1)"], 3, 2, "runs", None)
    assert command[1:6] == ["-m", "core", "--headless", "--sweep", "s"]
    assert command[command.index("--hidden") + 1] == "8" and command[command.index("--lr") + 1] == "0.1"
    assert command[-8:] == ["--param", "lr=log(0.01,1)", "--trials", "3", "--workers", "2", "--runs-dir", "runs"]


async def test_w_on_the_dashboard_launches_a_sweep_over_the_form_and_shows_it(tmp_path):
    runs = tmp_path / "runs"
    app = make_app(TINY, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("W")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchSweepScreen))
        dialog = app.screen
        assert dialog.config == TINY
        dialog.query_one("#launch-name", Input).value = "from-form"
        dialog.query_one("#launch-space-1", Input).value = "log(0,1)"
        dialog.query_one("#launch-trials", Input).value = "1"
        dialog.query_one("#launch-workers", Input).value = "1"
        dialog.launch()
        await pilot.pause()
        assert str(dialog.query_one("#launch-problems", Static).render()) == \
            "--param lr=log(0,1): a log range must start above 0"
        assert dialog.process is None
        dialog.query_one("#launch-field-1", Select).value = "hidden"
        await wait_for(pilot, lambda: dialog.query_one("#launch-space-1", Input).value == "[4,8,16]")
        dialog.query_one("#launch-space-1", Input).value = "[8]"
        dialog.launch()
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen))
        assert dialog.process.wait(timeout=240) == 0
    folder = runs / "sweeps" / "from-form"
    study = load(open_storage(json.loads((folder / "sweep.json").read_text())["storage"]), "from-form")
    rows = trial_rows(study)
    assert [(r.state, r.params) for r in rows] == [("complete", {"hidden": "8"})]
