"""CSV export of runs' curves: one row per run, series and point, with the raw and the smoothed value.

Records are streamed (one event at a time, nothing kept but the smoothing state), so every point of a
long run is exported exactly as recorded. Values are in the record's units (accuracy 0..1, loss as is);
smoothing is TensorBoard's debiased moving average over every training point (validation rows: raw).
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from core.atomic import current_umask
from core.compare import legend_names
from core.events import EpochEnded, RunStarted, StepEnded
from core.records.curves import SMOOTHED, Clock
from core.records.follow import EVENTS_FILE
from core.records.jsonl import iter_jsonl
from core.records.runindex import read_row
from core.settings import X_AXES

COLUMNS = ("run_id", "label", "series", "x_axis", "x", "step", "raw", "smoothed")
KEEP = ("RunStarted", "StepEnded", "EpochEnded")


def run_path(run_dir: str | os.PathLike) -> Path:
    """The run folder as a path whose name is the run id (`.` from inside the folder resolved)."""
    path = Path(run_dir)
    return path.resolve() if path.name in ("", ".", "..") else path


class Smoother:
    """compare.smooth one value at a time (a stream too long to hold)."""

    def __init__(self, weight: float) -> None:
        self.weight, self.last, self.count = weight, 0.0, 0

    def __call__(self, value: float) -> float:
        if self.weight <= 0 or not math.isfinite(value):
            return value
        self.last = self.last * self.weight + (1 - self.weight) * value
        self.count += 1
        return self.last / (1 - self.weight**self.count)


def iter_rows(run_dir: str | os.PathLike, label: str | None = None, *, x_axis: str = "step",
              smoothing: float = 0.0, since_step: float = 0) -> Iterator[tuple]:
    """The CSV rows (COLUMNS) of one run, in the order of its events; points before since_step left out."""
    if x_axis not in X_AXES:
        raise ValueError(f"x axis must be one of {', '.join(X_AXES)}, not {x_axis!r}")
    path = run_path(run_dir)
    config = read_row(path).config
    run_id, label = path.name, label or path.name
    axis = X_AXES.index(x_axis)
    smoothers = {name: Smoother(smoothing if name in SMOOTHED else 0.0)
                 for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")}
    clock: Clock | None = None
    for event in iter_jsonl(path / EVENTS_FILE, keep=KEEP):
        if isinstance(event, RunStarted):
            if clock is None:  # a resumed run's later RunStarted keeps the first start as time zero
                clock = Clock(config or event.config, event, event.time)
            continue
        if clock is None:
            clock = Clock(config, None, event.time)
        if isinstance(event, StepEnded):
            xs = clock.point(event.step, event.epoch, event.samples_seen, event.time)
            pairs = (("train_loss", event.loss), ("train_accuracy", event.accuracy))
        elif isinstance(event, EpochEnded):
            xs = clock.epoch_point(event)
            pairs = (("val_loss", event.val_loss), ("val_accuracy", event.val_accuracy))
        else:
            continue
        for series, value in pairs:
            smoothed = smoothers[series](value)
            if event.step >= since_step:
                yield run_id, label, series, x_axis, xs[axis], event.step, value, smoothed


def write_rows(out: io.TextIOBase, run_dirs: Iterable[str | os.PathLike], *, x_axis: str = "step",
               smoothing: float = 0.0, since_step: float = 0) -> int:
    """Write the header and every run's rows to an open text file; returns the rows written."""
    run_dirs = [run_path(d) for d in run_dirs]
    labels = legend_names({d.name: read_row(d).config for d in run_dirs})
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for run_dir in run_dirs:
        for row in iter_rows(run_dir, labels[run_dir.name], x_axis=x_axis, smoothing=smoothing,
                             since_step=since_step):
            writer.writerow(row)
            count += 1
    return count


def export_csv(run_dirs: Iterable[str | os.PathLike], path: str | os.PathLike, *, x_axis: str = "step",
               smoothing: float = 0.0, since_step: float = 0) -> int:
    """Export the runs' curves to a CSV file ("-": standard output), written atomically; returns the rows."""
    if str(path) == "-":
        return write_rows(sys.stdout, run_dirs, x_axis=x_axis, smoothing=smoothing, since_step=since_step)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            count = write_rows(fh, run_dirs, x_axis=x_axis, smoothing=smoothing, since_step=since_step)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
