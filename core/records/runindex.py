"""The runs table: one row per run folder, read from the few bytes that say what the run was and how it ended.

`list_runs_table(runs_dir)` reads summary.json, config.json, the run lock and, only when there is no summary,
the first and last 64 KiB of events.jsonl; never the whole stream, so a thousand runs list in well under a
second. The status word is core.records.status.run_status's (the one function every reader asks).
`filter_rows`, `sort_rows`, `RunRow.to_dict` and `format_table` serve the dashboard's table and the headless
`--list-runs` (text, or one JSON object per run). Files that are not regular files (a FIFO, a device, a symlink
loop) are never opened: the row's `problem` names them.
"""

from __future__ import annotations

import calendar
import errno
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from core.records.files import CONFIG_FILE, EVENTS_FILE
from core.records.jsonl import loads
from core.records.regular import open_regular, read_regular, why
from core.records.status import STALE_AFTER, run_status

EDGE_BYTES = 64 << 10  # how much of the head and tail of events.jsonl an unfinished run is read for
TAIL_LINES = 16  # lines at the end of the stream parsed whole (steps, last time)
MAX_JSON_BYTES = 1 << 20  # config and summary files are a few hundred bytes; bigger ones are not ours
COLUMNS = ("run_id", "status", "backend", "shape", "optimizer", "lr", "epochs_done", "best_val_accuracy",
           "test_accuracy", "seconds", "started")


class RunsDirError(OSError):
    """The runs folder cannot be listed (missing, not a folder, permission denied); the message says why."""


@dataclass
class RunRow:
    """What the runs table shows of one run (None where the record does not say)."""

    run_id: str
    path: Path
    status: str  # one of core.events.STATUSES (core.records.status.run_status's word)
    backend: str = ""
    shape: str = ""  # layer sizes, e.g. "196-64-32-10"
    optimizer: str = ""
    lr: float | None = None
    epochs_done: int | None = None
    epochs: int | None = None  # planned
    steps: int | None = None
    best_val_accuracy: float | None = None
    test_accuracy: float | None = None
    seconds: float | None = None
    started: float | None = None  # Unix seconds
    pid: int | None = None  # the writing process, while live
    problem: str = ""  # why part of the row is missing (an unreadable config.json, a FIFO as summary.json, ...)
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: one object per run for `--list-runs --jsonl -`."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["path"] = str(self.path)
        out["started_at"] = _iso(self.started)
        return out

    def cell(self, column: str) -> str:
        """The column as the text table shows it."""
        value = getattr(self, column)
        if value is None:
            return "-"
        if column in ("best_val_accuracy", "test_accuracy"):
            return f"{value * 100:.2f}%"
        if column == "seconds":
            return _duration(value)
        if column == "started":
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(value))
        if column == "lr":
            return f"{value:g}"
        if column == "status":
            return value.replace("_", "-")
        return str(value)


def _iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _read_json(path: Path) -> Any:
    data = read_regular(path, MAX_JSON_BYTES)
    if len(data) > MAX_JSON_BYTES:
        raise ValueError("too big")
    return loads(data)


def _edge_events(path: Path) -> tuple[list[dict], list[dict]]:
    """Of the stream's first EDGE_BYTES its RunStarted; of its last EDGE_BYTES the epoch ends and last lines."""
    try:
        fd = open_regular(path)
    except OSError:
        return [], []
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, EDGE_BYTES, 0)
        if size > EDGE_BYTES:
            start = max(EDGE_BYTES, size - EDGE_BYTES)
            tail = os.pread(fd, EDGE_BYTES, start).split(b"\n")[1:]  # the first piece may be half a line
        else:
            tail = head.split(b"\n")
    except OSError:
        return [], []
    finally:
        os.close(fd)
    # Only what the row shows is parsed: the RunStarted near the top (a SystemStats sample may come before it),
    # epoch ends anywhere in the tail, and the last few lines.
    started = [line for line in head.split(b"\n")[:-1] if b'"RunStarted"' in line][:1]
    picked = [line for line in tail[:-TAIL_LINES] if b'"EpochEnded"' in line] + tail[-TAIL_LINES:]
    return _parse(started), _parse(picked)


def _parse(lines: Iterable[bytes]) -> list[dict]:
    out = []
    for line in lines:
        try:
            obj = loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def read_row(run_dir: str | os.PathLike, *, now: float | None = None) -> RunRow:
    """One run's row (never raises for a damaged record: the row says what it could not read)."""
    path = Path(run_dir)
    row = RunRow(run_id=path.name, path=path, status="incomplete")
    problems = []
    try:
        config = _read_json(path / CONFIG_FILE)
        if not isinstance(config, dict):
            raise ValueError("not an object")
        row.config = config
    except (OSError, ValueError, RecursionError) as exc:
        problems.append(f"{CONFIG_FILE} is unreadable" + (f" ({why(exc)})" if isinstance(exc, OSError) else ""))
        config = {}
    row.backend = str(config.get("backend", ""))
    row.optimizer = str(config.get("optimizer", ""))
    row.lr = _number(config.get("lr"))
    row.epochs = _integer(config.get("epochs"))
    row.shape = _shape(config)
    status = run_status(path, now=now, stale_after=STALE_AFTER)
    row.status, row.pid = status.word, status.pid
    problems += status.problems
    row.problem = "; ".join(problems)
    summary = status.summary
    if summary is not None:
        _from_summary(row, summary)
        if row.best_val_accuracy is None and "best_val_accuracy" not in summary:
            # A summary from before the field existed: the best of the epochs at the end of the stream.
            row.best_val_accuracy = _best_val(_edge_events(path / EVENTS_FILE)[1])
        return row
    head, tail = _edge_events(path / EVENTS_FILE)
    _from_events(row, head, tail)
    return row


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _shape(config: dict) -> str:
    side, hidden = config.get("input_size"), config.get("hidden")
    if _integer(side) is None or not isinstance(hidden, list) or not all(_integer(h) is not None for h in hidden):
        return ""
    return "-".join(str(n) for n in [side * side, *hidden, 10])


def _from_summary(row: RunRow, summary: dict) -> None:
    row.epochs_done = _integer(summary.get("epochs_completed"))
    row.steps = _integer(summary.get("steps"))
    row.test_accuracy = _number(summary.get("test_accuracy"))
    row.best_val_accuracy = _number(summary.get("best_val_accuracy"))
    row.seconds = _number(summary.get("seconds"))
    started = summary.get("started_at")
    if isinstance(started, str):
        try:
            row.started = float(calendar.timegm(time.strptime(started, "%Y-%m-%dT%H:%M:%SZ")))
        except (ValueError, OverflowError):
            pass


def _from_events(row: RunRow, head: list[dict], tail: list[dict]) -> None:
    """Fill a row of an unfinished run from the edges of its stream (best val accuracy: of the tail's epochs)."""
    start = next((e for e in head if e.get("type") == "RunStarted"), None)
    if start is not None:
        row.started = _number(start.get("time"))
    epochs = [e for e in tail if e.get("type") == "EpochEnded"]
    if epochs:
        row.epochs_done = _integer(epochs[-1].get("epoch"))
    row.best_val_accuracy = _best_val(tail)
    steps = [s for s in (_integer(e.get("step")) for e in tail) if s is not None]
    row.steps = max(steps) if steps else None
    last = _number(tail[-1].get("time")) if tail else None
    if row.started is not None and last is not None:
        row.seconds = max(0.0, last - row.started)


def _best_val(lines: list[dict]) -> float | None:
    epochs = (e for e in lines if e.get("type") == "EpochEnded")
    accuracies = [a for a in (_number(e.get("val_accuracy")) for e in epochs) if a is not None]
    return max(accuracies) if accuracies else None


def run_folders(runs_dir: str | os.PathLike) -> list[Path]:
    """The run folders (folders holding a config.json) under runs_dir, by name; RunsDirError when it is unreadable.

    Entries that cannot be looked at (a symlink loop, a folder gone meanwhile) are skipped, never raised.
    """
    root = Path(runs_dir)
    try:
        if not stat.S_ISDIR(os.stat(root).st_mode):
            raise RunsDirError(errno.ENOTDIR, f"{root} is not a folder")
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except RunsDirError:
        raise
    except FileNotFoundError:
        raise RunsDirError(errno.ENOENT, f"{root}: no such folder") from None
    except OSError as exc:
        raise RunsDirError(exc.errno or errno.EIO, f"{root}: cannot read it ({exc.strerror or exc})") from None
    out = []
    for entry in entries:
        try:
            if entry.is_dir() and os.path.lexists(os.path.join(entry.path, CONFIG_FILE)):
                out.append(Path(entry.path))
        except OSError:
            continue  # a symlink loop (ELOOP), or an entry removed while we looked
    return out


def list_runs_table(runs_dir: str | os.PathLike, *, now: float | None = None) -> list[RunRow]:
    """A row for every run folder under runs_dir, oldest run id first ([] when the folder cannot be read)."""
    try:
        folders = run_folders(runs_dir)
    except RunsDirError:
        return []
    return [read_row(folder, now=now) for folder in folders]


def _words(row: RunRow) -> list[str]:
    words = [row.run_id, row.status, row.status.replace("_", "-"), row.backend, row.shape, row.optimizer]
    for key, value in row.config.items():
        text = "-".join(map(str, value)) if isinstance(value, list) else str(value)
        words += [text, f"{key}={text}"]
    return [w.lower() for w in words]


def filter_rows(rows: Iterable[RunRow], text: str) -> list[RunRow]:
    """Rows matching every typed word: part of the id, status, backend, shape or a config value (`lr=0.1`)."""
    terms = text.lower().split()
    out = []
    for row in rows:
        words = _words(row)
        if all(any((t in w) if "=" not in t else w == t for w in words) for t in terms):
            out.append(row)
    return out


def sort_rows(rows: Iterable[RunRow], column: str, *, descending: bool = False) -> list[RunRow]:
    """Rows by one column; rows without a value go last either way."""
    rows = list(rows)
    have = [r for r in rows if getattr(r, column) is not None]
    missing = [r for r in rows if getattr(r, column) is None]
    return sorted(have, key=lambda r: getattr(r, column), reverse=descending) + missing


HEADINGS = {"run_id": "run", "shape": "network", "optimizer": "optimiser", "epochs_done": "epochs",
            "best_val_accuracy": "best val", "test_accuracy": "test", "seconds": "time"}


def format_table(rows: Iterable[RunRow], columns: Iterable[str] = COLUMNS) -> str:
    """A plain-text table for the headless `--list-runs` (no colours), one line per run."""
    columns = list(columns)
    table = [[HEADINGS.get(c, c) for c in columns]] + [[row.cell(c) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in table)
