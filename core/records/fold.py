"""One fold of a run's events into bounded memory, for every view of a run: live, followed, opened, compared, exported.

`RunFold` takes events one at a time (`feed`), or the raw lines of a record (`feed_line`, which counts the
StepEnded lines the thinning drops without parsing them), and keeps:

    steps                  a Series of STEP_COLUMNS rows (step, epoch, samples seen, time, loss, accuracy, ...)
    train_loss, ...        (x, y) views of it; val_loss, val_accuracy, epoch_train_*: views of the epoch ends
    epochs, evaluations    every EpochEnded / Evaluation (up to MAX_KEPT each)
    lr_changes, controls   the marks a plot draws beside the epoch ends: rate changes, commands obeyed
    lr                     the rate in force, when known
    watches[address]       WatchTrack(latest, previous, data, grad) of up to MAX_WATCHES addresses
    layer_stats, system    the latest LayerGradStats per layer, the last SYSTEM_CAPACITY SystemStats
    logs                   the last LOG_CAPACITY LogLines
    started, finished, failed, last_step, counts, skipped

`Series` is the one thinning rule: at most `capacity` rows, evenly over everything appended (every stride-th
kept, the stride doubling when full), always ending with the newest; core.records.scan's `read_events` applies
the same rule to the lines of a record (what `--open` replays). Smoothing is not kept here:
`core.records.curves.smooth` over a series' points is the one smoothing, wherever a curve is drawn or exported.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Iterable

from core.events import (
    ControlApplied,
    EpochEnded,
    Evaluation,
    Event,
    LayerGradStats,
    LearningRateChanged,
    LogLine,
    RunFailed,
    RunFinished,
    RunStarted,
    ScalarWatch,
    StepEnded,
    SystemStats,
)
from core.records.jsonl import Skipped, iter_lines, parse_line

SERIES_CAPACITY = 1024  # points per curve: more than a terminal plot can show, few enough to redraw fast
LOG_CAPACITY = 500
MAX_WATCHES = 64  # the inspector watches "a few dozen"; beyond that watch events are ignored
MAX_KEPT = 100_000  # rare events (epochs, evaluations) kept whole up to this many each
MAX_MARKS = 1_000  # rate changes and commands kept (the latest)
SYSTEM_CAPACITY = 240  # system samples kept (8 minutes at one per 2 s): more than a sparkline's width
STEP_COLUMNS = ("step", "epoch", "samples_seen", "time", "loss", "accuracy", "samples_per_s", "progress")
EPOCH_COLUMNS = ("step", "epoch", "time", "train_loss", "train_accuracy", "val_loss", "val_accuracy")
_STEP_PREFIX = b'{"type":"StepEnded"'
_VERSIONS = itertools.count(1)  # one sequence for every fold


class Series:
    """Rows (tuples) kept at most `capacity` at a time, evenly over everything appended; the one thinning rule.

    Each row has a key (by default its count): a row is kept when its key is a multiple of the stride, and when
    more than `capacity` distinct keys are kept the stride doubles and the rows off it go. Rows sharing a key (a
    step's watches) are kept or dropped together. `rows()` always ends with the newest row appended.
    """

    def __init__(self, capacity: int = SERIES_CAPACITY) -> None:
        self.capacity = max(4, capacity)
        self.kept: list[tuple] = []
        self.keys: list[int] = []
        self.last: tuple | None = None
        self.count = 0
        self.stride = 1
        self._distinct = 0

    def wants(self, key: int | None = None) -> bool:
        """Whether a row with this key (default: the next count) would be kept; else the caller may `skip()`."""
        return (self.count if key is None else key) % self.stride == 0

    def skip(self) -> None:
        """Count a row the caller did not build because it would not be kept."""
        self.count += 1

    def append(self, *values: Any) -> None:
        """Append one row of values (keyed by its count)."""
        self.add(values)

    def add(self, row: tuple, key: int | None = None) -> None:
        """Append one row, keyed by `key` (default: its count)."""
        key = self.count if key is None else key
        self.last = row
        if key % self.stride == 0:
            if not self.keys or self.keys[-1] != key:
                self._distinct += 1
            self.kept.append(row)
            self.keys.append(key)
            if self._distinct > self.capacity:
                self.stride *= 2
                pairs = [(k, r) for k, r in zip(self.keys, self.kept, strict=True) if k % self.stride == 0]
                self.keys, self.kept = [k for k, _ in pairs], [r for _, r in pairs]
                self._distinct = len(set(self.keys))
        self.count += 1

    def rows(self) -> list[tuple]:
        """Kept rows, ending with the newest one appended."""
        rows = list(self.kept)
        if self.last is not None and (not rows or rows[-1] is not self.last):
            rows.append(self.last)
        return rows

    def column(self, x: int = 0, y: int = 1) -> Column:
        """An (x, y) view of two of its columns."""
        return Column(self, x, y)

    def points(self) -> tuple[list[Any], list[Any]]:
        """Columns 0 and 1 of the rows (an (x, y) series)."""
        return self.column().points()

    @property
    def xs(self) -> list[Any]:
        return self.points()[0]

    @property
    def ys(self) -> list[Any]:
        return self.points()[1]

    def __len__(self) -> int:
        return len(self.kept)

    def __bool__(self) -> bool:
        return self.last is not None


class Column:
    """Two columns of a Series as an (x, y) curve: points(), xs, ys, last, count."""

    def __init__(self, series: Series, x: int, y: int) -> None:
        self.series, self.x, self.y = series, x, y

    def points(self) -> tuple[list[Any], list[Any]]:
        """Kept xs and ys (copies), ending with the newest point."""
        rows = self.series.rows()
        return [r[self.x] for r in rows], [r[self.y] for r in rows]

    @property
    def xs(self) -> list[Any]:
        return self.points()[0]

    @property
    def ys(self) -> list[Any]:
        return self.points()[1]

    @property
    def last(self) -> tuple[Any, Any] | None:
        """The newest (x, y) appended, kept or not."""
        row = self.series.last
        return None if row is None else (row[self.x], row[self.y])

    @property
    def count(self) -> int:
        """How many points were appended in total."""
        return self.series.count

    def __len__(self) -> int:
        return len(self.series)

    def __bool__(self) -> bool:
        return bool(self.series)


@dataclass
class WatchTrack:
    """One watched scalar: the latest ScalarWatch, the one before it, and (step, data, grad) rows."""

    latest: ScalarWatch
    previous: ScalarWatch | None = None
    rows: Series = field(default_factory=Series)

    @property
    def data(self) -> Column:
        return self.rows.column(0, 1)

    @property
    def grad(self) -> Column:
        return self.rows.column(0, 2)

    @property
    def update(self) -> float | None:
        """How much `data` moved between the last two reports (None before the second)."""
        if self.previous is None:
            return None
        return self.latest.data - self.previous.data


class RunFold:
    """Everything kept of one run, in bounded memory however long it ran.

    `version` changes whenever an event is fed, to a value no other fold has had (a pane that drew one run's
    fold at version v never mistakes the next run's fold for it).
    """

    def __init__(self, run_id: str = "", *, capacity: int = SERIES_CAPACITY) -> None:
        self.run_id = run_id
        self.capacity = capacity
        self.version = 0
        self.started: RunStarted | None = None
        self.finished: RunFinished | None = None
        self.failed: RunFailed | None = None
        self.last_step: StepEnded | None = None
        self.steps = Series(capacity)  # rows of STEP_COLUMNS
        self.epoch_rows = Series(capacity)  # rows of EPOCH_COLUMNS
        self.epochs: list[EpochEnded] = []
        self.evaluations: list[Evaluation] = []
        self.lr: float | None = None
        self.lr_changes: deque[LearningRateChanged] = deque(maxlen=MAX_MARKS)
        self.controls: deque[ControlApplied] = deque(maxlen=MAX_MARKS)
        self.watches: dict[str, WatchTrack] = {}
        self.layer_stats: dict[int, LayerGradStats] = {}
        self.system: deque[SystemStats] = deque(maxlen=SYSTEM_CAPACITY)
        self.logs: deque[LogLine] = deque(maxlen=LOG_CAPACITY)
        self.counts: Counter[str] = Counter()  # events seen per type
        self.skipped = 0  # lines that were not events
        self.long_lines = Skipped()  # lines too long to read (see core.records.jsonl.MAX_LINE)
        self._pending: bytes | None = None  # the newest StepEnded line not parsed (thinned away)

    @classmethod
    def from_events(cls, events: Iterable[Event], *, capacity: int = SERIES_CAPACITY) -> RunFold:
        """A fold of these events, in order."""
        fold = cls(capacity=capacity)
        for event in events:
            fold.feed(event)
        return fold

    @classmethod
    def read(cls, path: str | os.PathLike, *, capacity: int = SERIES_CAPACITY) -> RunFold:
        """A record (events.jsonl) of any length folded in bounded memory; FileNotFoundError when missing."""
        fold = cls(capacity=capacity)
        for line in iter_lines(path, skipped=fold.long_lines):
            fold.feed_line(line)
        return fold.finish()

    # ---- feeding ------------------------------------------------------------------------------------

    def feed_line(self, line: bytes) -> None:
        """Fold one raw line; StepEnded lines the thinning drops are only counted (call `finish` at the end)."""
        steps = self.steps
        if steps.count % steps.stride and line.startswith(_STEP_PREFIX):  # Series.wants/skip, inlined: per line
            steps.count += 1
            self.counts["StepEnded"] += 1
            self.version = next(_VERSIONS)
            self._pending = line
            return
        if not line.strip():
            return
        event = parse_line(line)
        if event is None:
            self.skipped += 1
        else:
            self.feed(event)

    def finish(self) -> RunFold:
        """Parse the newest StepEnded if the thinning skipped it, so curves end where the run is."""
        if self._pending is not None:
            event = parse_line(self._pending)
            self._pending = None
            if isinstance(event, StepEnded):
                self.last_step = event
                self.steps.last = tuple(getattr(event, c) for c in STEP_COLUMNS)
        return self

    def feed(self, event: Event) -> None:
        """Fold one event."""
        if not self.run_id:
            self.run_id = event.run_id
        self.version = next(_VERSIONS)
        self.counts[type(event).__name__] += 1
        if isinstance(event, StepEnded):
            self._pending = None
            self.last_step = event
            self.steps.add(tuple(getattr(event, c) for c in STEP_COLUMNS))
        elif isinstance(event, ScalarWatch):
            self._watch(event)
        elif isinstance(event, SystemStats):
            self.system.append(event)
        elif isinstance(event, LayerGradStats):
            self.layer_stats[event.layer] = event
        elif isinstance(event, LogLine):
            self.logs.append(event)
        elif isinstance(event, EpochEnded):
            self.epoch_rows.add(tuple(getattr(event, c) for c in EPOCH_COLUMNS))
            if len(self.epochs) < MAX_KEPT:
                self.epochs.append(event)
        elif isinstance(event, Evaluation):
            if len(self.evaluations) < MAX_KEPT:
                self.evaluations.append(event)
        elif isinstance(event, LearningRateChanged):
            self.lr_changes.append(event)
            self.lr = event.lr
        elif isinstance(event, ControlApplied):
            self.controls.append(event)
        elif isinstance(event, RunStarted):
            # A resume starts the run again: whatever ended it before no longer holds.
            self.started, self.finished, self.failed = event, None, None
            lr = event.config.get("lr")
            if isinstance(lr, (int, float)) and not isinstance(lr, bool) and not self.lr_changes:
                self.lr = float(lr)
        elif isinstance(event, RunFinished):
            self.finished = event
        elif isinstance(event, RunFailed):
            self.failed = event

    def _watch(self, event: ScalarWatch) -> None:
        track = self.watches.get(event.address)
        if track is None:
            if len(self.watches) >= MAX_WATCHES:
                return
            track = self.watches[event.address] = WatchTrack(latest=event, rows=Series(self.capacity))
        else:
            track.previous, track.latest = track.latest, event
        track.rows.add((event.step, event.data, event.grad))

    # ---- what views read ----------------------------------------------------------------------------

    @property
    def train_loss(self) -> Column:
        return self.steps.column(0, 4)

    @property
    def train_accuracy(self) -> Column:
        return self.steps.column(0, 5)

    @property
    def val_loss(self) -> Column:
        return self.epoch_rows.column(0, 5)

    @property
    def val_accuracy(self) -> Column:
        return self.epoch_rows.column(0, 6)

    @property
    def epoch_train_loss(self) -> Column:
        return self.epoch_rows.column(0, 3)

    @property
    def epoch_train_accuracy(self) -> Column:
        return self.epoch_rows.column(0, 4)

    def series(self, column: str, x: str = "step") -> tuple[list[Any], list[Any]]:
        """(xs, ys) of one StepEnded column against another, thinned."""
        return self.steps.column(STEP_COLUMNS.index(x), STEP_COLUMNS.index(column)).points()

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

    def marks(self) -> Marks:
        """The steps a plot marks: epoch ends, learning-rate changes and commands obeyed."""
        return Marks(epochs=tuple(e.step for e in self.epochs[-200:]),
                     lr_changes=tuple(c.step for c in self.lr_changes),
                     commands=tuple((c.step, c.command) for c in self.controls))


@dataclass(frozen=True)
class Marks:
    """Vertical marks of a run's plot, as steps."""

    epochs: tuple[int, ...] = ()
    lr_changes: tuple[int, ...] = ()
    commands: tuple[tuple[int, str], ...] = ()
