"""Pilot tests of the sweep screen on studies written here with exact values (no training, no processes)."""

from __future__ import annotations

from pathlib import Path

import optuna
from footer_fit import cut_footer_keys
from textual.widgets import DataTable, Static
from waiting import wait_for

from core.config import TrainConfig
from core.events import EpochEnded, LogLine, RunFinished, RunStarted
from core.records.runs import RunRecorder
from core.sweeps.space import parse_param
from core.sweeps.study import SPEC_ATTR, SweepSpec, claim, open_storage, sweep_dir, write_sweep_file
from tui.app import make_app
from tui.compare import CompareScreen, RunsTableScreen
from tui.sweep.app import SweepApp
from tui.sweep.charts import parallel
from tui.sweep.opening import sweep_for
from tui.sweep.screen import SweepChart, SweepScreen
from tui.sweep.source import SweepSource

SIZE = (120, 40)
SPACES = (parse_param("lr=log(0.001,0.1)"), parse_param("hidden=[16,64]"))
# (lr, hidden, state, value, epochs reported): exact binary fractions, so nothing depends on rounding
TRIALS = ((0.001, "16", "complete", 0.5, 2), (0.1, "64", "complete", 0.75, 2), (0.01, "16", "pruned", 0.25, 1),
          (0.1, "16", "complete", 0.625, 2))


def write_run(runs: Path, run_id: str, lr: float, hidden: str, values: list[float], mark: str = "") -> Path:
    """A tiny finished record: one EpochEnded per value (and the worker's sweep line when `mark`)."""
    config = TrainConfig(lr=lr, hidden=(int(hidden),), epochs=len(values), device="cpu")
    with RunRecorder(runs, run_id, config) as rec:
        rec(RunStarted(run_id=run_id, time=1_700_000_000.0, backend="scalar", device="cpu", data_source="test",
                       config=config.to_dict(), train_size=64, val_size=16, test_size=16, total_steps=8))
        if mark:
            rec(LogLine(run_id=run_id, time=1_700_000_000.5, level="info", source="sweep", message=mark))
        for epoch, value in enumerate(values, 1):
            rec(EpochEnded(run_id=run_id, time=1_700_000_000.0 + epoch, epoch=epoch, step=4 * epoch,
                           train_loss=1.0 / epoch, train_accuracy=value, val_loss=1.0 / epoch, val_accuracy=value,
                           epoch_seconds=1.0))
        rec(RunFinished(run_id=run_id, time=1_700_000_010.0, reason="completed", steps=4 * len(values),
                        epochs_completed=len(values), seconds=10.0))
        rec.write_summary({"run_id": run_id, "reason": "completed", "best_val_accuracy": max(values)})
    return runs / run_id


def make_sweep(tmp_path: Path, storage: str | None = None, name: str = "demo") -> tuple[Path, optuna.Study]:
    """A sweep folder whose study holds TRIALS, each with a real run folder."""
    runs = tmp_path / "runs"
    folder = sweep_dir(runs, name)
    storage = storage or f"journal:{folder / 'study.journal'}"
    write_sweep_file(folder, name, storage, runs)
    spec = SweepSpec(name=name, spaces=SPACES, base=TrainConfig(device="cpu"), trials=len(TRIALS))
    study = optuna.create_study(study_name=name, storage=open_storage(storage), direction="maximize")
    distributions = {s.field: optuna.distributions.FloatDistribution(0.001, 0.1, log=True) if s.kind == "log"
                     else optuna.distributions.CategoricalDistribution(list(s.choices)) for s in SPACES}
    for number, (lr, hidden, state, value, epochs) in enumerate(TRIALS):
        run = write_run(runs, f"trial-{number}", lr, hidden, [value / 2] * (epochs - 1) + [value],
                        mark=f"sweep {name} trial {number}: lr={lr} hidden={hidden}")
        study.add_trial(optuna.trial.create_trial(
            params={"lr": lr, "hidden": hidden}, distributions=distributions, value=value,
            intermediate_values={e: (value if e == epochs else value / 2) for e in range(1, epochs + 1)},
            state=optuna.trial.TrialState[state.upper()], system_attrs={"run_dir": str(run), "host": "here"}))
    study.set_user_attr(SPEC_ATTR, spec.to_dict())
    return folder, study


def test_parallel_coordinates_draw_one_coloured_line_per_trial(tmp_path):
    folder, _ = make_sweep(tmp_path)
    snap = SweepSource(folder).snapshot()
    text = parallel(snap.rows, snap.spec.spaces, "maximize", 30, 6)
    lines = text.plain.split("\n")
    assert len(lines) == 6 and lines[-1] == "lr 0.00 hi objective 0.5..0.75"  # clipped from the left
    wide = parallel(snap.rows, snap.spec.spaces, "maximize", 60, 6).plain.split("\n")[-1]
    assert wide == "lr 0.001..0.1 log      hidden [16,64]    objective 0.5..0.75"  # each axis's ends
    styles = {str(span.style) for span in text.spans}
    assert {"#1b998b", "#d7263d", "#5f5f5f"} <= styles  # the best (0.75) and worst complete (0.5), pruned dim
    # the best trial (lr 0.1 at the top of the lr axis, hidden 64 at the top, objective at the top) ends top right
    assert lines[0][0] != " " and lines[0][-1] != " "


async def test_a_finished_sweep_shows_table_charts_importance_and_compares_picked_trials(tmp_path):
    folder, _ = make_sweep(tmp_path)
    app = SweepApp(folder, refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SweepScreen)
        await wait_for(pilot, lambda: screen.loads >= 1)
        title = str(screen.query_one("#sweep-title", Static).render())
        assert title.startswith("sweep demo: 4 trials (3 complete, 1 pruned) · val_accuracy (maximize) · best 0.75 "
                                "(trial 1)")
        table = screen.query_one("#sweep-trials", DataTable)
        assert [str(c.label) for c in table.columns.values()] == [" ", "trial", "state", "lr", "hidden", "value",
                                                                  "epoch", "best", "pruned at"]
        assert [str(table.get_row_at(i)[2]) for i in range(4)] == ["complete", "complete", "pruned", "complete"]
        assert [str(table.get_row_at(i)[7]) for i in range(4)] == ["0.5", "0.75", "0.75", "0.75"]
        assert str(table.get_row_at(2)[8]) == "1"
        importance = screen.query_one("#sweep-importance", SweepChart).render().plain
        assert set(screen.snapshot.importance) == {"lr", "hidden"} and "lr" in importance
        assert str(screen.query_one("#sweep-best", Static).render()) == \
            "best: mnist-dash --headless --hidden 64 --lr 0.1 --device cpu"
        await pilot.press("down", "space", "down", "down", "space", "c")  # trials 1 and 3
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        assert [p.name for p in app.screen.run_dirs] == ["trial-1", "trial-3"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen))


async def test_a_running_sweep_in_a_database_refreshes(tmp_path):
    url = f"sqlite:///{tmp_path / 'sweeps.db'}"
    folder, study = make_sweep(tmp_path, storage=url, name="live")
    storage = open_storage(url)
    study.enqueue_trial({"lr": 0.05, "hidden": "64"})
    trial_id = claim(storage, "live")  # another machine took it: running
    app = SweepApp(folder, refresh_seconds=0.2)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.loads >= 1)
        table = screen.query_one("#sweep-trials", DataTable)
        assert table.row_count == 5 and str(table.get_row_at(4)[2]) == "running"
        other = optuna.load_study(study_name="live", storage=storage)  # that machine finishes the trial
        other.tell(storage.get_trial_number_from_id(trial_id), 0.875)
        await wait_for(pilot, lambda: str(table.get_row_at(4)[2]) == "complete", timeout=60)
        assert str(table.get_row_at(4)[5]) == "0.875"
        assert "best 0.875 (trial 4)" in str(screen.query_one("#sweep-title", Static).render())


def test_the_finished_sweep_screen(snap_compare, tmp_path):
    folder, _ = make_sweep(tmp_path)

    async def run_before(pilot) -> None:
        await wait_for(pilot, lambda: pilot.app.screen.loads >= 1)
        await pilot.pause()

    assert snap_compare(SweepApp(folder, refresh_seconds=0), terminal_size=SIZE, run_before=run_before)


async def test_w_in_the_runs_table_opens_the_sweep_of_the_trial_under_the_cursor(tmp_path):
    folder, _ = make_sweep(tmp_path)
    runs = tmp_path / "runs"
    assert sweep_for(runs, runs / "trial-2") == folder  # its record names the sweep
    assert sweep_for(runs, None) == folder and sweep_for(tmp_path / "nowhere", None) is None

    app = make_app(runs_dir=runs)  # the real dashboard: o opens the runs table, whose w the app answers
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsTableScreen)
                       and app.screen.query_one(DataTable).row_count == 4)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen))
        assert app.screen.folder == folder


async def test_the_footer_fits_whole_at_100_columns(tmp_path):
    folder, _ = make_sweep(tmp_path)
    app = SweepApp(folder, refresh_seconds=0)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.loads >= 1)
        assert cut_footer_keys(screen) == []
