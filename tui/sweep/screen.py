"""The sweep screen: trials live, the best so far, parallel coordinates, importance; picked trials compared."""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Static

from core.sweeps.view import fmt_value, reproduce
from tui.footer_fit import KeyFooter
from tui.sweep.charts import LEVELS, best_curve, importance_bars, level, objective_range, parallel
from tui.sweep.source import SweepError, SweepSnapshot, SweepSource

REFRESH_SECONDS = 2.0
STATE_STYLES = {"running": "bold green", "waiting": "dim", "pruned": "yellow", "failed": "red", "complete": ""}


class SweepChart(Widget):
    """One of the sweep's pictures, drawn for the widget's size from the latest snapshot."""

    DEFAULT_CSS = "SweepChart { height: 1fr; border: round $panel; padding: 0 1; }"

    def __init__(self, kind: str, *, id: str) -> None:
        super().__init__(id=id)
        self.kind = kind
        self.snapshot: SweepSnapshot | None = None

    def show(self, snapshot: SweepSnapshot) -> None:
        self.snapshot = snapshot
        self.refresh(layout=True)  # the importance panel's height follows its number of parameters

    def render(self) -> Text:
        snap = self.snapshot
        width, height = max(4, self.content_size.width), max(2, self.content_size.height)
        if snap is None:
            return Text("reading the study...", style="dim")
        if self.kind == "parallel":
            return parallel(snap.rows, snap.spec.spaces, snap.spec.direction, width, height)
        if self.kind == "curve":
            return best_curve(snap.curve, snap.finished_values, width, height, snap.spec.direction)
        return importance_bars(snap.importance, width)


class SweepScreen(Screen[None]):
    """A sweep's trials (space selects, enter or c compares them), refreshed while trials run anywhere."""

    DEFAULT_CSS = """
    SweepScreen { layout: vertical; }
    SweepScreen #sweep-title { height: 1; padding: 0 1; background: $boost; }
    SweepScreen #sweep-top { height: 1fr; min-height: 8; }
    SweepScreen #sweep-trials { width: 3fr; height: 1fr; }
    SweepScreen #sweep-side { width: 2fr; }
    SweepScreen #sweep-importance { height: auto; max-height: 8; min-height: 3; }
    SweepScreen #sweep-parallel { height: 12; }
    SweepScreen #sweep-best { height: auto; max-height: 2; padding: 0 1; }
    """
    BINDINGS = [
        Binding("space", "toggle_select", "select"),
        Binding("enter", "compare", "compare", show=False),
        Binding("c", "compare", "compare"),
        Binding("r", "reload", "refresh"),
        Binding("escape", "back", "back"),
    ]

    def __init__(self, folder: str | os.PathLike, *, refresh_seconds: float = REFRESH_SECONDS) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.refresh_seconds = refresh_seconds
        self.source: SweepSource | None = None
        self.snapshot: SweepSnapshot | None = None
        self.selected: set[int] = set()
        self.loads = 0  # snapshots shown (tests wait on it)

    def compose(self) -> ComposeResult:
        yield Static(f"sweep {self.folder.name}: reading the study...", id="sweep-title")
        with Horizontal(id="sweep-top"):
            yield DataTable(id="sweep-trials", cursor_type="row", zebra_stripes=True)
            with Vertical(id="sweep-side"):
                yield SweepChart("curve", id="sweep-curve")
                yield SweepChart("importance", id="sweep-importance")
        yield SweepChart("parallel", id="sweep-parallel")
        yield Static("", id="sweep-best")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#sweep-curve").border_title = "best so far"
        self.query_one("#sweep-importance").border_title = "parameter importance (Optuna, PED-ANOVA)"
        self.query_one("#sweep-parallel").border_title = "parallel coordinates (colour: objective, dim: pruned)"
        self.action_reload()
        if self.refresh_seconds > 0:
            self.set_interval(self.refresh_seconds, self.action_reload)

    @work(thread=True, exclusive=True, group="sweep-load")
    def action_reload(self) -> None:
        """Read the study off the UI thread (a database may be across the network)."""
        try:
            if self.source is None:
                self.source = SweepSource(self.folder)
            snapshot = self.source.snapshot()
        except (SweepError, OSError, ValueError, KeyError) as exc:
            self.app.call_from_thread(self.show_problem, str(exc))
            return
        except Exception as exc:  # a database that went away: say so, keep the screen
            self.app.call_from_thread(self.show_problem, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self.show, snapshot)

    def show_problem(self, text: str) -> None:
        self.query_one("#sweep-title", Static).update(Text(f"sweep {self.folder.name}: {text}", style="red"))

    def show(self, snapshot: SweepSnapshot) -> None:
        """Put a snapshot on screen: title, table (cursor kept), charts, the best trial's command."""
        self.snapshot = snapshot
        spec = snapshot.spec
        tally = ", ".join(f"{n} {word}" for word, n in sorted(snapshot.counts.items()))
        best = snapshot.best
        title = f"sweep {spec.name}: {len(snapshot.rows)} trials ({tally}) · {spec.objective} ({spec.direction})"
        if best is not None:
            title += f" · best {fmt_value(best.value)} (trial {best.number})"
        self.query_one("#sweep-title", Static).update(title)
        self._fill_table(snapshot)
        for chart in self.query(SweepChart):
            chart.show(snapshot)
        text = Text()
        if best is not None:
            text.append("best: ", style="bold")
            text.append(reproduce(spec, best.params))
        self.query_one("#sweep-best", Static).update(text)
        self.loads += 1

    def _fill_table(self, snapshot: SweepSnapshot) -> None:
        table = self.query_one("#sweep-trials", DataTable)
        params = [s.field for s in snapshot.spec.spaces]
        heads = [" ", "trial", "state", *params, "value", "epoch", "best", "pruned at"]
        row_at = table.cursor_row
        if [str(c.label) for c in table.columns.values()] != heads:
            table.clear(columns=True)
            table.add_columns(*heads)
        else:
            table.clear()
        span = objective_range(snapshot.rows, snapshot.spec.direction)
        for row in snapshot.rows:
            value = Text(fmt_value(row.value))
            if row.value is not None and span is not None and row.state == "complete":
                value.stylize(LEVELS[level(row.value, *span)])
            mark = Text("●", style="bold") if row.number in self.selected else Text(" ")
            table.add_row(mark, str(row.number), Text(row.state, style=STATE_STYLES.get(row.state, "")),
                          *[fmt_value(row.params.get(p)) for p in params], value, fmt_value(row.epoch),
                          fmt_value(row.best), fmt_value(row.pruned_at), key=str(row.number))
        if snapshot.rows:
            table.move_cursor(row=min(row_at, len(snapshot.rows) - 1))

    def _cursor_number(self) -> int | None:
        table = self.query_one("#sweep-trials", DataTable)
        if self.snapshot is None or not self.snapshot.rows or table.cursor_row < 0:
            return None
        return self.snapshot.rows[min(table.cursor_row, len(self.snapshot.rows) - 1)].number

    def action_toggle_select(self) -> None:
        number = self._cursor_number()
        if number is None:
            return
        self.selected ^= {number}
        if self.snapshot is not None:
            self._fill_table(self.snapshot)

    def action_compare(self) -> None:
        """The selected trials (or the one under the cursor) in the compare screen."""
        if self.snapshot is None or self.source is None:
            return
        numbers = sorted(self.selected) or ([n] if (n := self._cursor_number()) is not None else [])
        rows = [r for r in self.snapshot.rows if r.number in numbers]
        paths = [p for p in (self.source.run_path(r) for r in rows) if p is not None]
        if not paths:
            self.notify("No run folder on this machine for those trials yet (waiting, or run elsewhere).",
                        severity="warning")
            return
        from tui.compare import CompareScreen

        self.app.push_screen(CompareScreen(paths, export_dir=self.source.runs_dir))

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        else:
            self.app.exit()
