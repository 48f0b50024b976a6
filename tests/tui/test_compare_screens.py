"""Pilot tests of the runs table and the compare screen, on records written here (no training)."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from footer_fit import cut_footer_keys  # noqa: E402
from run_records import write_run
from textual import events
from textual.app import App
from textual.widgets import DataTable, Input, Static

from core.config import TrainConfig
from core.events import EpochEnded, LearningRateChanged, RunFinished, RunStarted, StepEnded
from core.records.jsonl import to_json_bytes
from core.records.runs import RunRecorder
from core.settings import ChartSettings, load_settings
from tui.compare import CompareScreen, RunsChoice, RunsTableScreen

CONFIG = TrainConfig(input_size=14, hidden=(64, 32), batch_size=8, epochs=3, lr=0.1, device="cpu")
SIZE = (100, 30)


def curve_run(runs_dir: Path, run_id: str, config: TrainConfig, *, steps_per_epoch: int = 40,
              start: float = 1_700_000_000.0, finish: bool = True) -> Path:
    """A run whose loss falls faster with a larger lr, with a fixed wobble (deterministic)."""
    rate = 0.6 + 8 * config.lr
    total = steps_per_epoch * config.epochs
    with RunRecorder(runs_dir, run_id, config) as rec:
        rec(RunStarted(run_id=run_id, time=start, backend=config.backend, device="cpu", data_source="test",
                       config=config.to_dict(), train_size=steps_per_epoch * 8, val_size=64, test_size=64,
                       total_steps=total))
        for step in range(1, total + 1):
            frac = step / steps_per_epoch
            loss = 2.3 * math.exp(-rate * frac) + 0.08 + 0.06 * math.sin(step * 1.7 + config.seed)
            acc = min(0.99, 1 - loss / 2.5)
            rec(StepEnded(run_id=run_id, time=start + step * 0.5, step=step, epoch=(step - 1) // steps_per_epoch + 1,
                          loss=loss, accuracy=acc, samples_per_s=16.0, samples_seen=8 * step, progress=step / total,
                          total_steps=total))
            if step % steps_per_epoch == 0:
                val = 2.3 * math.exp(-rate * frac) + 0.12
                rec(EpochEnded(run_id=run_id, time=start + step * 0.5 + 0.2, epoch=step // steps_per_epoch,
                               step=step, train_loss=loss, train_accuracy=acc, val_loss=val,
                               val_accuracy=min(0.99, 1 - val / 2.5), epoch_seconds=20.0))
        if finish:
            rec(RunFinished(run_id=run_id, time=start + total * 0.5 + 1, reason="completed", steps=total,
                            epochs_completed=config.epochs, seconds=total * 0.5 + 1, test_accuracy=1 - val / 2.4))
            rec.write_summary({"run_id": run_id, "reason": "completed", "steps": total,
                               "epochs_completed": config.epochs, "seconds": total * 0.5 + 1,
                               "test_accuracy": 1 - val / 2.4, "best_val_accuracy": min(0.99, 1 - val / 2.5),
                               "started_at": "2023-11-14T22:13:20Z"})
    return runs_dir / run_id


def three_lrs(runs_dir: Path) -> list[Path]:
    return [curve_run(runs_dir, f"run-{i}", CONFIG.replace(lr=lr)) for i, lr in enumerate((0.1, 0.03, 0.01), 1)]


class Host(App):
    """A bare app that pushes one screen and keeps what it was dismissed with."""

    def __init__(self, screen) -> None:
        super().__init__()
        self.first = screen
        self.result: object = "not dismissed"

    def on_mount(self) -> None:
        self.push_screen(self.first, callback=self.done)

    def done(self, result) -> None:
        self.result = result


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def table_ids(screen: RunsTableScreen) -> list[str]:
    return [row.run_id for row in screen.shown]


async def test_runs_table_sorts_filters_selects_and_compares(tmp_path):
    three_lrs(tmp_path)
    write_run(tmp_path, "run-4", CONFIG.replace(backend="lightning", lr=0.5))
    app = Host(RunsTableScreen(tmp_path, refresh_seconds=0))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert table_ids(screen) == ["run-4", "run-3", "run-2", "run-1"]  # newest id first
        await pilot.press("s")  # next column: status
        screen.sort_by("lr")
        assert table_ids(screen) == ["run-3", "run-2", "run-1", "run-4"]
        await pilot.press("r")
        assert table_ids(screen) == ["run-4", "run-1", "run-2", "run-3"]
        await pilot.press("l", "i", "g")  # typing filters
        assert app.focused is screen.query_one("#runs-filter", Input)
        assert table_ids(screen) == ["run-4"]
        await pilot.press("escape")  # clears the filter, back on the table
        assert table_ids(screen) == ["run-4", "run-1", "run-2", "run-3"] and screen.table.has_focus
        await pilot.press("slash", *"lr=0.01", "enter")
        assert table_ids(screen) == ["run-3"]
        screen.query_one("#runs-filter", Input).value = ""
        await pilot.pause()
        await pilot.press("down", "space", "down", "space", "b", "down", "space", "space")
        assert screen.selected == ["run-1", "run-2"] and screen.baseline == "run-2"
        assert "2 selected · baseline: run-2" in str(screen.query_one("#runs-hint", Static).render())
        await pilot.press("c")
        await settle(pilot)
        compare = app.screen
        assert isinstance(compare, CompareScreen) and compare.baseline == "run-2"
        assert compare.run_dirs == [tmp_path / "run-1", tmp_path / "run-2"]
    assert app.result == "not dismissed"  # the comparison is pushed over the table


async def test_runs_table_opens_one_run_and_refreshes(tmp_path):
    curve_run(tmp_path, "run-1", CONFIG)
    app = Host(RunsTableScreen(tmp_path, refresh_seconds=0))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        write_run(tmp_path, "run-2", CONFIG, finish=False)
        screen.reload()
        await settle(pilot)
        assert table_ids(screen) == ["run-2", "run-1"]
        assert screen.shown[0].status == "live" and screen.table.row_count == 2
        await pilot.press("down", "enter")
        await pilot.pause()
    assert app.result == RunsChoice("open", (tmp_path / "run-1",), None)


async def test_compare_keys_change_and_remember_settings(tmp_path):
    runs = three_lrs(tmp_path)
    settings_file = tmp_path / "settings.toml"
    screen = CompareScreen(runs, runs[0], export_dir=tmp_path, settings_file=settings_file, live_refresh=0)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert screen.settings == ChartSettings()
        await pilot.press("plus", "l", "x", "w", "y")
        expected = ChartSettings(smoothing=0.8, log_loss=True, x_axis="epoch", window=100, y_mode="outliers")
        assert screen.settings == expected and load_settings(settings_file) == (expected, None)
        status = str(screen.query_one("#compare-status", Static).render())
        assert "smoothing 0.8 · x epoch · window last 100 · y ignore outliers · loss log10" in status
        await pilot.press("minus", "minus", "z")
        assert screen.settings.smoothing == 0.3 and screen.zoom == 2.0
        legend = str(screen.query_one("#compare-legend", Static).render())
        assert "lr=0.1 (baseline)" in legend and "lr=0.03" in legend and "lr=0.01" in legend
        diff = screen.query_one("#compare-diff", DataTable)
        assert [str(c.label) for c in diff.columns.values()] == ["run", "lr", "status", "best val", "test", "time"]


async def test_the_log_loss_key_rebuilds_only_the_loss_plot(tmp_path):
    runs = three_lrs(tmp_path)
    screen = CompareScreen(runs, runs[0], export_dir=tmp_path, settings_file=tmp_path / "s.toml", live_refresh=0)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        loss, accuracy = screen.query_one("#compare-loss"), screen.query_one("#compare-accuracy")
        before = loss.generation, accuracy.generation
        await pilot.press("l")
        assert (loss.generation, accuracy.generation) == (before[0] + 1, before[1])  # accuracy: nothing changed
        await pilot.press("plus")  # smoothing shows on both
        assert (loss.generation, accuracy.generation) == (before[0] + 2, before[1] + 1)


async def test_crosshair_shows_every_runs_values(tmp_path):
    runs = three_lrs(tmp_path)
    screen = CompareScreen(runs, None, export_dir=tmp_path, settings_file=tmp_path / "s.toml", live_refresh=0)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen.change(ChartSettings(smoothing=0.0))
        assert screen.crosshair == 120  # starts at the newest point
        await pilot.press("left", "left", "shift+left")
        assert screen.crosshair == 108
        text = str(screen.query_one("#compare-readout", Static).render())
        assert text.startswith("at step 108")
        for run in screen.runs:
            loss = run.curves["train_loss"].value[107]
            acc = run.curves["val_accuracy"].value[1] * 100  # epoch 2's, measured at step 80: epoch 3's comes at 120
            assert f"loss {loss:.4g}" in text and f"val {acc:.1f}%" in text
        await pilot.press("e")
        await settle(pilot)
        exported = [p for p in tmp_path.iterdir() if p.suffix == ".csv"]
        assert len(exported) == 1
        with open(exported[0], newline="") as fh:
            rows = list(csv.reader(fh))
        assert len(rows) == 1 + 3 * (2 * 120 + 2 * 3)


async def test_chart_commands_in_the_palette(tmp_path):
    runs = three_lrs(tmp_path)
    screen = CompareScreen(runs, None, settings_file=tmp_path / "s.toml", live_refresh=0)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"toggle log loss")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.settings.log_loss is True


def test_three_learning_rates_overlaid(snap_compare, tmp_path):
    runs = three_lrs(tmp_path)
    screen = CompareScreen(runs, runs[1], settings_file=tmp_path / "s.toml", live_refresh=0)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("left", "left", "left")
        await pilot.pause()

    assert snap_compare(Host(screen), terminal_size=SIZE, run_before=run_before)


async def test_typing_on_the_table_filters_with_every_letter(tmp_path):
    three_lrs(tmp_path)
    app = Host(RunsTableScreen(tmp_path, refresh_seconds=0))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press(*"lr=0.01")  # l starts the filter; r, s, b, c are the table's keys but here letters
        field = screen.query_one("#runs-filter", Input)
        assert field.value == "lr=0.01" and table_ids(screen) == ["run-3"]
        await pilot.press("escape")
        assert field.value == "" and screen.table.has_focus
        await pilot.press("slash", *"completed")  # a word starting with a key of the table: / first
        assert field.value == "completed" and screen.sort_column == "run_id" and len(table_ids(screen)) == 3
        assert field.placeholder.endswith("/ first for b c r s w")


async def test_letters_typed_faster_than_the_focus_moves_still_filter(tmp_path):
    three_lrs(tmp_path)
    app = Host(RunsTableScreen(tmp_path, refresh_seconds=0))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        for letter in "lrs":  # queued at once, as a fast typist's keys arrive: r and s before the field has focus
            app.post_message(events.Key(letter, letter))
        await settle(pilot)
        assert screen.query_one("#runs-filter", Input).value == "lrs"
        assert (screen.sort_column, screen.descending) == ("run_id", True)  # neither sorted nor reversed


async def test_escape_from_compare_returns_to_the_runs_table(tmp_path):
    three_lrs(tmp_path)
    compared: list = []
    table = RunsTableScreen(tmp_path, refresh_seconds=0, on_compare=compared.append)
    app = Host(table)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "down", "space", "c")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        assert [p.name for p in app.screen.run_dirs] == ["run-3", "run-2"]
        assert compared == [(tmp_path / "run-3", tmp_path / "run-2")]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is table and table.selected == ["run-3", "run-2"]
        assert app.result == "not dismissed"
        compare = app.get_screen("compare")
        await pilot.press("space", "down", "space", "c")  # run-2 off, run-1 on: another pair, the same screen
        await settle(pilot)
        assert table.selected == ["run-3", "run-1"]
        assert app.screen is compare and [p.name for p in compare.run_dirs] == ["run-3", "run-1"]
        assert [run.path.name for run in compare.runs] == ["run-3", "run-1"]  # nothing of run-2 is left drawn
        assert "2 runs" in str(compare.query_one("#compare-status", Static).render())


async def test_the_crosshair_shows_a_validation_value_only_from_its_step_on(tmp_path):
    runs = three_lrs(tmp_path)  # 40 steps an epoch: validation measured at steps 40, 80, 120
    screen = CompareScreen(runs, None, settings_file=tmp_path / "s.toml", live_refresh=0)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen.change(ChartSettings(smoothing=0.0))
        screen.crosshair = 34.0
        screen.redraw()
        text = str(screen.query_one("#compare-readout", Static).render())
        assert text.startswith("at step 34") and text.count("val -") == 6  # loss and accuracy, three runs
        first = screen.runs[0].curves["val_loss"].value[0]
        assert f"val {first:.4g}" not in text  # epoch 1's value was measured at step 40
        screen.crosshair = 40.0
        screen.redraw()
        text = str(screen.query_one("#compare-readout", Static).render())
        assert f"val {first:.4g}" in text


async def test_the_lr_column_shows_the_starting_rate_and_marks_a_change(tmp_path):
    curve_run(tmp_path, "run-1", CONFIG.replace(lr=0.05))
    changed = curve_run(tmp_path, "run-2", CONFIG.replace(lr=0.05))
    with open(changed / "events.jsonl", "ab") as fh:  # changed live to 0.2 near the end; config.json says so too
        fh.write(to_json_bytes(LearningRateChanged(run_id="run-2", step=100, lr=0.2, previous=0.05,
                                                   source="key")) + b"\n")
    (changed / "config.json").write_text(CONFIG.replace(lr=0.2).to_json())
    app = Host(RunsTableScreen(tmp_path, refresh_seconds=0))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.table
        cells = {str(table.get_cell(key, "run_id")): str(table.get_cell(key, "lr")) for key in table.rows}
        assert cells == {"run-1": "0.05", "run-2": "0.05*"}


async def test_the_runs_table_shows_how_runs_did_at_100_columns(tmp_path):
    curve_run(tmp_path, "20260103-090100-scalar-0001", CONFIG)
    app = Host(RunsTableScreen(tmp_path, refresh_seconds=0))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.table
        widths, right = {}, 0
        for key, column in table.columns.items():
            right += column.get_render_width(table)
            widths[key.value] = right
        assert widths["seconds"] <= SIZE[0] - 2  # status, lr, epochs, best val, test and time without scrolling


async def test_a_record_that_is_a_fifo_is_named_not_waited_on(tmp_path):
    runs = three_lrs(tmp_path)
    record = runs[2] / "events.jsonl"
    record.unlink()
    os.mkfifo(record)  # no writer: opening it for reading without O_NONBLOCK would wait for ever
    screen = CompareScreen(runs, None, settings_file=tmp_path / "s.toml", live_refresh=0)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert [len(run.curves["train_loss"].value) for run in screen.runs] == [120, 120, 0]
        messages = [n.message for n in app._notifications]
        assert any(f"{record}: a FIFO, not a regular file" in m for m in messages)


async def test_both_footers_fit_whole_at_100_columns(tmp_path):
    runs = three_lrs(tmp_path)
    app = Host(RunsTableScreen(tmp_path, refresh_seconds=0))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert cut_footer_keys(app.screen) == []
    screen = CompareScreen(runs, runs[0], export_dir=tmp_path, settings_file=tmp_path / "s.toml", live_refresh=0)
    app = Host(screen)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert cut_footer_keys(screen) == []


async def test_a_live_run_compared_is_read_on_from_where_its_last_read_stopped(tmp_path):
    # A run still writing (a line half written at the end): the comparison draws what is complete, and a
    # refresh reads only the bytes added since (the records are > READ_AT_ONCE_BYTES-free: all on the UI thread).
    done = curve_run(tmp_path, "done", CONFIG)
    source = curve_run(tmp_path / "src", "live", CONFIG, finish=False)
    data = (source / "events.jsonl").read_bytes()
    live = tmp_path / "live"
    live.mkdir()
    (live / "config.json").write_bytes((source / "config.json").read_bytes())
    half = data.index(b"\n", len(data) // 2) + 20  # mid-line
    (live / "events.jsonl").write_bytes(data[:half])
    screen = CompareScreen([done, live], None, settings_file=tmp_path / "s.toml", live_refresh=0)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = screen.read[live]
        assert first.tail.offset == data.rfind(b"\n", 0, half) + 1
        steps_before = first.curves["train_loss"].step[-1]
        assert screen._records_size() == half - first.tail.offset  # only the unfinished line is unread
        with open(live / "events.jsonl", "ab") as fh:
            fh.write(data[half:])
        assert screen._records_size() == len(data) - first.tail.offset
        screen.refresh_live()
        await settle(pilot)
        again = screen.read[live]
        assert again.tail.offset == len(data) and again.curves["train_loss"].step[-1] > steps_before
        assert again.curves == screen.read[done].curves  # the same run in full: the same curves
