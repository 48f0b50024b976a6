"""Live curves: loss and accuracy (train and validation) against optimiser steps, previous run dimmed."""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual_plotext import PlotextPlot

from tui.history import History, RunHistory, Series

TRAIN = (80, 170, 255)
VAL = (255, 160, 40)
PREVIOUS = (95, 95, 95)
EPOCH_LINE = (70, 70, 70)


def _finite(series: Series, scale: float = 1.0) -> tuple[list[float], list[float]]:
    xs, ys = series.points()
    keep = [(x, y * scale) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
    return [x for x, _ in keep], [y for _, y in keep]


def step_ticks(right: float, most: int = 6) -> list[int]:
    """Whole-number step ticks at a 1/2/5 x 10^k spacing, at most `most` of them."""
    spacing = 1
    while right / spacing > most - 1:
        for factor in (2, 2.5, 2):
            spacing = int(spacing * factor)
            if right / spacing <= most - 1:
                break
    return list(range(0, int(right) + 1, spacing))


class CurvesPane(Horizontal):
    """Two PlotextPlots redrawn from the history on the app's timer (never per event)."""

    def compose(self) -> ComposeResult:
        yield PlotextPlot(id="loss-plot")
        yield PlotextPlot(id="accuracy-plot")

    def redraw(self, history: History) -> None:
        """Rebuild both figures and refresh the plot widgets themselves (plotext does not)."""
        run, previous = history.current, history.previous
        self._draw(self.query_one("#loss-plot", PlotextPlot), "loss", run, previous)
        self._draw(self.query_one("#accuracy-plot", PlotextPlot), "accuracy", run, previous)

    def _draw(self, widget: PlotextPlot, kind: str, run: RunHistory | None, previous: RunHistory | None) -> None:
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        scale = 100.0 if kind == "accuracy" else 1.0
        top = 0.0
        right = 1.0
        for which, item in (("previous", previous), ("current", run)):
            if item is None:
                continue
            train = item.train_accuracy if kind == "accuracy" else item.train_loss
            val = item.val_accuracy if kind == "accuracy" else item.val_loss
            for series, color, label in ((train, TRAIN, "train"), (val, VAL, "val")):
                xs, ys = _finite(series, scale)
                if not xs:
                    continue
                top = max(top, max(ys))
                right = max(right, xs[-1])
                if which == "previous":
                    plt.plot(xs, ys, color=PREVIOUS, marker="braille", label=f"prev {label}")
                else:
                    plt.plot(xs, ys, color=color, marker="braille", label=label)
            if which == "current":
                for epoch in item.epochs:
                    plt.vline(epoch.step, color=EPOCH_LINE)
        if kind == "accuracy":
            plt.ylim(0, 100)
            plt.title("accuracy % (train, val) vs step")
        else:
            plt.ylim(0, max(top * 1.05, 0.1))
            plt.title("loss (train, val) vs step")
        plt.xticks(step_ticks(right))
        plt.xlabel("step  (| = epoch end)")
        widget.refresh()
