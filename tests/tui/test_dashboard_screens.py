"""The dashboard's way into the digits screen (`d`) and the runs table and compare view (`o`), end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_compare_screens import CONFIG, curve_run
from waiting import wait_for

from core.config import TrainConfig
from tui.app import make_app
from tui.compare import CompareScreen, RunsTableScreen
from tui.digits import DigitsScreen

SIZE = (140, 40)
TINY = TrainConfig(hidden=(8,), input_size=7, train_subset=96, val_subset=24, test_subset=16, epochs=2, batch_size=8)


@pytest.fixture(autouse=True)
def _no_torch_probe(monkeypatch):
    monkeypatch.setattr("tui.widgets.backend_switch.describe", lambda backend, device: "cpu")



async def test_d_shows_the_runs_digits_its_evaluations_and_the_models_answers(tmp_path):
    app = make_app(TINY, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")  # no run yet: nothing to show, the dashboard stays
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state == "completed")
        data, controller = app.controller.data, app.controller
        assert data.side == 7 and len(data.val) == 24  # the run's own split, at its input size
        assert [(e.split, e.epoch) for e in controller.evaluations] == [("val", 1), ("val", 2), ("test", 2)]
        await pilot.press("d")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DigitsScreen) and screen.data is data
        probe = controller.probe()
        await wait_for(pilot, lambda: screen.grid.live.known().any())
        shown = np.flatnonzero(screen.grid.live.known())
        expected = np.array(probe.predict(data.val.images[shown].tolist()))
        assert np.allclose(screen.grid.live.probs[shown], expected)  # the finished model's own answers
        assert screen.matrix.evaluations[-1] == controller.evaluations[-1]
        await pilot.press("d")
        assert app.screen is app.screen_stack[0]
        await pilot.press("d")
        await pilot.pause()
        assert app.screen is screen  # kept: the same digits open the same screen again, not one composed anew
        await pilot.press("d")
        await pilot.press("s")  # a second run loads digits of its own: a screen of its own
        await wait_for(pilot, lambda: app.state == "completed" and controller.data is not data)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DigitsScreen) and app.screen is not screen
        assert app.screen.data is controller.data
        await pilot.press("d")
        run_dir = Path(app.history.current.started.run_dir)

    viewer = make_app(open_run=run_dir, runs_dir=tmp_path / "runs")  # a run opened from its record
    async with viewer.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: viewer.controller.data is not None and viewer.controller.viewed_probe)
        assert [e.split for e in viewer.controller.evaluations] == ["val", "val", "test"]
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(viewer.screen, DigitsScreen)
        assert viewer.screen.probe().step() == probe.step()


async def test_o_opens_the_runs_table_and_compares_the_selection(tmp_path):
    runs = [curve_run(tmp_path, f"run-{i}", CONFIG.replace(lr=lr)) for i, lr in enumerate((0.1, 0.05, 0.01), 1)]
    app = make_app(runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        await pilot.pause()
        table = app.screen
        assert isinstance(table, RunsTableScreen) and [r.run_id for r in table.shown] == ["run-3", "run-2", "run-1"]
        await pilot.press("space", "down", "space", "b", "down", "space", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.runs)
        compare = app.screen
        assert sorted(compare.run_dirs) == sorted(runs) and compare.baseline == "run-2"
        assert compare.export_dir == tmp_path
        assert sorted(app.controller.compared.runs) == sorted(runs)  # the inspector compares across them
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is table  # escape from the comparison comes back to the runs table it came from
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0] and app.state == "idle"  # comparing opened nothing
        await pilot.press("o")
        await pilot.pause()
        await pilot.press("down", "enter")  # open one: run-2 in the dashboard
        await wait_for(pilot, lambda: app.state == "viewing")
        assert app.controller.run_dir == tmp_path / "run-2"
