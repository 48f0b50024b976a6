"""Reading a run's record while it grows (Follower), and telling what the run is doing now.

`Follower(run_dir).poll()` returns the events appended to RUN_DIR/events.jsonl since the last poll: a partial
last line (the writer mid-flush) is held until its newline arrives; a file replaced or truncated (a resume
rewriting the folder) is read again from its top, with `reset` set for that poll so the caller can clear what
it drew; each poll costs one stat when nothing changed. `status()` says what the run is doing now. (A whole
record in bounded memory: core.records.digest.)
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Iterator

from core.events import ControlApplied, Event, RunFailed, RunFinished, RunStarted, StepEnded
from core.records import runlock
from core.records.files import EVENTS_FILE, SUMMARY_FILE
from core.records.jsonl import loads, parse_line

STALE_AFTER = 60.0  # seconds without a new event before an unlocked run is called stale
MAX_PARTIAL = 64 << 20  # a "line" this long without a newline is not one of ours: dropped
STATUSES = ("waiting", "live", "paused", "completed", "stopped", "early_stopped", "diverged", "failed", "killed",
            "stale")


class Follower:
    """Tails one run folder's events.jsonl: `poll()` for new events, `status()` for the run's state."""

    def __init__(self, run_dir: str | os.PathLike, *, stale_after: float = STALE_AFTER,
                 max_bytes: int = 64 << 20) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / EVENTS_FILE
        self.stale_after = stale_after
        self.max_bytes = max_bytes  # read at most this much per poll (a huge record comes in a few polls)
        self.reset = False  # the last poll found the file replaced or truncated and began again at its top
        self.resets = 0
        self.skipped = 0  # lines that were not events (torn by a crash, foreign bytes)
        self.started: RunStarted | None = None
        self.ended: RunFinished | RunFailed | None = None
        self.paused = False
        self.last_step = 0
        self._offset = 0
        self._ident: tuple[int, int] | None = None
        self._partial = b""
        self._mtime = 0.0

    @property
    def caught_up(self) -> bool:
        """True when the last poll read to the end of the file as it was then."""
        try:
            return os.stat(self.path).st_size <= self._offset
        except OSError:
            return True

    def poll(self) -> list[Event]:
        """New complete events since the last poll, in order ([] when nothing changed)."""
        self.reset = False
        try:
            st = os.stat(self.path)
        except OSError:
            return []
        if (st.st_dev, st.st_ino) == self._ident and st.st_size == self._offset:
            return []
        try:
            with open(self.path, "rb") as fh:
                st = os.fstat(fh.fileno())
                ident = (st.st_dev, st.st_ino)
                if self._ident is not None and (ident != self._ident or st.st_size < self._offset):
                    self._restart()
                self._ident = ident
                self._mtime = st.st_mtime
                fh.seek(self._offset)
                chunk = fh.read(self.max_bytes)
        except OSError:
            return []
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_PARTIAL:
            self._partial = b""
            self.skipped += 1
        out = []
        for line in lines:
            if not line.strip():
                continue
            event = parse_line(line)
            if event is None:
                self.skipped += 1
                continue
            self._note(event)
            out.append(event)
        return out

    def _restart(self) -> None:
        self._offset = 0
        self._partial = b""
        self.reset = True
        self.resets += 1
        self.started, self.ended, self.paused, self.last_step = None, None, False, 0

    def _note(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.started, self.ended, self.paused = event, None, False  # a resume makes the run live again
        elif isinstance(event, (RunFinished, RunFailed)):
            self.ended = event
        elif isinstance(event, ControlApplied) and event.command in ("pause", "resume"):
            self.paused = event.command == "pause"
        elif isinstance(event, StepEnded):
            self.last_step = event.step

    def follow(self, *, interval: float = 0.25, stop: threading.Event | None = None) -> Iterator[Event]:
        """Every event as it comes (like `tail -f`), until the run ends, dies or goes stale, or `stop` is set."""
        stop = stop or threading.Event()
        while True:
            yield from self.poll()
            if self.caught_up and self.status() not in ("live", "paused", "waiting"):
                yield from self.poll()  # anything written between the last read and the status check
                return
            if stop.wait(interval):
                return

    def status(self, now: float | None = None) -> str:
        """One of STATUSES ("stale" as "stale: no events for N s: the process may be gone")."""
        if self.ended is not None:
            return "failed" if isinstance(self.ended, RunFailed) else self.ended.reason
        if runlock.lock_info(self.run_dir) is not None:
            return "paused" if self.paused else "live"
        reason = summary_reason(self.run_dir)
        if reason is not None:
            return reason
        if (self.run_dir / runlock.LOCK_FILE).exists():
            return "killed"  # the lock is free and no summary was written: the process died mid-run
        if self._ident is None and not self.path.exists():
            return "waiting"
        # No lock to ask (a record from an older version, or another machine's): judge by the file's age.
        quiet = (time.time() if now is None else now) - (self._mtime or _mtime(self.path))
        if quiet > self.stale_after:
            return f"stale: no events for {quiet:.0f} s: the process may be gone"
        return "paused" if self.paused else "live"


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def summary_reason(run_dir: str | os.PathLike) -> str | None:
    """The reason in RUN_DIR/summary.json ("failed" for a failure), or None when there is no readable one."""
    try:
        with open(Path(run_dir) / SUMMARY_FILE, "rb") as fh:
            data = loads(fh.read(1 << 20))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    reason = data.get("reason")
    return str(reason) if reason else ("failed" if data.get("error") else None)
