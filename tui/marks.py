"""Moved: a run's marks (rate changes, commands obeyed, system samples) are kept by core.records.fold.RunFold, and
the plot draws the rate changes from the fold (tui.widgets.plots). This thin shim keeps `RunMarks` for old
importers: the current run's fold, following a new run id as tui.history.History does; nothing is folded here.
"""

from __future__ import annotations

from collections import deque

from core.events import ControlApplied, LearningRateChanged, SystemStats
from tui.history import History


class RunMarks(History):
    """The current run's marks, read from its fold."""

    @property
    def lr(self) -> float | None:
        return self.marks.lr

    @property
    def lr_changes(self) -> deque[LearningRateChanged]:
        return self.marks.lr_changes

    @property
    def controls(self) -> deque[ControlApplied]:
        return self.marks.controls

    @property
    def system(self) -> deque[SystemStats]:
        return self.marks.system
