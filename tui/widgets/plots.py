"""Live curves: loss and accuracy (train and validation) against optimiser steps, previous run dimmed.

Drawn from the runs' folds (core.records.fold.RunFold): the training curves smoothed by core.records.curves.smooth
at the chart settings' smoothing (as the compare screen and the CSV export), epoch ends and learning-rate changes
marked from the fold.
"""

from __future__ import annotations

import math

from plotext._utility import colors_to_ansi
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import Static
from textual_plotext import PlotextPlot

from core.records.curves import smooth
from core.records.fold import Column, RunFold
from tui.history import History

TRAIN = (80, 170, 255)
TRAIN_RAW = (45, 80, 120)  # the unsmoothed per-report values, behind the smoothed line
VAL = (255, 160, 40)
PREVIOUS = (100, 100, 100)
EPOCH_LINE = (70, 70, 70)
LR_COLOR = (220, 80, 220)
DEFAULT_SMOOTHING = 0.6  # the chart settings' default (core.settings.ChartSettings.smoothing)
# plotext draws its legend over the data (where a falling loss starts), so the legend is a line below.
LEGEND = (
    "[rgb(80,170,255)]━━[/] train (faint: raw)  [rgb(255,160,40)]━━[/] validation  "
    "[rgb(100,100,100)]━━[/] previous run  [rgb(90,90,90)]│[/] epoch end"
)
LR_LEGEND = "  [rgb(220,80,220)]│[/] lr change"


def legend(run: RunFold | None) -> str:
    """The legend line below the plots (the rate-change mark named once the run has one)."""
    return LEGEND + (LR_LEGEND if run is not None and run.lr_changes else "")


def curve_points(column: Column, scale: float = 1.0, most: int = 0,
                 smoothing: float = 0.0) -> tuple[list[float], list[float], list[float]]:
    """(xs, raw, smoothed) of a fold's curve, as the plot draws it.

    Smoothed with core.records.curves.smooth over every point the fold kept (the compare screen and the CSV's
    `smoothed` column do the same), then scaled, without NaN/inf (a diverged run), thinned to about `most`
    points: a braille canvas has two dots per column, so more points only cost build time, which the UI
    thread pays while the handmade engine competes for the GIL.
    """
    xs, ys = column.points()
    soft = smooth(ys, smoothing) if smoothing > 0 else ys
    keep = [(x, y * scale, s * scale) for x, y, s in zip(xs, ys, soft, strict=True)
            if math.isfinite(y) and math.isfinite(s)]
    if most and len(keep) > most:
        stride = -(-len(keep) // most)
        keep = keep[::stride] + ([keep[-1]] if (len(keep) - 1) % stride else [])
    return [x for x, _, _ in keep], [y for _, y, _ in keep], [s for _, _, s in keep]


def finite(series: Column, scale: float = 1.0, most: int = 0) -> tuple[list[float], list[float]]:
    """The series' points without NaN/inf, scaled, thinned to about `most` points (unsmoothed)."""
    xs, ys, _ = curve_points(series, scale, most)
    return xs, ys


class CurvePlot(PlotextPlot):
    """A PlotextPlot drawn line by line from plotext's own character matrix, rebuilt only after a redraw or resize.

    textual-plotext asks plotext for its figure as one string of ANSI codes, which Rich then parses back into
    styled text and Textual turns into lines: for the compare screen's two plots that round trip was two thirds
    of a key press's frame (cProfile, bench/tui_latency.py). Here the figure's matrix (a character, foreground,
    style and background per cell) becomes Strips directly, each cell's style parsed once per colour ever seen
    (`cell_style`), so a figure is built once per `generation`, size, theme and base style, never on a repaint.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.generation = 0
        self._cached_key: tuple | None = None
        self._strips: list[Strip] = []
        self._blank = Strip.blank(0)

    def render_lines(self, crop: Region) -> list[Strip]:
        base = self.rich_style  # once per repaint, not per line: it walks the ancestors' styles
        key = (self.generation, self.size, self.app.theme, base)
        if key != self._cached_key:
            self._strips = self.build_strips(base)
            self._blank = Strip.blank(self.size.width, base)
            self._cached_key = key
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        return self._strips[y] if 0 <= y < len(self._strips) else self._blank

    def build_strips(self, base: Style) -> list[Strip]:
        """Build the figure at the widget's size (as PlotextPlot.render does) and read its matrix into Strips."""
        width, height = self.size
        if width <= 0 or height <= 0 or not self.generation:  # nothing drawn yet (the compare screen's runs load)
            return []
        figure = self._plot
        figure.plotsize(width, height)
        figure._set_size(width, height)  # as PlotextPlot.render: plotsize alone does not resize (textual-plotext#5)
        figure.theme(self._get_plotext_theme_name(self.app.theme))
        figure._set_sizes()  # figure.build() without its last step, the ANSI string
        figure._build_matrix()
        return matrix_strips(figure.monitor.matrix, base)


_CELL_STYLES: dict[tuple, Style] = {}


def cell_style(foreground, style, background) -> Style:
    """The Rich style of a plotext cell's colours, read from the very ANSI codes plotext would have printed."""
    key = (foreground, style, background)
    found = _CELL_STYLES.get(key)
    if found is None:
        spans = Text.from_ansi(colors_to_ansi(foreground, style, background) + "x").spans
        found = _CELL_STYLES[key] = spans[0].style if spans else Style.null()  # type: ignore[assignment]
    return found


def matrix_strips(matrix, base: Style) -> list[Strip]:
    """One Strip per row of a plotext matrix (its rows count from the bottom), runs of one style per Segment.

    Blanks get Segments of their own with only a background (a blank shows no foreground), as Rich's reading of the
    ANSI string gave them: an SVG screenshot, which joins neighbours of one style, then places each word at its cell
    (rsvg-convert, which makes the README's PNGs, draws a long run of spaces narrower than its cells).
    """
    styled: dict[tuple, Style] = {}
    strips = []
    for row in range(matrix.rows - 1, -1, -1):
        markers, fore = matrix.marker[row], matrix.fullground[row]
        kind, back = matrix.style[row], matrix.background[row]
        segments = []
        start, cols = 0, len(markers)
        for col in range(1, cols + 1):
            if (col < cols and fore[col] == fore[start] and kind[col] == kind[start] and back[col] == back[start]
                    and (markers[col] == " ") == (markers[start] == " ")):
                continue
            blank = markers[start] == " "
            colours = (fore[start], kind[start], back[start], blank)
            style = styled.get(colours)
            if style is None:
                style = base + cell_style(*colours[:3])
                style = styled[colours] = Style(bgcolor=style.bgcolor) if blank else style
            segments.append(Segment("".join(markers[start:col]), style))
            start = col
        strips.append(Strip(segments))
    return strips


def step_ticks(right: float, most: int = 6) -> list[int]:
    """Whole-number step ticks at a 1/2/5 x 10^k spacing, at most `most` of them."""
    spacing = 1
    while right / spacing > most - 1:
        for factor in (2, 2.5, 2):
            spacing = int(spacing * factor)
            if right / spacing <= most - 1:
                break
    return list(range(0, int(right) + 1, spacing))


class CurvesPane(Vertical):
    """Two PlotextPlots redrawn from the history on the app's timer (never per event)."""

    def __init__(self, *args, smoothing: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.smoothing = smoothing  # None: the chart settings' smoothing, read on mount

    def compose(self) -> ComposeResult:
        with Horizontal(id="plots"):
            yield CurvePlot(id="loss-plot")
            yield CurvePlot(id="accuracy-plot")
        yield Static(LEGEND, id="plot-legend")

    def on_mount(self) -> None:
        if self.smoothing is None:
            from core.settings import load_settings  # noqa: PLC0415 - a file read the first frame need not wait for

            self.smoothing = load_settings()[0].smoothing

    def redraw(self, history: History) -> None:
        """Rebuild both figures and refresh the plot widgets themselves (plotext does not)."""
        run, previous = history.current, history.previous
        self.draw(self.query_one("#loss-plot", CurvePlot), "loss", run, previous)
        self.draw(self.query_one("#accuracy-plot", CurvePlot), "accuracy", run, previous)
        self.query_one("#plot-legend", Static).update(legend(run))

    def draw(self, widget: CurvePlot, kind: str, run: RunFold | None, previous: RunFold | None) -> None:
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        scale = 100.0 if kind == "accuracy" else 1.0
        weight = DEFAULT_SMOOTHING if self.smoothing is None else self.smoothing
        top, right = 0.0, 1.0
        most = 2 * max(20, widget.size.width)
        for current, item in ((False, previous), (True, run)):
            if item is None:
                continue
            train = item.train_accuracy if kind == "accuracy" else item.train_loss
            val = item.val_accuracy if kind == "accuracy" else item.val_loss
            xs, raw, soft = curve_points(train, scale, most, weight)
            if xs:
                top, right = max(top, max(raw)), max(right, xs[-1])
                if current and weight > 0:
                    plt.plot(xs, raw, color=TRAIN_RAW, marker="braille")
                plt.plot(xs, soft, color=TRAIN if current else PREVIOUS, marker="braille")
            xs, ys = finite(val, scale, most)
            if xs:
                top, right = max(top, max(ys)), max(right, xs[-1])
                plt.plot(xs, ys, color=VAL if current else PREVIOUS, marker="braille")
            if current:
                marks = item.marks()
                for step in marks.epochs:
                    plt.vline(step, color=EPOCH_LINE)
                for step in marks.lr_changes:
                    plt.vline(step, color=LR_COLOR)
        if kind == "accuracy":
            plt.ylim(0, 100)
            plt.title("accuracy %")
        else:
            plt.ylim(0, max(top * 1.05, 0.1))
            plt.title("loss")
        plt.xticks(step_ticks(right))
        plt.xlim(0, right)
        plt.xlabel("step")
        widget.generation += 1
        widget.refresh()
