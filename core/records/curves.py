"""A run's curves read in bounded memory: train/val loss and accuracy against step, epoch, samples or time.

`load_run` folds a record through core.records.fold's RunFold (thinned StepEnded rows, never one object per step);
`curves_of` turns any RunFold (the dashboard's live one too) into the same curves; `smooth` is TensorBoard's
debiased exponential moving average, the one smoothing of every curve shown or exported. core.compare and
core.records.export build on it.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from core.events import EpochEnded, RunStarted
from core.records.files import EVENTS_FILE
from core.records.fold import SERIES_CAPACITY, RunFold
from core.records.jsonl import complete_end, iter_file_lines, open_regular
from core.records.runindex import RunRow, read_row

SERIES = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")
LOSS_SERIES, ACCURACY_SERIES = SERIES[:2], SERIES[2:]
SMOOTHED = ("train_loss", "train_accuracy")  # validation has one point per epoch: drawn as measured
X_LABELS = {"step": "step", "epoch": "epoch", "samples": "samples seen", "time": "wall time (s)"}


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average (weight 0..0.999); NaN/inf pass through unsmoothed."""
    if weight <= 0:
        return list(values)
    # weight**count kept as a running product: plain multiplication rounds the same on every machine (libm's
    # pow need not), so a plot or snapshot built from it does too.
    out, last, decay = [], 0.0, 1.0
    for value in values:
        if not math.isfinite(value):
            out.append(value)
            continue
        last = last * weight + (1 - weight) * value
        decay *= weight
        out.append(last / (1 - decay))
    return out


class Clock:
    """The four x values of a point of one record: step, fractional epoch, samples seen, seconds since start."""

    def __init__(self, config: Mapping[str, Any], started: RunStarted | None, start_time: float | None) -> None:
        epochs = config.get("epochs") if isinstance(config.get("epochs"), int) else 0
        total = started.total_steps if started is not None else 0
        self.steps_per_epoch = total / epochs if total and epochs else 0.0
        self.train_size = started.train_size if started is not None else 0
        batch = config.get("batch_size")
        self.batch_size = batch if isinstance(batch, int) else 0
        self.start = start_time if start_time is not None else (started.time if started is not None else None)

    def point(self, step: int, epoch: int, samples: int, when: float) -> tuple[float, float, float, float]:
        """x values of a StepEnded (epoch as a fraction when the run's steps per epoch are known)."""
        fraction = step / self.steps_per_epoch if self.steps_per_epoch else float(epoch)
        return float(step), fraction, float(samples), when - (self.start if self.start is not None else when)

    def epoch_point(self, event: EpochEnded) -> tuple[float, float, float, float]:
        """x values of an EpochEnded: the end of that epoch (samples: whole epochs of the training split)."""
        samples = event.epoch * self.train_size if self.train_size else event.step * self.batch_size
        step, _, _, seconds = self.point(event.step, event.epoch, samples, event.time)
        return step, float(event.epoch), float(samples), seconds


@dataclass
class Curve:
    """One series of one run: each point's step, epoch, samples seen, wall time and value."""

    step: list[float] = field(default_factory=list)
    epoch: list[float] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)

    def add(self, xs: tuple[float, float, float, float], value: float) -> None:
        for name, x in zip(("step", "epoch", "samples", "time"), xs, strict=True):
            getattr(self, name).append(x)
        self.value.append(float(value))

    def xs(self, axis: str) -> list[float]:
        return getattr(self, axis)


@dataclass
class RecordTail:
    """How far a record was folded (complete lines only) and the fold so far: a growing record (a live run) is
    read on from `offset` instead of from its top."""

    fold: RunFold
    ident: tuple[int, int]  # the record's (device, inode): another file under the same name is read afresh
    offset: int = 0


@dataclass
class RunCurves:
    """A loaded run: its row in the runs table (config, outcome) and its four curves."""

    run_id: str
    path: Path
    row: RunRow
    curves: dict[str, Curve]
    problem: str = ""  # why the record could not be read (a FIFO, a device), when it could not
    record: tuple[int, int, int, int] | None = None  # the record's (device, inode, size, mtime) when read
    tail: RecordTail | None = field(default=None, repr=False, compare=False)  # handed to the next load_run

    @property
    def config(self) -> dict[str, Any]:
        return self.row.config

    @property
    def newest_step(self) -> float:
        return max((c.step[-1] for c in self.curves.values() if c.step), default=0.0)

    def take_tail(self) -> RecordTail | None:
        """The tail, once: two loads of one run (a reading thread and the UI) never fold into the same fold."""
        with _HANDOVER:
            tail, self.tail = self.tail, None
        return tail

    def unread_bytes(self, size: int, ident: tuple[int, int]) -> int:
        """What a load_run with this as `previous` would read of a record now `size` bytes long."""
        tail = self.tail
        if tail is not None and tail.ident == ident and tail.offset <= size:
            return size - tail.offset
        return size


_HANDOVER = threading.Lock()


def load_run(run_dir: str | os.PathLike, *, capacity: int = SERIES_CAPACITY,
             previous: RunCurves | None = None) -> RunCurves:
    """Read one record in bounded memory: at most about `capacity` training points per series.

    With `previous` (this run as loaded before), a record unchanged since (same file, size and mtime) is not
    read again: only the row (status, outcome) is; a record that grew (a live run) is read on from where the
    last load stopped, so a view refreshing a live comparison pays for the new lines only. A last line without
    its newline is left for the next load (a writer is in the middle of it).
    """
    path = Path(run_dir)
    row = read_row(path)
    record = _record_key(path / EVENTS_FILE)
    tail = previous.take_tail() if previous is not None and not previous.problem else None
    if tail is not None and previous is not None and previous.record == record:
        return RunCurves(run_id=path.name, path=path, row=row, curves=previous.curves, record=record, tail=tail)
    if tail is None or tail.fold.capacity != capacity:
        tail = RecordTail(RunFold(capacity=capacity), (0, 0))
    problem = _read_on(tail, path / EVENTS_FILE)
    return RunCurves(run_id=path.name, path=path, row=row, curves=curves_of(tail.fold, row.config), problem=problem,
                     record=record, tail=None if problem else tail)


def _read_on(tail: RecordTail, path: Path) -> str:
    """Fold the record's complete lines past `tail.offset` into `tail` (from the top if the file was replaced or
    truncated); why nothing was read when the record could not be (a FIFO, a device), else ""."""
    try:
        with open_regular(path) as fh:
            st = os.fstat(fh.fileno())
            ident = (st.st_dev, st.st_ino)
            if ident != tail.ident or st.st_size < tail.offset:
                tail.fold, tail.ident, tail.offset = RunFold(capacity=tail.fold.capacity), ident, 0
            end = complete_end(fh, tail.offset, st.st_size)
            fold = tail.fold
            for line in iter_file_lines(fh, offset=tail.offset, end=end, skipped=fold.long_lines):
                fold.feed_line(line)
            tail.offset = end
            fold.finish()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return ""


def _record_key(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def curves_of(fold: RunFold, config: Mapping[str, Any] | None = None) -> dict[str, Curve]:
    """The four curves of a fold, each point with its four x values (a record's or a live run's alike)."""
    config = config or fold.config
    rows = fold.steps.rows()
    firsts = [t for t in (fold.started.time if fold.started else None, rows[0][3] if rows else None,
                          fold.epochs[0].time if fold.epochs else None) if t is not None]
    clock = Clock(config, fold.started, min(firsts) if firsts else None)
    curves = {name: Curve() for name in SERIES}
    for step, epoch, samples, when, loss, accuracy, *_ in rows:
        xs = clock.point(step, epoch, samples, when)
        curves["train_loss"].add(xs, loss)
        curves["train_accuracy"].add(xs, accuracy)
    for event in fold.epochs:
        xs = clock.epoch_point(event)
        curves["val_loss"].add(xs, event.val_loss)
        curves["val_accuracy"].add(xs, event.val_accuracy)
    return curves
