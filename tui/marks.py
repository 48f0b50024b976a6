"""What the dashboard keeps beside the curves: learning-rate changes, commands obeyed, system figures.

`RunMarks` follows the current run (a new run id starts afresh) like `tui.history.History` does, fed the
same events on the UI thread; the plots mark its learning-rate changes and the system pane draws its
`SystemStats`, both on the app's redraw timer, never per event.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable

from core.events import ControlApplied, Event, LearningRateChanged, RunStarted, SystemStats

SYSTEM_CAPACITY = 240  # samples kept (8 minutes at one per 2 s): more than a sparkline's width
MAX_MARKS = 200  # learning-rate markers drawn at most (the latest)
LR_COLOR = (220, 80, 220)
LR_LEGEND = "  [rgb(220,80,220)]│[/] lr change"


class RunMarks:
    """Learning-rate changes, commands and system samples of the current run."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.version = 0
        self.lr: float | None = None  # the rate in force, when known
        self.lr_changes: deque[LearningRateChanged] = deque(maxlen=MAX_MARKS)
        self.controls: deque[ControlApplied] = deque(maxlen=MAX_MARKS)
        self.system: deque[SystemStats] = deque(maxlen=SYSTEM_CAPACITY)

    def clear(self) -> None:
        """Forget everything (a new run, or a record rewritten by a resume)."""
        self.run_id, self.lr = None, None
        self.lr_changes.clear()
        self.controls.clear()
        self.system.clear()
        self.version += 1

    def load(self, events: Iterable[Event]) -> None:
        """Show a recorded run's marks (replacing what was shown)."""
        self.clear()
        for event in events:
            self.add(event)

    def add(self, event: Event) -> None:
        """Fold one event (any type; only a few are kept)."""
        if event.run_id != self.run_id:
            self.clear()
            self.run_id = event.run_id
        if isinstance(event, SystemStats):
            self.system.append(event)
        elif isinstance(event, LearningRateChanged):
            self.lr_changes.append(event)
            self.lr = event.lr
        elif isinstance(event, ControlApplied):
            self.controls.append(event)
        elif isinstance(event, RunStarted):
            lr = event.config.get("lr")
            if isinstance(lr, (int, float)) and not self.lr_changes:
                self.lr = float(lr)
        else:
            return
        self.version += 1


def mark_lr_changes(curves: Any, marks: RunMarks) -> None:
    """Add a vertical marker per learning-rate change to the loss plot just rebuilt (before it renders)."""
    plot = curves.query_one("#loss-plot")
    for change in marks.lr_changes:
        plot.plt.vline(change.step, color=LR_COLOR)
    if marks.lr_changes:
        plot.generation = getattr(plot, "generation", 0) + 1
        legend = curves.query_one("#plot-legend")
        text = str(legend.content) if hasattr(legend, "content") else ""
        if LR_LEGEND not in text:
            legend.update(text + LR_LEGEND)
