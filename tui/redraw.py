"""The dashboard's panes redrawn from the in-memory history on a timer, never once per event.

Status and system panes are cheap and redrawn on every tick that has something new; the plots cost the UI
thread ~10-30 ms of pure Python per rebuild, so they are rebuilt at most PLOT_HZ times a second and only
after new events, with the training thread asked to step aside meanwhile (`UiPriority.busy`).
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

from tui.controller import Note, RunController
from tui.follow import Following
from tui.widgets.plots import CurvesPane
from tui.widgets.status import StatusPane
from tui.widgets.system import SystemPane

REDRAW_HZ = 4  # status and progress
PLOT_HZ = 2  # plots: each rebuild costs the UI thread ~10-30 ms of pure Python


class Redrawer:
    """The app owns one (made on mount, once the panes exist) and calls `draw` from its timer."""

    def __init__(self, controller: RunController, following: Following, *, status: StatusPane,
                 system: SystemPane, curves: CurvesPane, busy: Callable[[], None],
                 show: Callable[[Iterable[Note]], None]) -> None:
        self.controller, self.following = controller, following
        self.status, self.system, self.curves = status, system, curves
        self.busy, self.show = busy, show
        self.drawn: tuple[int, str] = (-1, "")
        self.plotted, self.plotted_at = -1, 0.0
        self.failed = False

    def draw(self, state: str, plots: bool = True, force: bool = False) -> None:
        """Redraw from the history; a drawing bug is reported once, never allowed to kill the app."""
        if force:
            self.plotted_at = 0.0
        try:
            self._draw(state, plots)
        except Exception as exc:  # pragma: no cover - defensive: the UI must outlive its own bugs
            if not self.failed:
                self.failed = True
                self.show([Note(f"cannot draw: {type(exc).__name__}: {exc}", "error", "app", "Drawing failed")])

    def _draw(self, state: str, plots: bool) -> None:
        """Redraw status (cheap) and plots (costly: at most PLOT_HZ, only after new events) from history."""
        history = self.controller.history
        shown = self.following.shown_state(state)
        key = (history.version, shown)
        if key != self.drawn:
            self.drawn = key
            self.status.update_from(history, shown)
        self.system.update_from(history.marks)
        now = time.monotonic()
        if plots and history.version != self.plotted and now - self.plotted_at >= 1 / PLOT_HZ - 0.01:
            self.plotted, self.plotted_at = history.version, now
            self.busy()  # the figures are built during the next refresh; build them without the trainer
            self.curves.redraw(history)  # rate changes and epoch ends are marked from the fold
