"""The inspector compares watched scalars across the runs of the last comparison (real tiny runs, Pilot)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from core.backends import RunControl, load_probe
from core.session import run_training
from tui.app import make_app
from tui.compare import CompareScreen, RunsTableScreen
from tui.compared import ComparedRuns, labels
from tui.inspector import InspectorScreen
from tui.inspector.watch import COLUMNS, short
from tui.render import fmt

SIZE = (150, 46)
ADDRESS = "L0.N1.w3"


async def wait_for(pilot, condition, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_config, tiny_data) -> tuple[Path, dict[str, Path]]:
    """Three recorded runs: lr 0.1 and 0.01 of the tiny shape (49-8-10), and one of another shape (49-5-10)."""
    runs_dir = tmp_path_factory.mktemp("runs")
    made: dict[str, Path] = {}
    for name, config in (("lr0.1", tiny_config), ("lr0.01", tiny_config.replace(lr=0.01)),
                         ("h5", tiny_config.replace(hidden=(5,)))):
        dirs: list[Path] = []
        run_training(config, lambda e: None, RunControl(), runs_dir=runs_dir, data=tiny_data, on_run_dir=dirs.append)
        made[name] = dirs[0]
    return runs_dir, made


def headings(table: DataTable) -> list[str]:
    return [str(column.label) for column in table.ordered_columns]


def cell(table: DataTable, address: str, key: str) -> str:
    return str(table.get_cell(address, key))


async def open_inspector(pilot) -> InspectorScreen:
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, InspectorScreen)
                   and hasattr(pilot.app.screen, "watch_pane"))
    return pilot.app.screen


async def test_watch_table_compares_the_address_across_runs_of_this_shape(runs, tiny_config):
    runs_dir, made = runs
    app = make_app(tiny_config, runs_dir=runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")  # the runs table: select all three, compare
        await wait_for(pilot, lambda: isinstance(app.screen, RunsTableScreen) and app.screen.table.row_count == 3)
        await pilot.press("space", "down", "space", "down", "space", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        assert set(app.controller.compared.runs) == set(made.values())
        await pilot.press("escape")  # back to the runs table it came from, then to the dashboard
        await wait_for(pilot, lambda: isinstance(app.screen, RunsTableScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, (CompareScreen, RunsTableScreen)))
        app.clear_notifications()

        screen = await open_inspector(pilot)
        await pilot.press("a", *ADDRESS, "enter")
        table = screen.watch_pane.table
        await wait_for(pilot, lambda: len(table.ordered_columns) == len(COLUMNS) + 2)
        # one column per run of this shape, named by what differs, right after the dashboard's own data
        shown = headings(table)
        assert shown[:2] == ["address", "data"] and shown[4:] == list(COLUMNS[2:])
        assert sorted(shown[2:4]) == ["lr=0.01", "lr=0.1"]  # in the runs table's order
        for name in ("lr0.1", "lr0.01"):
            expected = fmt(load_probe(made[name]).value(ADDRESS)[0])
            assert cell(table, ADDRESS, f"compared:{made[name]}") == expected
        assert (cell(table, ADDRESS, f"compared:{made['lr0.1']}")
                != cell(table, ADDRESS, f"compared:{made['lr0.01']}"))  # two runs, two values
        # the other shape is left out, named once in a notice
        notices = [n.message for n in app._notifications if "left out" in n.message]
        assert notices == [f"compared runs left out (this network is 49-8-10): {made['h5'].name} (49-5-10)"]
        assert f"compared:{made['h5']}" not in [str(c.key.value) for c in table.ordered_columns]

        await pilot.press("escape", "c")  # out of the address field; c hides the compared columns, and again
        await wait_for(pilot, lambda: headings(table) == list(COLUMNS))
        await pilot.press("c")
        await wait_for(pilot, lambda: len(table.ordered_columns) == len(COLUMNS) + 2)
        assert cell(table, ADDRESS, f"compared:{made['lr0.01']}") == fmt(load_probe(made["lr0.01"]).value(ADDRESS)[0])
        assert len([n for n in app._notifications if "left out" in n.message]) == 1  # named once


async def test_no_comparison_leaves_the_watch_table_as_it_was(runs, tiny_config):
    runs_dir, _ = runs
    app = make_app(tiny_config, runs_dir=runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_inspector(pilot)
        await pilot.press("a", *ADDRESS, "enter")
        await wait_for(pilot, lambda: screen.watch_pane.addresses == [ADDRESS])
        assert headings(screen.watch_pane.table) == list(COLUMNS)
        assert not screen.check_action("toggle_compare", ())  # the c key is not offered


def test_compared_runs_cache_and_split(runs):
    _, made = runs
    compared = ComparedRuns()
    compared.set([made["lr0.1"], made["h5"], made["lr0.01"]])
    assert compared.pending() == [made["lr0.1"], made["h5"], made["lr0.01"]]
    assert compared.load_pending() == 3 and compared.load_pending() == 0  # loaded once, cached per run
    shown, left_out = compared.split((49, 8, 10), exclude=[made["lr0.1"]])
    assert [r.path for r in shown] == [made["lr0.01"]] and [r.path for r in left_out] == [made["h5"]]
    assert labels(compared.split((49, 8, 10))[0]) == {made["lr0.1"]: "lr=0.1", made["lr0.01"]: "lr=0.01"}
    assert compared.value(shown[0], ADDRESS) == load_probe(made["lr0.01"]).value(ADDRESS)
    assert compared.value(shown[0], "loss") is None  # a checkpoint holds no sample: graph nodes say n/a
    compared.set([made["lr0.01"]])
    assert compared.pending() == []  # what was loaded stays


async def test_at_100_columns_the_compared_runs_fit_beside_the_address_and_data(runs, tiny_config):
    runs_dir, made = runs
    app = make_app(tiny_config, runs_dir=runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        app.controller.compared.set([made["lr0.1"], made["lr0.01"]])
        screen = await open_inspector(pilot)
        await pilot.press("a", *ADDRESS, "enter")
        table = screen.watch_pane.table
        await wait_for(pilot, lambda: len(table.ordered_columns) == 4)
        # grad and update give their room to the runs (the highlighted scalar's grad is in the line below)
        assert headings(table)[:2] == ["address", "data"] and sorted(headings(table)[2:]) == ["lr=0.01", "lr=0.1"]
        for name in ("lr0.1", "lr0.01"):
            assert cell(table, ADDRESS, f"compared:{made[name]}") == short(load_probe(made[name]).value(ADDRESS)[0])
        await pilot.pause()
        assert table.max_scroll_x == 0  # nothing to scroll sideways to
        await pilot.resize_terminal(150, 46)  # the wide layout: every column, full numbers
        await wait_for(pilot, lambda: len(table.ordered_columns) == len(COLUMNS) + 2)
