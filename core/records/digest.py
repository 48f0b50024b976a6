"""Reading a record of any length in bounded memory: the rare events whole, the per-step ones thinned.

`read_digest(path)` folds an events.jsonl into a `RecordDigest` (the compare view and curves): every rare event
kept as is, the per-step ones (StepEnded, ScalarWatch, SystemStats) kept as bounded, evenly thinned rows the way
the dashboard's plots thin them; StepEnded lines the thinning would drop are counted, not parsed.

`read_events(path)` gives the events themselves in file order (what `--open` replays), the per-step kinds
thinned to about STEP_CAPACITY steps each by `StepThinning`; the lines dropped are never parsed.
"""

from __future__ import annotations

import os
import re
from collections import Counter, deque
from pathlib import Path
from typing import Any

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
from core.records.jsonl import iter_lines, parse_line


class Thinned:
    """Rows (tuples) kept at most `capacity` at a time, evenly over everything appended (halving when full)."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = max(4, capacity)
        self.kept: list[tuple] = []
        self.last: tuple | None = None
        self.count = 0
        self._stride = 1

    def wants_next(self) -> bool:
        """Whether the next append would be kept (else the caller may only `skip()`)."""
        return self.count % self._stride == 0

    def skip(self) -> None:
        self.count += 1

    def append(self, row: tuple) -> None:
        self.last = row
        if self.count % self._stride == 0:
            self.kept.append(row)
            if len(self.kept) > self.capacity:
                self.kept = self.kept[::2]
                self._stride *= 2
        self.count += 1

    def rows(self) -> list[tuple]:
        """Kept rows, ending with the latest one appended."""
        rows = list(self.kept)
        if self.last is not None and (not rows or rows[-1] is not self.last):
            rows.append(self.last)
        return rows


# StepEnded rows: the x choices (step, epoch, samples seen, wall time) and the values plotted.
STEP_COLUMNS = ("step", "epoch", "samples_seen", "time", "loss", "accuracy", "samples_per_s", "progress")
SYSTEM_COLUMNS = ("time", "cpu_percent", "rss_bytes", "gpu_util", "gpu_memory_bytes", "gpu_temperature_c")
_STEP_PREFIX = b'{"type":"StepEnded"'
MAX_KEPT = 100_000  # rare events (epochs, evaluations, commands) kept whole up to this many each
MAX_WATCHES = 64


class RecordDigest:
    """A record folded into bounded memory; feed events with `add` or raw lines with `add_line`."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self.started: RunStarted | None = None
        self.finished: RunFinished | None = None
        self.failed: RunFailed | None = None
        self.steps = Thinned(capacity)  # rows of STEP_COLUMNS
        self.last_step: StepEnded | None = None
        self.epochs: list[EpochEnded] = []
        self.evaluations: list[Evaluation] = []
        self.lr_changes: list[LearningRateChanged] = []
        self.controls: list[ControlApplied] = []
        self.watches: dict[str, Thinned] = {}  # address -> rows of (step, data, grad)
        self.layer_stats: dict[int, LayerGradStats] = {}  # the latest per layer
        self.system = Thinned(capacity)  # rows of SYSTEM_COLUMNS
        self.logs: deque[LogLine] = deque(maxlen=500)
        self.counts: Counter[str] = Counter()  # events seen per type
        self.skipped = 0  # lines that were not events
        self._pending: bytes | None = None  # the newest StepEnded line not parsed (thinned away)

    def add_line(self, line: bytes) -> None:
        """Fold one raw line; StepEnded lines the thinning drops are only counted."""
        if line.startswith(_STEP_PREFIX) and not self.steps.wants_next():
            self.steps.skip()
            self.counts["StepEnded"] += 1
            self._pending = line
            return
        if not line.strip():
            return
        event = parse_line(line)
        if event is None:
            self.skipped += 1
        else:
            self.add(event)

    def add(self, event: Event) -> None:
        """Fold one event."""
        self.counts[type(event).__name__] += 1
        if isinstance(event, StepEnded):
            self._pending = None
            self.last_step = event
            self.steps.append(tuple(getattr(event, c) for c in STEP_COLUMNS))
        elif isinstance(event, ScalarWatch):
            track = self.watches.get(event.address)
            if track is None and len(self.watches) < MAX_WATCHES:
                track = self.watches[event.address] = Thinned(self.capacity)
            if track is not None:
                track.append((event.step, event.data, event.grad))
        elif isinstance(event, SystemStats):
            self.system.append(tuple(getattr(event, c) for c in SYSTEM_COLUMNS))
        elif isinstance(event, LayerGradStats):
            self.layer_stats[event.layer] = event
        elif isinstance(event, LogLine):
            self.logs.append(event)
        elif isinstance(event, RunStarted):
            self.started, self.finished, self.failed = event, None, None
        elif isinstance(event, RunFinished):
            self.finished = event
        elif isinstance(event, RunFailed):
            self.failed = event
        else:
            kept = {EpochEnded: self.epochs, Evaluation: self.evaluations, LearningRateChanged: self.lr_changes,
                    ControlApplied: self.controls}.get(type(event))
            if kept is not None and len(kept) < MAX_KEPT:
                kept.append(event)

    def finish(self) -> RecordDigest:
        """Parse the newest StepEnded if the thinning skipped it, so curves end where the run is."""
        if self._pending is not None:
            event = parse_line(self._pending)
            self._pending = None
            if isinstance(event, StepEnded):
                self.last_step = event
                self.steps.last = tuple(getattr(event, c) for c in STEP_COLUMNS)
        return self

    def series(self, column: str, x: str = "step") -> tuple[list[Any], list[Any]]:
        """(xs, ys) of one StepEnded column against another, thinned."""
        i, j = STEP_COLUMNS.index(x), STEP_COLUMNS.index(column)
        rows = self.steps.rows()
        return [r[i] for r in rows], [r[j] for r in rows]


def read_digest(path: str | os.PathLike, *, capacity: int = 1024) -> RecordDigest:
    """Fold an events.jsonl of any length into a RecordDigest (bounded memory; a missing file gives an empty one)."""
    digest = RecordDigest(capacity)
    try:
        for line in iter_lines(path):
            digest.add_line(line)
    except FileNotFoundError:
        pass
    return digest.finish()


PER_STEP = {b'{"type":"StepEnded"': "StepEnded", b'{"type":"ScalarWatch"': "ScalarWatch",
            b'{"type":"SystemStats"': "SystemStats"}
STEP_CAPACITY = 2048  # steps kept per per-step kind: twice the points a plot draws
_WATCH = b'{"type":"ScalarWatch"'
_STEP_FIELD = re.compile(rb'"step":(\d{1,12})')


def read_events(path: Path, *, capacity: int = STEP_CAPACITY) -> list[Event]:
    """A record's events in file order, in bounded memory however long the run was.

    Every rare event (epochs, evaluations, logs, commands, the start and the end) is kept whole; the per-step
    ones (StepEnded, ScalarWatch, SystemStats) are thinned evenly to about `capacity` steps each, as the
    plots would thin them anyway, and the lines that thinning drops are never parsed.
    """
    thinned = {kind: StepThinning(capacity) for kind in PER_STEP}
    kept: list[tuple[int, bytes]] = []
    for index, line in enumerate(iter_lines(path)):
        kind = _per_step_kind(line)
        if kind is None:
            kept.append((index, line))
        else:
            thinned[kind].offer(index, line)
    for keeper in thinned.values():
        kept.extend(keeper.kept())
    kept.sort(key=lambda pair: pair[0])
    return [event for _, line in kept if (event := parse_line(line)) is not None]


def _per_step_kind(line: bytes) -> bytes | None:
    for prefix in PER_STEP:
        if line.startswith(prefix):
            return prefix
    return None


class StepThinning:
    """Keeps the lines of every k-th step (k doubling as the run grows), and always the newest step's.

    StepEnded and SystemStats come one line per report, so their count stands for the step; ScalarWatch comes
    once per address per step, so it is thinned by the step number in its line and a kept step keeps all its
    watches. Lines are kept as bytes: only the survivors are ever parsed.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(4, capacity)
        self.stride = 1
        self.count = 0
        self.steps: dict[int, list[tuple[int, bytes]]] = {}
        self.newest: list[tuple[int, bytes]] = []
        self.newest_step = -1

    def offer(self, index: int, line: bytes) -> None:
        if line.startswith(_WATCH):
            found = _STEP_FIELD.search(line)
            step = int(found.group(1)) if found else 0
        else:
            self.count += 1
            step = self.count
        if step != self.newest_step:
            self.newest, self.newest_step = [], step
        self.newest.append((index, line))
        if step % self.stride == 0:
            self.steps.setdefault(step, []).append((index, line))
            if len(self.steps) > self.capacity:
                self.stride *= 2
                self.steps = {s: lines for s, lines in self.steps.items() if s % self.stride == 0}

    def kept(self) -> list[tuple[int, bytes]]:
        out = [pair for lines in self.steps.values() for pair in lines]
        if self.newest_step not in self.steps:
            out += self.newest
        return out
