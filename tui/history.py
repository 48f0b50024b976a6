"""The dashboard's runs: the current one and the one before it (dimmed), each a core.records.fold.RunFold.

The controller feeds every event to `History.add` on the UI thread; widgets (the dashboard plots, the status
and system panes, the inspector) read `history.current` on a timer and redraw only when `History.version`
changed. The folding itself (bounded series, marks, watches, log) is RunFold's: nothing is folded here.

Stable API (the inspector reads it):
    history.current / history.previous      RunFold | None (previous = the run before, for dimming)
    history.version                          int, bumped on every add
    history.marks                            the current run's fold (rate changes, commands, system), never None
"""

from __future__ import annotations

from typing import Iterable

from core.events import Event
from core.records.fold import RunFold, Series, WatchTrack

RunHistory = RunFold  # the name the widgets knew; one type
__all__ = ["History", "RunHistory", "Series", "WatchTrack"]


class History:
    """The current run and the one before it, fed event by event."""

    def __init__(self) -> None:
        self.current: RunFold | None = None
        self.previous: RunFold | None = None
        self.version = 0
        self._empty = RunFold()

    @property
    def marks(self) -> RunFold:
        """The current run's fold (an empty one before any run): its rate changes, commands, system samples."""
        return self.current if self.current is not None else self._empty

    def add(self, event: Event) -> None:
        """Fold an event in; a new run id moves the current run to `previous`."""
        self.version += 1
        if self.current is None or event.run_id != self.current.run_id:
            if self.current is not None:
                self.previous = self.current
            self.current = RunFold(event.run_id)
        self.current.feed(event)

    def extend(self, events: Iterable[Event]) -> None:
        """Add many events in order."""
        for event in events:
            self.add(event)

    def load(self, events: Iterable[Event]) -> None:
        """Show a recorded run (events.jsonl) as the current one, even if it is the one already shown."""
        events = list(events)
        if self.current is not None and events:
            self.previous, self.current = self.current, RunFold(events[0].run_id)
        self.extend(events)

    def show(self, fold: RunFold) -> None:
        """Show a record already folded (RunFold.read) as the current run; the one shown before stays dimmed."""
        if self.current is not None:
            self.previous = self.current
        self.current = fold
        self.version += 1

    def clear(self) -> None:
        """Forget everything."""
        self.current = self.previous = None
        self.version += 1
