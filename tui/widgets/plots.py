"""Live curves: loss and accuracy (train and validation) against optimiser steps, previous run dimmed.

Drawn from the runs' folds (core.records.fold.RunFold): the training curves smoothed by core.records.curves.smooth
at the chart settings' smoothing (as the compare screen and the CSV export), epoch ends and learning-rate changes
marked from the fold.
"""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
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
    """A PlotextPlot that rebuilds its text only after a redraw or a resize, not on every repaint.

    Building a plotext figure takes milliseconds of pure Python; a modal screen closing or a key press
    repaints the whole screen, and must not pay for two figures again.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.generation = 0
        self._cached_key: tuple | None = None
        self._cached = None

    def render(self):
        key = (self.generation, self.size, self.app.theme)
        if key != self._cached_key:
            self._cached = super().render()
            self._cached_key = key
        return self._cached


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
