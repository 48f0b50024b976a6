"""One compare plot: the lines of a ChartView (loss or accuracy) with bands, raw curves and the crosshair."""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from core.compare import SMOOTHED, ChartView

CROSSHAIR = (200, 200, 200)
FAINT = 0.4  # share of a run's colour kept for its raw curve and its seed band


def faint(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """The run's colour dimmed toward black: the raw curve behind the smoothed one."""
    return tuple(int(c * FAINT) for c in colour)  # type: ignore[return-value]


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Decade ticks for a log10 axis, labelled with the values themselves (1, 0.1, 1e-3)."""
    ticks = list(range(math.ceil(lo), math.floor(hi) + 1)) or [round((lo + hi) / 2)]
    return [float(t) for t in ticks], [f"{10.0 ** t:g}" for t in ticks]


class ComparePlot(PlotextPlot):
    """A PlotextPlot drawn from a ChartView; caches its rendering until the next draw or resize."""

    def __init__(self, kind: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kind = kind  # "loss" or "accuracy"
        self.generation = 0
        self._cached_key: tuple | None = None
        self._cached = None

    def render(self):
        key = (self.generation, self.size, self.app.theme)
        if key != self._cached_key:
            self._cached = super().render()
            self._cached_key = key
        return self._cached

    def draw(self, view: ChartView, crosshair: float | None) -> None:
        """Rebuild the figure and refresh the widget itself (plotext does not)."""
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
            else:  # validation: one point per epoch, marked
                plt.plot(line.xs, line.ys, color=line.colour, marker="•")
        lo, hi = view.x_range
        if crosshair is not None and lo <= crosshair <= hi:
            plt.vline(crosshair, color=CROSSHAIR)
        plt.xlim(lo, hi if hi > lo else lo + 1)
        ylo, yhi = view.loss_range if self.kind == "loss" else view.accuracy_range
        plt.ylim(ylo, yhi)
        if self.kind == "loss" and view.settings.log_loss:
            plt.yticks(*log_ticks(ylo, yhi))
            plt.title("loss (log scale)")
        else:
            plt.title("loss" if self.kind == "loss" else "accuracy %")
        plt.xlabel(view.x_label)
        self.generation += 1
        self.refresh()
