"""The compare screen: several runs overlaid on loss and accuracy, chart controls, crosshair, config diff."""

from __future__ import annotations

import os
import stat
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Static

from core.compare import ChartView, build_view, config_diff, crosshair_stops, readings_at
from core.records.curves import RunCurves, load_run
from core.records.export import export_csv
from core.records.files import EVENTS_FILE
from core.settings import ChartSettings, load_settings, save_settings
from tui.compare.commands import ChartCommands
from tui.compare.plot import ComparePlot
from tui.footer_fit import KeyFooter, fit_footer
from tui.kept_screen import KeptScreen

ZOOMS = (1.0, 2.0, 4.0, 8.0, 16.0)
# Records up to this size are read on the UI thread when opened: up to ~32 ms, less than a thread and a frame more.
READ_AT_ONCE_BYTES = 1024 * 1024
LIVE_REFRESH_SECONDS = 2.0


def swatch(colour: tuple[int, int, int], char: str = "━━") -> Text:
    return Text(char, style="rgb({},{},{})".format(*colour))


class CompareScreen(KeptScreen):
    """Runs overlaid in their own colours; the baseline on top; keys and the command palette tune the charts."""

    COMMANDS = {ChartCommands}
    DEFAULT_CSS = """
    CompareScreen { layout: vertical; }
    CompareScreen #compare-status { height: auto; max-height: 2; padding: 0 1; background: $boost; }
    CompareScreen #compare-plots { height: 1fr; min-height: 8; }
    CompareScreen ComparePlot { width: 1fr; }
    CompareScreen #compare-legend { height: auto; max-height: 3; padding: 0 1; }
    CompareScreen #compare-readout { height: auto; max-height: 7; padding: 0 1; }
    CompareScreen #compare-diff { height: auto; max-height: 7; }
    """
    BINDINGS = [
        Binding("plus,equals_sign,right_square_bracket", "smoothing(1)", "smooth+", key_display="+"),
        Binding("minus,left_square_bracket", "smoothing(-1)", "smooth-", key_display="-"),
        Binding("l", "log_loss", "log loss"),
        Binding("x", "x_axis", "x axis"),
        Binding("w", "window", "window"),
        Binding("z", "zoom(1)", "zoom in"),
        Binding("Z", "zoom(-1)", "zoom out", show=False),
        Binding("y", "y_mode", "y range"),
        Binding("g", "group_seeds", "seeds", show=False),
        Binding("left", "crosshair(-1)", "crosshair", show=False),
        Binding("right", "crosshair(1)", "crosshair", show=False),
        Binding("shift+left", "crosshair(-10)", show=False),
        Binding("shift+right", "crosshair(10)", show=False),
        Binding("e", "export_csv", "CSV"),
        Binding("S", "screenshot", "SVG"),
        Binding("escape", "back", "back"),
    ]

    def __init__(self, run_dirs: Sequence[str | os.PathLike], baseline: str | os.PathLike | None = None, *,
                 export_dir: str | os.PathLike | None = None, settings_file: str | os.PathLike | None = None,
                 capacity: int = 1024, live_refresh: float = LIVE_REFRESH_SECONDS) -> None:
        super().__init__()
        self.run_dirs = [Path(d) for d in run_dirs]
        self.baseline = Path(baseline).name if baseline is not None else None
        self.export_dir = Path(export_dir) if export_dir is not None else None
        self.settings_file = settings_file
        self.capacity = capacity
        self.live_refresh = live_refresh
        self.settings, message = load_settings(settings_file)
        self._settings_message = message
        self.runs: list[RunCurves] = []
        self.group_seeds = True
        self.zoom = 1.0
        self.crosshair: float | None = None
        self.view: ChartView | None = None
        self._told: set[str] = set()  # unreadable records already reported (live runs are reloaded)
        self.live_timer: Timer | None = None  # reloads live runs every `live_refresh` seconds
        self.read: dict[Path, RunCurves] = {}  # every run read so far, by folder: load_run skips unchanged records

    def compose(self) -> ComposeResult:
        yield Static("", id="compare-status")
        with Horizontal(id="compare-plots"):
            yield ComparePlot("loss", id="compare-loss")
            yield ComparePlot("accuracy", id="compare-accuracy")
        yield Static("", id="compare-legend")
        yield Static("", id="compare-readout")
        yield DataTable(id="compare-diff", cursor_type="none", zebra_stripes=True)
        yield KeyFooter()

    def on_resize(self, event: events.Resize) -> None:
        fit_footer(self, event.size.width)

    def on_mount(self) -> None:
        if self._settings_message:
            self.notify(self._settings_message, severity="warning", timeout=8)
        self.load()
        if self.live_refresh > 0:
            self.live_timer = self.set_interval(self.live_refresh, self.refresh_live)

    def compare(self, run_dirs: Sequence[str | os.PathLike], baseline: str | os.PathLike | None = None) -> None:
        """Show these runs instead (the runs table keeps one compare screen): the chart settings stay, the rest
        starts afresh, and nothing of the runs shown before is drawn while these load."""
        self.run_dirs = [Path(d) for d in run_dirs]
        self.baseline = Path(baseline).name if baseline is not None else None
        self.runs, self.view, self.zoom, self.crosshair = [], None, 1.0, None
        if not self.is_mounted:
            return  # on_mount loads them
        for plot in self.query(ComparePlot):
            plot.clear()
        for name in ("#compare-status", "#compare-legend", "#compare-readout"):
            self.query_one(name, Static).update("")
        self.query_one("#compare-diff", DataTable).clear(columns=True)
        self.load()

    def on_screen_suspend(self) -> None:
        if self.live_timer is not None:
            self.live_timer.pause()  # kept behind the runs table: no live run is read for nobody

    def on_screen_resume(self) -> None:
        if self.live_timer is not None:
            self.live_timer.resume()

    def load(self) -> None:
        """Read every run: small records at once (cheaper than a thread and a frame drawn in between), others off
        the UI thread, a handmade-engine run training beside the UI stepping aside meanwhile."""
        if self._records_size() <= READ_AT_ONCE_BYTES:
            self.show_runs([load_run(d, capacity=self.capacity, previous=self.read.get(d)) for d in self.run_dirs])
            return
        hold = getattr(self.app, "hold_training", None)  # the dashboard's app has one; a bare host does not
        self._read_runs(hold() if hold is not None else None)

    def _records_size(self) -> int:
        """The bytes a load would read (of a record read before, what was added since: a live run's new lines);
        past READ_AT_ONCE_BYTES if one cannot be looked at (the thread says why)."""
        total = 0
        for run_dir in self.run_dirs:
            try:
                found = (run_dir / EVENTS_FILE).stat()
            except OSError:
                return READ_AT_ONCE_BYTES + 1
            if not stat.S_ISREG(found.st_mode):  # a FIFO or a device: never opened on the UI thread
                return READ_AT_ONCE_BYTES + 1
            previous = self.read.get(run_dir)
            ident = (found.st_dev, found.st_ino)
            total += previous.unread_bytes(found.st_size, ident) if previous is not None else found.st_size
        return total

    @work(thread=True, exclusive=True, group="compare-load")
    def _read_runs(self, release) -> None:
        """Read every run (bounded memory each), show them, and let the trainer go once they are drawn."""
        try:
            runs = [load_run(d, capacity=self.capacity, previous=self.read.get(d)) for d in self.run_dirs]
            self.app.call_from_thread(self.show_runs, runs)
        finally:
            if release is not None:
                self.app.call_from_thread(self.call_after_refresh, release)

    def refresh_live(self) -> None:
        if any(run.row.status == "live" for run in self.runs):
            self.load()

    def show_runs(self, runs: list[RunCurves]) -> None:
        """Take freshly loaded runs: redraw the charts and the config diff (and say which records are unreadable)."""
        if [run.path for run in runs] != self.run_dirs:
            return  # read for the runs shown before `compare` changed them: stale
        self.read.update((run.path, run) for run in runs)  # unchanged records are not read again (load_run)
        unreadable = [run.problem for run in runs if run.problem and run.problem not in self._told]
        if unreadable:
            self._told.update(unreadable)
            self.notify("\n".join(unreadable), title="Records not read", severity="warning", timeout=8)
        self.runs = runs
        self.redraw()
        colour_of = {rid: line.colour for line in self.view.legend() for rid in line.members} if self.view else {}
        headings, cells = config_diff([run.row for run in runs])
        table = self.query_one("#compare-diff", DataTable)
        table.clear(columns=True)
        table.add_columns(*headings)
        for row in cells:
            colour = colour_of.get(row[0])
            mark = "★ " if row[0] == self.baseline else "● "
            table.add_row(Text.assemble(swatch(colour, mark), row[0]) if colour else row[0], *row[1:])

    def _view(self) -> ChartView:
        return build_view(self.runs, self.settings, baseline=self.baseline, group_seeds=self.group_seeds,
                          zoom=self.zoom, centre=self.crosshair)

    def redraw(self) -> None:
        """Rebuild the view from the runs and settings, then both plots, legend, readout and status."""
        view = self.view = self._view()
        stops = crosshair_stops(view)
        if self.crosshair is None and stops:
            self.crosshair = stops[-1]
        for plot in self.query(ComparePlot):
            plot.draw(view, self.crosshair)
        legend = Text()
        for line in view.legend():
            legend.append_text(swatch(line.colour))
            legend.append(f" {line.label}   ", style="bold" if line.baseline else "")
        self.query_one("#compare-legend", Static).update(legend)
        self.query_one("#compare-readout", Static).update(self.readout())
        s = self.settings
        # Wraps to a second line at small widths (at word boundaries) rather than losing its end.
        self.query_one("#compare-status", Static).update(
            f"{len(self.runs)} runs · smoothing {s.smoothing:g} · x {view.x_label} · window "
            f"{'all' if not s.window else f'last {s.window}'} · y "
            f"{'ignore outliers' if s.y_mode == 'outliers' else 'auto'} · loss {'log10' if s.log_loss else 'linear'}"
            f" · zoom {self.zoom:g}× · seeds {'grouped' if self.group_seeds else 'apart'}")

    def readout(self) -> Text:
        """Exact values of every overlaid run at the crosshair (nearest point of each line)."""
        view = self.view
        if view is None or self.crosshair is None:
            return Text("")
        out = Text()
        out.append(f"at {view.x_label} {self.crosshair:g} (←/→ move the crosshair)", style="dim")
        readings = readings_at(view.lines, self.crosshair)
        width = min(28, max((len(entry.label) for entry in view.legend()), default=0))
        for entry in view.legend():
            parts = {r.series: r for r in readings if r.label == entry.label}
            out.append("\n")
            out.append_text(swatch(entry.colour, "● "))
            out.append(f"{entry.label[:width]:<{width}} ", style="bold" if entry.baseline else "")
            for series, name in (("train_loss", "loss"), ("val_loss", "val"), ("train_accuracy", "acc"),
                                 ("val_accuracy", "val")):
                r = parts.get(series)
                if r is None:  # a validation value before its first epoch ended: nothing measured yet
                    out.append(f"  {name} {'-':<7}")
                    continue
                out.append(f"  {name} {self._value(series, r.value):<7}")
                if series.startswith("train") and self.settings.smoothing > 0:
                    out.append(f" ({self._value(series, r.raw)})".ljust(10), style="dim")
        return out

    def _value(self, series: str, value: float) -> str:
        if series.endswith("accuracy"):
            return f"{value:.1f}%"
        return f"{10 ** value if self.settings.log_loss else value:.4g}"

    def change(self, settings: ChartSettings) -> None:
        """Apply new chart settings, remember them for next time, redraw."""
        self.settings = settings
        try:
            save_settings(settings, self.settings_file)
        except OSError as exc:
            self.notify(f"chart settings not saved: {exc.strerror or exc}", severity="warning")
        self.redraw()

    def action_smoothing(self, direction: int) -> None:
        self.change(self.settings.smoother(direction))

    def action_log_loss(self) -> None:
        self.change(replace(self.settings, log_loss=not self.settings.log_loss))

    def action_x_axis(self) -> None:
        self.crosshair = None
        self.change(self.settings.next_x_axis())

    def action_window(self) -> None:
        self.change(self.settings.next_window())

    def action_y_mode(self) -> None:
        self.change(self.settings.next_y_mode())

    def action_zoom(self, direction: int) -> None:
        i = ZOOMS.index(self.zoom) if self.zoom in ZOOMS else 0
        self.zoom = ZOOMS[max(0, min(len(ZOOMS) - 1, i + direction))]
        self.redraw()

    def action_group_seeds(self) -> None:
        self.group_seeds = not self.group_seeds
        self.show_runs(self.runs)

    def action_crosshair(self, steps: int) -> None:
        stops = crosshair_stops(self.view) if self.view else []
        if not stops:
            return
        here = min(range(len(stops)), key=lambda i: abs(stops[i] - (self.crosshair or 0.0)))
        self.crosshair = stops[max(0, min(len(stops) - 1, here + steps))]
        self.redraw()

    def _out_dir(self) -> Path:
        return self.export_dir if self.export_dir is not None else Path.cwd()

    def export(self, path: Path | None = None) -> tuple[Path, int]:
        """Write the shown series (every point of the window, the screen's x axis and smoothing) as CSV."""
        path = path or self._out_dir() / f"compare-{time.strftime('%Y%m%d-%H%M%S')}.csv"
        window = self.settings.window
        newest = max((run.newest_step for run in self.runs), default=0.0)
        rows = export_csv(self.run_dirs, path, x_axis=self.settings.x_axis, smoothing=self.settings.smoothing,
                          since_step=newest - window if window else 0)
        return path, rows

    @work(thread=True, group="compare-export")
    def action_export_csv(self) -> None:
        try:
            path, rows = self.export()
        except (OSError, ValueError) as exc:
            self.app.call_from_thread(self.notify, f"CSV not written: {exc}", severity="error")
            return
        self.app.call_from_thread(self.notify, f"{rows} rows written to {path}")

    def action_screenshot(self) -> None:
        path = self.app.save_screenshot(path=str(self._out_dir()))
        self.notify(f"screen saved as {path}")

    def action_back(self) -> None:
        self.dismiss(None)
