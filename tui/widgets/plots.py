"""Live curves: loss and accuracy (train and validation) against optimiser steps, previous run dimmed."""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from tui.history import History, RunHistory, Series

TRAIN = (80, 170, 255)
TRAIN_RAW = (45, 80, 120)  # the unsmoothed per-report loss, behind the smoothed line
VAL = (255, 160, 40)
PREVIOUS = (100, 100, 100)
EPOCH_LINE = (70, 70, 70)
# plotext draws its legend over the data (where a falling loss starts), so the legend is a line below.
LEGEND = (
    "[rgb(80,170,255)]━━[/] train (faint: raw)  [rgb(255,160,40)]━━[/] validation  "
    "[rgb(100,100,100)]━━[/] previous run  [rgb(90,90,90)]│[/] epoch end"
)


def finite(series: Series, scale: float = 1.0, most: int = 0) -> tuple[list[float], list[float]]:
    """The series' points without NaN/inf (a diverged run), scaled, thinned to about `most` points.

    A braille canvas has two dots per column, so more points than that only cost build time, which the
    UI thread pays while the handmade engine competes for the GIL.
    """
    xs, ys = series.points()
    keep = [(x, y * scale) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
    if most and len(keep) > most:
        stride = -(-len(keep) // most)
        keep = keep[::stride] + ([keep[-1]] if (len(keep) - 1) % stride else [])
    return [x for x, _ in keep], [y for _, y in keep]


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


def smooth(ys: list[float], span: int) -> list[float]:
    """Exponential moving average over about `span` points (noisy per-report losses become a trend)."""
    if span <= 1 or not ys:
        return list(ys)
    alpha, out, level = 2 / (span + 1), [], ys[0]
    for y in ys:
        level += alpha * (y - level)
        out.append(level)
    return out


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

    def compose(self) -> ComposeResult:
        with Horizontal(id="plots"):
            yield CurvePlot(id="loss-plot")
            yield CurvePlot(id="accuracy-plot")
        yield Static(LEGEND, id="plot-legend")

    def redraw(self, history: History) -> None:
        """Rebuild both figures and refresh the plot widgets themselves (plotext does not)."""
        run, previous = history.current, history.previous
        self.draw(self.query_one("#loss-plot", CurvePlot), "loss", run, previous)
        self.draw(self.query_one("#accuracy-plot", CurvePlot), "accuracy", run, previous)

    def draw(self, widget: CurvePlot, kind: str, run: RunHistory | None, previous: RunHistory | None) -> None:
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        scale = 100.0 if kind == "accuracy" else 1.0
        top, right = 0.0, 1.0
        most = 2 * max(20, widget.size.width)
        for current, item in ((False, previous), (True, run)):
            if item is None:
                continue
            train = item.train_accuracy if kind == "accuracy" else item.train_loss
            val = item.val_accuracy if kind == "accuracy" else item.val_loss
            xs, ys = finite(train, scale, most)
            if xs:
                top, right = max(top, max(ys)), max(right, xs[-1])
                span = len(xs) // 25 if kind == "loss" else 1
                if current and span > 1:
                    plt.plot(xs, ys, color=TRAIN_RAW, marker="braille")
                plt.plot(xs, smooth(ys, span), color=TRAIN if current else PREVIOUS, marker="braille")
            xs, ys = finite(val, scale, most)
            if xs:
                top, right = max(top, max(ys)), max(right, xs[-1])
                plt.plot(xs, ys, color=VAL if current else PREVIOUS, marker="braille")
            if current:
                for epoch in item.epochs[-200:]:
                    plt.vline(epoch.step, color=EPOCH_LINE)
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
