"""The runs table: every run in the runs folder, sortable, filterable, refreshed; pick runs to open or compare."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from core.compare import assign_colours
from core.records.files import EVENTS_FILE
from core.records.runindex import RunRow, filter_rows, list_runs_table, sort_rows
from core.records.scan import RateScan
from tui.compare.screen import CompareScreen
from tui.footer_fit import KeyFooter
from tui.status_style import STATUS_STYLE

COMPARE = "compare"  # the name the kept compare screen is installed under

# (RunRow field, heading); "mark" is the selection / baseline column. Outcomes come before the settings that
# describe a run, so that at 100 columns the table shows how each run did without scrolling (the run id names
# its backend already).
COLUMNS = (("mark", " "), ("run_id", "run"), ("status", "status"), ("lr", "lr"), ("epochs_done", "epochs"),
           ("best_val_accuracy", "best val"), ("test_accuracy", "test"), ("seconds", "time"), ("shape", "network"),
           ("optimizer", "optimiser"), ("backend", "backend"), ("started", "started"))
SORTABLE = [key for key, _ in COLUMNS if key != "mark"]
REFRESH_SECONDS = 2.0


@dataclass(frozen=True)
class RunsChoice:
    """What the user picked: "open" one run (a comparison is pushed over the table itself, not returned)."""

    action: str
    runs: tuple[Path, ...]
    baseline: Path | None = None


def row_cells(row: RunRow, mark: Text, changed: bool = False) -> list[Text | str]:
    """The table's cells of one run (`changed`: its learning rate changed during the run, marked *)."""
    cells: list[Text | str] = [mark]
    for key, _ in COLUMNS[1:]:
        if key == "lr" and changed:
            cells.append(Text.assemble(row.cell("lr"), ("*", "bold magenta")))
        elif key == "epochs_done":
            done = "-" if row.epochs_done is None else str(row.epochs_done)
            cells.append(done + (f"/{row.epochs}" if row.epochs is not None else ""))
        elif key == "started":
            cells.append("-" if row.started is None else time.strftime("%m-%d %H:%M", time.localtime(row.started)))
        elif key == "status":
            cells.append(Text(row.cell("status"), style=STATUS_STYLE.get(row.status, "")))
        else:
            cells.append(row.cell(key))
    return cells


class RunsTableScreen(Screen[RunsChoice | None]):
    """Every run as a row; space selects, b pins the baseline, enter opens, c compares the selection."""

    DEFAULT_CSS = """
    RunsTableScreen { layout: vertical; }
    RunsTableScreen #runs-title { height: 1; padding: 0 1; background: $boost; }
    RunsTableScreen #runs-filter { height: 3; }
    RunsTableScreen #runs-table { height: 1fr; }
    RunsTableScreen #runs-hint { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("space", "toggle_select", "select"),
        Binding("b", "baseline", "baseline"),
        Binding("c", "compare", "compare"),
        Binding("enter", "open", "open", show=True),
        Binding("s", "sort_next", "sort"),
        Binding("r", "sort_reverse", "reverse"),
        Binding("slash", "filter", "filter"),
        Binding("w", "sweep", "sweep"),  # tui/sweep: the trial's sweep, else the newest
        Binding("escape", "back", "back"),
    ]

    def __init__(self, runs_dir: str | os.PathLike, *, selected: tuple[str, ...] = (), baseline: str | None = None,
                 refresh_seconds: float = REFRESH_SECONDS,
                 on_compare: Callable[[tuple[Path, ...]], None] | None = None,
                 settings_file: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.rows: list[RunRow] = []
        self.shown: list[RunRow] = []
        self.selected: list[str] = list(selected)
        self.baseline = baseline
        self.sort_column, self.descending = "run_id", True  # newest run first
        self.refresh_seconds = refresh_seconds
        self._drawn: list | None = None
        self._typing = False  # a filter is being typed: letters go to it, bound or not
        self.rates = RateScan()  # each run's starting learning rate, read incrementally
        self.changed: dict[str, bool] = {}  # run id -> its learning rate changed during the run
        self.on_compare = on_compare
        self.settings_file = settings_file

    def compose(self) -> ComposeResult:
        yield Static(f"Runs in {self.runs_dir} · lr: the starting rate, * when it changed", id="runs-title")
        # select_on_focus off: the letter that started the filter must not be replaced by the next one
        keys = " ".join(sorted(b.key for b in self.BINDINGS if len(b.key) == 1 and b.key.isalpha()))
        yield Input(placeholder=f"filter by typing: a status, backend or setting (lr=0.1); / first for {keys}",
                    id="runs-filter", select_on_focus=False)
        table: DataTable = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        for key, heading in COLUMNS:
            table.add_column(heading, key=key)
        yield table
        yield Static("", id="runs-hint")
        yield KeyFooter()

    @property
    def table(self) -> DataTable:
        return self.query_one("#runs-table", DataTable)

    def on_mount(self) -> None:
        self.show_rows(self.read_rows())
        self.table.focus()
        if self.refresh_seconds > 0:
            self.set_interval(self.refresh_seconds, self.reload)

    @work(thread=True, exclusive=True, group="runs-table")
    def reload(self) -> None:
        """Read the runs folder again off the UI thread (runs start and finish meanwhile)."""
        rows = self.read_rows()
        self.app.call_from_thread(self.show_rows, rows)

    def read_rows(self) -> list[RunRow]:
        """The runs, each with the learning rate it started with (config.json holds the last one in force)."""
        rows = []
        for row in list_runs_table(self.runs_dir):
            start, changed = self.rates.of(row.path / EVENTS_FILE)
            if start is not None:
                row = replace(row, lr=start)
            self.changed[row.run_id] = changed
            rows.append(row)
        return rows

    def show_rows(self, rows: list[RunRow]) -> None:
        """Take a fresh list of runs; redraw the table when what it shows changed."""
        self.rows = rows
        known = {row.run_id for row in rows}
        self.selected = [rid for rid in self.selected if rid in known]
        if self.baseline not in known:
            self.baseline = None
        self.redraw()

    def redraw(self) -> None:
        text = self.query_one("#runs-filter", Input).value
        self.shown = sort_rows(filter_rows(self.rows, text), self.sort_column, descending=self.descending)
        colours = assign_colours(self.selected + ([self.baseline] if self.baseline else []))
        drawn = [row_cells(row, self._mark(row.run_id, colours), self.changed.get(row.run_id, False))
                 for row in self.shown]
        if drawn != self._drawn or self._drawn is None:
            table = self.table
            current = self.current_id()
            table.clear()
            for row, cells in zip(self.shown, drawn, strict=True):
                table.add_row(*cells, key=row.run_id)
            ids = [row.run_id for row in self.shown]
            if current in ids:
                table.move_cursor(row=ids.index(current), animate=False)
            self._drawn = drawn
        arrow = "↓" if self.descending else "↑"
        heading = dict(COLUMNS)[self.sort_column]
        self.query_one("#runs-hint", Static).update(
            f"{len(self.shown)} of {len(self.rows)} runs · sorted by {heading} {arrow} · "
            f"{len(self.selected)} selected · baseline: {self.baseline or 'none'}")

    def _mark(self, run_id: str, colours: dict) -> Text:
        if run_id == self.baseline:
            return Text("★", style=f"bold rgb{colours[run_id]}".replace(" ", ""))
        if run_id in self.selected:
            return Text("●", style=f"rgb{colours[run_id]}".replace(" ", ""))
        return Text(" ")

    def current_id(self) -> str | None:
        """The run under the cursor."""
        table = self.table
        if not self.shown or table.cursor_row < 0 or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row].run_id

    def _path(self, run_id: str) -> Path:
        return next((row.path for row in self.rows if row.run_id == run_id), self.runs_dir / run_id)

    def action_toggle_select(self) -> None:
        run_id = self.current_id()
        if run_id is None:
            return
        if run_id in self.selected:
            self.selected.remove(run_id)
        else:
            self.selected.append(run_id)
        self.redraw()

    def action_baseline(self) -> None:
        run_id = self.current_id()
        if run_id is not None:
            self.baseline = None if self.baseline == run_id else run_id
            self.redraw()

    def action_sort_next(self) -> None:
        self.sort_by(SORTABLE[(SORTABLE.index(self.sort_column) + 1) % len(SORTABLE)])

    def action_sort_reverse(self) -> None:
        self.descending = not self.descending
        self.redraw()

    def sort_by(self, column: str, descending: bool | None = None) -> None:
        if column in SORTABLE:
            self.sort_column = column
            self.descending = descending if descending is not None else False
            self.redraw()

    @on(DataTable.HeaderSelected, "#runs-table")
    def header_clicked(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        self.sort_by(column, not self.descending if column == self.sort_column else False)

    @on(DataTable.RowSelected, "#runs-table")
    def row_chosen(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        run_id = self.current_id()
        if run_id is not None:
            self.dismiss(RunsChoice("open", (self._path(run_id),), self._baseline_path()))

    class SweepWanted(Message):
        """`w`: the sweep of this run (a trial), else the newest sweep; the app opens it (tui/sweep imports this
        package, so the table asks rather than imports)."""

        def __init__(self, runs_dir: Path, run_dir: Path | None) -> None:
            super().__init__()
            self.runs_dir, self.run_dir = runs_dir, run_dir

    def action_sweep(self) -> None:
        run_id = self.current_id()
        self.post_message(self.SweepWanted(Path(self.runs_dir), self._path(run_id) if run_id is not None else None))

    def action_compare(self) -> None:
        ids = list(self.selected)
        if self.baseline and self.baseline not in ids:
            ids.insert(0, self.baseline)
        if not ids and (current := self.current_id()) is not None:
            ids = [current]
        if len(ids) < 2:
            self.notify("Select two or more runs with space (b pins a baseline), then press c.", severity="warning")
            return
        runs = tuple(self._path(rid) for rid in ids)
        if self.on_compare is not None:
            self.on_compare(runs)  # the inspector compares watched scalars across them
        # Pushed over the table, so that escape from the comparison comes back here, selection and all. One compare
        # screen is kept (installed) for this runs folder: opening it again is a repaint, not a new screen.
        kept = self.app.get_screen(COMPARE) if self.app.is_screen_installed(COMPARE) else None
        if kept is None or kept.export_dir != Path(self.runs_dir) or kept.settings_file != self.settings_file:
            if kept is not None:
                self.app.uninstall_screen(COMPARE)
            kept = CompareScreen(runs, self._baseline_path(), export_dir=self.runs_dir,
                                 settings_file=self.settings_file)
            self.app.install_screen(kept, COMPARE)
        else:
            kept.compare(runs, self._baseline_path())
        self.app.push_screen(COMPARE)

    def _baseline_path(self) -> Path | None:
        return self._path(self.baseline) if self.baseline else None

    def action_filter(self) -> None:
        self.query_one("#runs-filter", Input).focus()

    def action_back(self) -> None:
        field = self.query_one("#runs-filter", Input)
        if field.has_focus or self._typing:
            self._typing = False
            field.value = ""
            self.table.focus()
        else:
            self.dismiss(None)

    @on(Input.Changed, "#runs-filter")
    def filter_changed(self) -> None:
        self.redraw()

    @on(Input.Submitted, "#runs-filter")
    def filter_done(self) -> None:
        self._typing = False
        self.table.focus()

    def on_key(self, event: events.Key) -> None:
        """Typing a letter on the table starts a filter; once it started, every printable key is the filter's.

        A bound letter (s, r, b, c) on the table keeps its meaning until a filter is being typed; from the first
        typed letter on, letters that arrive before the field has taken the focus still go to the field.
        """
        if not self.table.has_focus or not event.is_printable or event.character in (None, " "):
            return
        if event.key in {b.key for b in self.BINDINGS} and not self._typing:
            return
        field = self.query_one("#runs-filter", Input)
        field.value += event.character
        field.cursor_position = len(field.value)
        self._typing = True
        field.focus()
        event.stop()
        event.prevent_default()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if event.widget is not self.table:  # the field has the focus: it takes the keys itself
            self._typing = False
