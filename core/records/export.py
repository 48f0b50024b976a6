"""CSV export of runs' curves: one row per run, series and point, with the raw and the smoothed value.

Each record is folded by core.records.fold's RunFold (bounded memory, the one thinning rule) into the curves
the compare screen and the dashboard draw, and `smoothed` is core.records.curves.smooth over them at the
chart settings' smoothing: the numbers on screen, point for point. A run of up to `capacity` (1024) reports
per series is exported whole; a longer one evenly thinned, as every plot of it is. Values are in the
record's units (accuracy 0..1, loss as is); validation rows are not smoothed (one point per epoch).

The output is written atomically as a new regular file (a file already there keeps its mode; other hard
links to it keep the old content); a symbolic link is followed and kept; a FIFO, device or folder under the
name is refused, never replaced. Inputs that cannot be read are named (ExportError).
"""

from __future__ import annotations

import csv
import io
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from core.atomic import NotRegularTarget, current_umask, kind_of, writable_target
from core.compare import legend_names
from core.records.curves import SERIES, SMOOTHED, curves_of, smooth
from core.records.files import EVENTS_FILE
from core.records.fold import SERIES_CAPACITY, RunFold
from core.records.runindex import read_row
from core.settings import X_AXES, load_settings

COLUMNS = ("run_id", "label", "series", "x_axis", "x", "step", "raw", "smoothed")


class ExportError(ValueError):
    """An input that cannot be exported or an output that must not be replaced; the message names which."""


def run_path(run_dir: str | os.PathLike) -> Path:
    """The run folder as a path whose name is the run id (`.` from inside the folder resolved)."""
    path = Path(run_dir)
    return path.resolve() if path.name in ("", ".", "..") else path


def read_record(run_dir: Path, capacity: int = SERIES_CAPACITY) -> RunFold:
    """The run's record folded; ExportError naming the record when it is missing or not a regular file."""
    record = run_dir / EVENTS_FILE
    try:
        return RunFold.read(record, capacity=capacity)
    except FileNotFoundError:
        raise ExportError(f"{run_dir}: no {EVENTS_FILE} (nothing recorded to export)") from None
    except OSError as exc:
        raise ExportError(f"{record}: cannot read it ({exc.strerror or exc})") from None


def check_record(run_dir: Path) -> None:
    """ExportError naming the run's record when it is missing or not a regular file (a folder, a FIFO)."""
    record = run_dir / EVENTS_FILE
    try:
        mode = os.stat(record).st_mode
    except FileNotFoundError:
        raise ExportError(f"{run_dir}: no {EVENTS_FILE} (nothing recorded to export)") from None
    except OSError as exc:
        raise ExportError(f"{record}: cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise ExportError(f"{record} is {kind_of(mode)}, not a regular file: nothing to export")


def default_smoothing() -> float:
    """The chart settings' smoothing: what the compare screen shows unless told otherwise."""
    return load_settings()[0].smoothing


def iter_rows(run_dir: str | os.PathLike, label: str | None = None, *, x_axis: str = "step",
              smoothing: float | None = None, since_step: float = 0, capacity: int = SERIES_CAPACITY,
              problems: list[str] | None = None) -> Iterator[tuple]:
    """The CSV rows (COLUMNS) of one run in step order (a step's training points before its validation);
    points before since_step left out (after smoothing over the whole run); what was skipped goes to `problems`."""
    if x_axis not in X_AXES:
        raise ValueError(f"x axis must be one of {', '.join(X_AXES)}, not {x_axis!r}")
    weight = default_smoothing() if smoothing is None else smoothing
    path = run_path(run_dir)
    fold = read_record(path, capacity)
    if fold.long_lines.long_lines and problems is not None:
        problems.append(f"{path / EVENTS_FILE}: {fold.long_lines}")
    run_id, label = path.name, label or path.name
    curves = curves_of(fold, read_row(path).config)
    rows: list[tuple[float, int, tuple]] = []
    for order, series in enumerate(SERIES):
        curve = curves[series]
        smoothed = smooth(curve.value, weight) if series in SMOOTHED else curve.value
        for i, (x, step, value, soft) in enumerate(zip(curve.xs(x_axis), curve.step, curve.value, smoothed,
                                                       strict=True)):
            if step >= since_step:
                rank = 0 if series in SMOOTHED else 1  # an epoch's end comes after its last training step
                rows.append((step, rank, i, order, (run_id, label, series, x_axis, x, int(step), value, soft)))
    rows.sort(key=lambda r: r[:4])
    for *_, row in rows:
        yield row


def write_rows(out: io.TextIOBase, run_dirs: Iterable[str | os.PathLike], *, x_axis: str = "step",
               smoothing: float | None = None, since_step: float = 0, problems: list[str] | None = None) -> int:
    """Write the header and every run's rows to an open text file; returns the rows written."""
    run_dirs = [run_path(d) for d in run_dirs]
    labels = legend_names({d.name: read_row(d).config for d in run_dirs})
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for run_dir in run_dirs:
        for row in iter_rows(run_dir, labels[run_dir.name], x_axis=x_axis, smoothing=smoothing,
                             since_step=since_step, problems=problems):
            writer.writerow(row)
            count += 1
    return count


def export_csv(run_dirs: Iterable[str | os.PathLike], path: str | os.PathLike, *, x_axis: str = "step",
               smoothing: float | None = None, since_step: float = 0, problems: list[str] | None = None) -> int:
    """Export the runs' curves to a CSV file ("-": standard output), written atomically; returns the rows.

    smoothing None: the chart settings' (the compare screen's); lines skipped as too long are reported in
    `problems` (one line per record). Each input is checked before anything is written, and the new file
    replaces the old one only once complete, so a run that cannot be exported leaves the file as it was.
    """
    run_dirs = [run_path(d) for d in run_dirs]
    for run_dir in run_dirs:
        check_record(run_dir)
    if str(path) == "-":
        return write_rows(sys.stdout, run_dirs, x_axis=x_axis, smoothing=smoothing, since_step=since_step,
                          problems=problems)
    try:
        target = writable_target(Path(path), follow_links=True)
    except NotRegularTarget as exc:
        raise ExportError(f"{exc}; give a regular file's name, or - for standard output") from None
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            count = write_rows(fh, run_dirs, x_axis=x_axis, smoothing=smoothing, since_step=since_step,
                               problems=problems)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
