"""Bounded, downsampled in-memory history of the events of the current run (and the previous one).

The app feeds every event to `History.add` on the UI thread; widgets (the dashboard plots, the
inspector) read from it on a timer and redraw only when `History.version` changed. Memory stays bounded
however long a run is: each `Series` keeps at most `capacity` points by halving its resolution.

Stable API (the inspector reads it):
    history.current / history.previous      RunHistory | None (previous = the run before, for dimming)
    history.version                          int, bumped on every add
    run.train_loss, run.train_accuracy       Series of (step, value) from StepEnded
    run.val_loss, run.val_accuracy           Series of (step, value) from EpochEnded
    run.epoch_train_loss, run.epoch_train_accuracy
    run.started, run.last_step, run.epochs, run.finished, run.failed
    run.watches[address] -> WatchTrack(latest, previous, data: Series, grad: Series, update)
    run.layer_stats[layer] -> latest LayerGradStats
    run.logs                                 deque of LogLine (bounded)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Iterable

from core.events import (
    EpochEnded,
    Event,
    LayerGradStats,
    LogLine,
    RunFailed,
    RunFinished,
    RunStarted,
    ScalarWatch,
    StepEnded,
)

SERIES_CAPACITY = 1024  # points per curve: more than a terminal plot can show, small enough to redraw fast
LOG_CAPACITY = 500
MAX_WATCHES = 64  # the inspector watches "a few dozen"; beyond that events are ignored


class Series:
    """An (x, y) series that keeps at most `capacity` points by dropping every other one when full.

    After a halving only every `stride`-th appended point is kept, so the series covers the whole run
    evenly; the most recent point is always reported by `points()` so curves end where the run is.
    """

    def __init__(self, capacity: int = SERIES_CAPACITY) -> None:
        self.capacity = max(4, capacity)
        self._xs: list[float] = []
        self._ys: list[float] = []
        self._stride = 1
        self._count = 0
        self._last: tuple[float, float] | None = None

    def append(self, x: float, y: float) -> None:
        """Record one point (downsampling as needed)."""
        self._last = (x, y)
        if self._count % self._stride == 0:
            self._xs.append(x)
            self._ys.append(y)
            if len(self._xs) > self.capacity:
                self._xs = self._xs[::2]
                self._ys = self._ys[::2]
                self._stride *= 2
        self._count += 1

    def points(self) -> tuple[list[float], list[float]]:
        """Kept xs and ys (copies), ending with the latest point."""
        xs, ys = list(self._xs), list(self._ys)
        if self._last is not None and (not xs or xs[-1] != self._last[0]):
            xs.append(self._last[0])
            ys.append(self._last[1])
        return xs, ys

    @property
    def xs(self) -> list[float]:
        return self.points()[0]

    @property
    def ys(self) -> list[float]:
        return self.points()[1]

    @property
    def last(self) -> tuple[float, float] | None:
        """The latest (x, y) appended, kept or not."""
        return self._last

    @property
    def count(self) -> int:
        """How many points were appended in total."""
        return self._count

    def __len__(self) -> int:
        return len(self._xs)

    def __bool__(self) -> bool:
        return self._last is not None


@dataclass
class WatchTrack:
    """One watched scalar: the latest ScalarWatch, the one before it and its data/grad series."""

    latest: ScalarWatch
    previous: ScalarWatch | None = None
    data: Series = field(default_factory=Series)
    grad: Series = field(default_factory=Series)

    @property
    def update(self) -> float | None:
        """How much `data` moved between the last two reports (None before the second)."""
        if self.previous is None:
            return None
        return self.latest.data - self.previous.data


class RunHistory:
    """Everything the UI keeps about one run."""

    def __init__(self, run_id: str, started: RunStarted | None = None) -> None:
        self.run_id = run_id
        self.started = started
        self.last_step: StepEnded | None = None
        self.finished: RunFinished | None = None
        self.failed: RunFailed | None = None
        self.train_loss = Series()
        self.train_accuracy = Series()
        self.val_loss = Series()
        self.val_accuracy = Series()
        self.epoch_train_loss = Series()
        self.epoch_train_accuracy = Series()
        self.epochs: list[EpochEnded] = []
        self.watches: dict[str, WatchTrack] = {}
        self.layer_stats: dict[int, LayerGradStats] = {}
        self.logs: deque[LogLine] = deque(maxlen=LOG_CAPACITY)

    @property
    def backend(self) -> str:
        return self.started.backend if self.started else ""

    @property
    def config(self) -> dict:
        return dict(self.started.config) if self.started else {}

    @property
    def done(self) -> bool:
        return self.finished is not None or self.failed is not None

    @property
    def status(self) -> str:
        """'running', 'failed' or the RunFinished reason."""
        if self.failed is not None:
            return "failed"
        if self.finished is not None:
            return self.finished.reason
        return "running"

    @property
    def step(self) -> int:
        return self.last_step.step if self.last_step else (self.epochs[-1].step if self.epochs else 0)

    def add(self, event: Event) -> None:
        """Fold one event of this run into the history."""
        if isinstance(event, StepEnded):
            self.last_step = event
            self.train_loss.append(event.step, event.loss)
            self.train_accuracy.append(event.step, event.accuracy)
        elif isinstance(event, EpochEnded):
            if len(self.epochs) < 100_000:
                self.epochs.append(event)
            self.val_loss.append(event.step, event.val_loss)
            self.val_accuracy.append(event.step, event.val_accuracy)
            self.epoch_train_loss.append(event.step, event.train_loss)
            self.epoch_train_accuracy.append(event.step, event.train_accuracy)
        elif isinstance(event, ScalarWatch):
            track = self.watches.get(event.address)
            if track is None:
                if len(self.watches) >= MAX_WATCHES:
                    return
                track = self.watches[event.address] = WatchTrack(latest=event)
            else:
                track.previous, track.latest = track.latest, event
            track.data.append(event.step, event.data)
            track.grad.append(event.step, event.grad)
        elif isinstance(event, LayerGradStats):
            self.layer_stats[event.layer] = event
        elif isinstance(event, LogLine):
            self.logs.append(event)
        elif isinstance(event, RunStarted):
            self.started = event
        elif isinstance(event, RunFinished):
            self.finished = event
        elif isinstance(event, RunFailed):
            self.failed = event


class History:
    """The current run and the one before it, fed event by event."""

    def __init__(self) -> None:
        self.current: RunHistory | None = None
        self.previous: RunHistory | None = None
        self.version = 0

    def add(self, event: Event) -> None:
        """Fold an event in; a RunStarted (or a new run id) moves the current run to `previous`."""
        self.version += 1
        if self.current is None or event.run_id != self.current.run_id:
            if self.current is not None:
                self.previous = self.current
            self.current = RunHistory(event.run_id)
        self.current.add(event)

    def extend(self, events: Iterable[Event]) -> None:
        """Add many events in order."""
        for event in events:
            self.add(event)

    def load(self, events: Iterable[Event]) -> None:
        """Show a recorded run (events.jsonl) as the current one, even if it is the one already shown."""
        events = list(events)
        if self.current is not None and events:
            self.previous, self.current = self.current, RunHistory(events[0].run_id)
        self.extend(events)

    def clear(self) -> None:
        """Forget everything."""
        self.current = self.previous = None
        self.version += 1
