"""One compare plot: the lines of a ChartView (loss or accuracy) with bands, raw curves and the crosshair."""

from __future__ import annotations

import math

from core.compare import ChartView
from core.records.curves import SMOOTHED
from tui.widgets.plots import CurvePlot

CROSSHAIR = (200, 200, 200)
FAINT = 0.4  # share of a run's colour kept for its raw curve and its seed band


def faint(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """The run's colour dimmed toward black: the raw curve behind the smoothed one."""
    return tuple(int(c * FAINT) for c in colour)  # type: ignore[return-value]


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks for a log10 axis at 1, 2 and 5 times the decades (decades only over a wide range), labelled
    with the values themselves (1, 0.2, 0.05)."""
    multiples = (1, 2, 5) if hi - lo < 2.5 else (1,)
    ticks = [d + math.log10(m) for d in range(math.floor(lo), math.ceil(hi) + 1) for m in multiples]
    ticks = [t for t in ticks if lo <= t <= hi] or [(lo + hi) / 2]
    return ticks, same_width([f"{10.0 ** t:.3g}" for t in ticks])


def same_width(labels: list[str]) -> list[str]:
    """Labels right-aligned to one width with figure spaces (plotext strips plain ones)."""
    width = max((len(label) for label in labels), default=0)
    return [label.rjust(width, "\u2007") for label in labels]


def nice_ticks(lo: float, hi: float, most: int = 6) -> tuple[list[float], list[str]]:
    """Ticks at 1, 2 or 5 times a power of ten, at most `most` of them inside [lo, hi]."""
    span = hi - lo
    if not (math.isfinite(span) and span > 0):
        return [lo], [f"{lo:g}"]
    base = 10.0 ** math.floor(math.log10(span / most))
    step = next(base * m for m in (1, 2, 5, 10) if span / (base * m) <= most)
    first = math.ceil(lo / step)
    ticks = [(first + i) * step for i in range(int((hi - first * step) / step + 1e-9) + 1)]
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return ticks, same_width([f"{t:.{decimals}f}" for t in ticks])


class ComparePlot(CurvePlot):
    """A plot drawn from a ChartView (cached like the dashboard's own curves until the next draw or resize)."""

    def __init__(self, kind: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kind = kind  # "loss" or "accuracy"
        self.drawn: tuple | None = None  # what the figure was last built from (see `draw`)
        self.last: tuple[ChartView, float | None] | None = None  # the latest view drawn, drawn again on a resize

    def on_resize(self) -> None:
        """The ticks depend on the size: the first view may be drawn before the layout gave the plot its size."""
        if self.last is not None:
            self.draw(*self.last)

    def clear(self) -> None:
        """Draw nothing until the next `draw` (other runs are loading)."""
        self.plt.clear_data()
        self.plt.clear_figure()
        self.generation, self.drawn, self.last = 0, None, None
        self.refresh()

    def draw(self, view: ChartView, crosshair: float | None) -> None:
        """Rebuild the figure and refresh the widget itself (plotext does not), unless nothing it shows changed:
        `l` (log loss) changes only the loss plot, and the accuracy plot is then not built again."""
        loss = self.kind == "loss"
        drawn = (view.plot(self.kind), view.x_range, view.loss_range if loss else view.accuracy_range,
                 loss and view.settings.log_loss, view.settings.smoothing > 0, crosshair, view.x_label, self.size)
        self.last = (view, crosshair)
        if drawn == self.drawn:
            return
        self.drawn = drawn
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        smoothing = view.settings.smoothing > 0
        for line in view.plot(self.kind):
            if not line.xs:
                continue
            if line.low is not None and line.high is not None:
                plt.plot(line.xs, line.low, color=faint(line.colour), marker="braille")
                plt.plot(line.xs, line.high, color=faint(line.colour), marker="braille")
            elif smoothing and line.series in SMOOTHED:
                plt.plot(line.xs, line.raw, color=faint(line.colour), marker="braille")
            if line.series in SMOOTHED:
                plt.plot(line.xs, line.ys, color=line.colour, marker="braille")
            else:  # validation: one point per epoch, a mark each (lines between them would hide the training curves)
                plt.scatter(line.xs, line.ys, color=line.colour, marker="•")
        lo, hi = view.x_range
        if crosshair is not None and lo <= crosshair <= hi:
            plt.vline(crosshair, color=CROSSHAIR)
        hi = hi if hi > lo else lo + 1
        plt.xlim(lo, hi)
        plt.xticks(*nice_ticks(lo, hi, max(2, self.size.width // 8)))
        ylo, yhi = view.loss_range if self.kind == "loss" else view.accuracy_range
        plt.ylim(ylo, yhi)
        if self.kind == "loss" and view.settings.log_loss:
            plt.yticks(*log_ticks(ylo, yhi))
            plt.title("loss (log scale)")
        else:
            plt.yticks(*nice_ticks(ylo, yhi, max(2, self.size.height // 3)))
            plt.title("loss" if self.kind == "loss" else "accuracy %")
        plt.xlabel(view.x_label)
        self.generation += 1
        self.refresh()
