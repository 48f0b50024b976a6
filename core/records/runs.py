"""Run directories: config, metrics stream, summary and checkpoints, written atomically.

Layout of RUNS_DIR/<run-id>/:
    config.json     the TrainConfig (atomic; rewritten when a resumed run changes it)
    events.jsonl    every event, one JSON object a line (appended; flushed at each epoch end and at exit)
    summary.json    how the run ended (atomic; written last, absent while running or after a crash)
    checkpoints/    the backend's checkpoints (handmade engine: JSON; Lightning: .ckpt, weights only)
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_json, atomic_write_text
from core.config import TrainConfig
from core.events import EpochEnded, Event, RunFailed, RunFinished
from core.problems import ConfigError
from core.records.files import CHECKPOINTS_DIR, CONFIG_FILE, EVENTS_FILE, SUMMARY_FILE
from core.records.jsonl import to_json
from core.records.regular import read_regular
from core.records.scan import read_events
from core.records.status import read_summary, run_status

# Checkpoint file suffixes per backend, so --resume picks the right kind.
CHECKPOINT_SUFFIXES = {"scalar": (".json",), "lightning": (".pt", ".ckpt")}
MAX_CONFIG_BYTES = 1 << 20  # a config is a few hundred bytes; a bigger file is not ours


class NotARunError(ValueError):
    """A directory that is not (or no longer) a run record."""


class RunRecorder:
    """Writes one run directory; call it with each event. Thread-safe; use as a context manager."""

    # Events after which the stream is flushed (and fsynced) at once.
    FLUSH_ON = (EpochEnded, RunFinished, RunFailed)

    def __init__(
        self,
        runs_dir: str | Path,
        run_id: str,
        config: TrainConfig,
        *,
        flush_interval: float = 2.0,
        reopen: bool = False,
    ) -> None:
        self.path = Path(runs_dir) / run_id
        self.run_id = run_id
        self.flush_interval = flush_interval
        if reopen:
            if not (self.path / CONFIG_FILE).is_file():
                raise NotARunError(f"{self.path}: not a run directory (no {CONFIG_FILE})")
        else:
            self.path.mkdir(parents=True, exist_ok=False)
        self.checkpoints.mkdir(exist_ok=True)
        # Opened for writing: the temporaries a killed run left mid-write (a 2 MB half checkpoint) go.
        self.cleaned = remove_stale_temporaries(self.path) if reopen else []
        atomic_write_text(self.path / CONFIG_FILE, config.to_json())
        events = self.path / EVENTS_FILE
        if reopen:
            _end_with_newline(events)
            (self.path / SUMMARY_FILE).unlink(missing_ok=True)  # the run is live again
        self._fh = open(events, "a", encoding="utf-8")
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._dirty = False
        self.closed = False
        # Lines written just before a long quiet spell (a slow evaluation) still reach the disk in time.
        self._closing = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, name="run-recorder-flush", daemon=True)
        self._flusher.start()

    @classmethod
    def reopen(cls, run_dir: str | Path, config: TrainConfig, **kw: Any) -> RunRecorder:
        """Continue writing an existing run directory (for --resume)."""
        run_dir = Path(run_dir)
        if run_dir.name in ("", ".", ".."):
            run_dir = run_dir.resolve()
        return cls(run_dir.parent, run_dir.name, config, reopen=True, **kw)

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS_DIR

    def record(self, event: Event) -> None:
        """Append one event; flush at epoch ends, at the end of the run and every flush_interval seconds."""
        line = to_json(event) + "\n"
        with self._lock:
            if self.closed:
                return
            self._fh.write(line)
            self._dirty = True
            if isinstance(event, self.FLUSH_ON):
                self._flush_locked(sync=True)
            elif time.monotonic() - self._last_flush >= self.flush_interval:
                self._flush_locked(sync=False)

    __call__ = record

    def _flush_locked(self, *, sync: bool) -> None:
        self._fh.flush()
        if sync:
            os.fsync(self._fh.fileno())
        self._last_flush = time.monotonic()
        self._dirty = False

    def _flush_periodically(self) -> None:
        while not self._closing.wait(max(self.flush_interval, 0.05)):
            with self._lock:
                if self.closed:
                    return
                if self._dirty:
                    try:
                        self._flush_locked(sync=False)
                    except (OSError, ValueError):
                        return

    def flush(self) -> None:
        with self._lock:
            if not self.closed:
                self._flush_locked(sync=True)

    def write_summary(self, summary: dict[str, Any]) -> None:
        """summary.json, atomically (strict JSON)."""
        atomic_write_json(self.path / SUMMARY_FILE, summary)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self._closing.set()
            try:
                self._flush_locked(sync=True)
            finally:
                self._fh.close()
                self.closed = True

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def remove_stale_temporaries(run_dir: Path) -> list[str]:
    """Delete the temporaries of atomic writes (".NAME.XXXX.tmp") in a run folder and its checkpoints/.

    Only the folder's writer calls this (it holds the run lock, and its own writes have not begun), so every
    such file is a leftover of a process that died mid-write. Only regular files are removed. Returns their
    paths relative to the run folder.
    """
    removed = []
    for folder in (run_dir, run_dir / CHECKPOINTS_DIR):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
                continue
            try:
                if entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
                    removed.append(os.path.relpath(entry.path, run_dir))
            except OSError:
                continue
    return sorted(removed)


def _end_with_newline(path: Path) -> None:
    """After a crash mid-line, start appending on a fresh line so the torn one stays alone."""
    try:
        with open(path, "rb+") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() and (fh.seek(-1, os.SEEK_END), fh.read(1))[1] != b"\n":
                fh.write(b"\n")
    except FileNotFoundError:
        pass


@dataclass
class RunRecord:
    """A run read back from disk."""

    path: Path
    config: TrainConfig
    summary: dict[str, Any] | None = None  # None while running, or when the run was killed

    @cached_property
    def events(self) -> list[Event]:
        """The record's events, read on first use in bounded memory (see read_events)."""
        events_file = self.path / EVENTS_FILE
        return read_events(events_file) if events_file.is_file() else []

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def finished(self) -> bool:
        return self.summary is not None

    @property
    def status(self) -> str:
        """The run's status word now (core.records.status.run_status: the one that decides it)."""
        return run_status(self.path).word

    def latest_checkpoint(self) -> Path | None:
        return latest_checkpoint(self.path, self.config.backend)


def open_run(run_dir: str | Path) -> RunRecord:
    """Read a run directory's config and summary (its events on first use); NotARunError when it isn't one."""
    path = Path(run_dir)
    if path.name in ("", ".", ".."):  # `--resume .` from inside the run folder: the folder's own name is its id
        path = path.resolve()
    if not path.is_dir():
        raise NotARunError(f"{path}: no such run directory")
    config_file = path / CONFIG_FILE
    if not config_file.is_file():
        raise NotARunError(f"{path}: not a run directory (no {CONFIG_FILE}; runs live in RUNS_DIR/<run-id>/)")
    try:
        raw = read_regular(config_file, MAX_CONFIG_BYTES, follow=True)  # a FIFO here is refused, not waited on
        if len(raw) > MAX_CONFIG_BYTES:
            raise ValueError("too big")
        config = TrainConfig.from_json(raw.decode("utf-8"))
    except ConfigError as exc:
        raise NotARunError(f"{config_file}: unreadable run config ({exc})") from None
    except (UnicodeDecodeError, RecursionError, ValueError, TypeError) as exc:  # binary, absurdly nested, not JSON
        why = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (
            "nested too deeply" if isinstance(exc, RecursionError) else "not a JSON settings object")
        raise NotARunError(f"{config_file}: unreadable run config ({why})") from None
    except OSError as exc:
        raise NotARunError(f"{config_file}: cannot read it ({exc.strerror or exc})") from None
    return RunRecord(path=path, config=config, summary=read_summary(path)[0])


def list_runs(runs_dir: str | Path = "runs") -> list[Path]:
    """Run directories under runs_dir, oldest first (run ids sort by time)."""
    from core.records.runindex import RunsDirError, run_folders

    try:
        return [p for p in run_folders(runs_dir) if (p / CONFIG_FILE).is_file()]
    except RunsDirError:
        return []


def latest_checkpoint(run_dir: str | Path, backend: str) -> Path | None:
    """The checkpoint to resume from: a file named last.* if present, else the newest one of the backend."""
    folder = Path(run_dir) / CHECKPOINTS_DIR
    if not folder.is_dir():
        return None
    suffixes = CHECKPOINT_SUFFIXES.get(backend, ())
    found = [
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and (not suffixes or p.suffix in suffixes)
    ]
    if not found:
        return None
    last = [p for p in found if p.stem == "last" or p.stem.startswith("last")]
    pool = last or found
    return max(pool, key=lambda p: (p.stat().st_mtime_ns, p.name))
