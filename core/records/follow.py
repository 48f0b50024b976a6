"""Reading a run's record while it grows (Follower), and telling what the run is doing now.

`Follower(run_dir).poll()` returns the events appended to RUN_DIR/events.jsonl since the last poll: a partial
last line (the writer mid-flush) is held until its newline arrives; a file replaced or truncated (a resume
rewriting the folder) is read again from its top, with `reset` set for that poll so the caller can clear what
it drew; each poll costs one stat when nothing changed. `status()` says what the run is doing now: the word of
core.records.status.run_status, the one function that decides it. `follow()` yields events as they come until
the run ends; with `resume_wait` it waits that long after an ending for a resume into the same folder (a new
RunStarted appended, the lock taken again) and follows on. (A whole record in bounded memory: the fold.)
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Iterator

from core.events import Event, StepEnded
from core.records.files import EVENTS_FILE
from core.records.jsonl import parse_line
from core.records.regular import open_regular
from core.records.status import GOING, STALE_AFTER, RunStatus, read_summary, run_status, summary_ending

MAX_PARTIAL = 64 << 20  # a "line" this long without a newline is not one of ours: dropped


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
            with os.fdopen(open_regular(self.path), "rb") as fh:  # a FIFO here is skipped, never read
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
        self.last_step = 0

    def _note(self, event: Event) -> None:
        # Only the step: what the run is doing is run_status's to say (from the folder), never a second copy here.
        if isinstance(event, StepEnded):
            self.last_step = event.step

    def follow(self, *, interval: float = 0.25, stop: threading.Event | None = None,
               resume_wait: float = 0.0) -> Iterator[Event]:
        """Every event as it comes (like `tail -f`) until the run ends, or `stop` is set.

        A resume into the same folder (a new RunStarted, the lock held again) is followed on; a run that was
        killed (it did not choose to end: a supervisor may restart it) is waited for `resume_wait` s first.
        """
        stop = stop or threading.Event()
        ended_at: float | None = None
        while True:
            yield from self.poll()
            status = self.run_status() if self.caught_up else None
            if status is not None and not status.going:
                yield from self.poll()  # anything written between the last read and the status check
                status = self.run_status() if self.caught_up else None
            if status is None or status.going:
                ended_at = None  # still writing, or a resume began meanwhile
            else:
                ended_at = time.monotonic() if ended_at is None else ended_at
                if time.monotonic() - ended_at >= (resume_wait if status.word == "killed" else 0.0):
                    return
            if stop.wait(interval):
                return

    def run_status(self, now: float | None = None) -> RunStatus:
        """The run's status (core.records.status.run_status) with this follower's stale_after."""
        return run_status(self.run_dir, now=now, stale_after=self.stale_after)

    def status(self, now: float | None = None) -> str:
        """The status word (one of core.events.STATUSES)."""
        return self.run_status(now).word


def summary_reason(run_dir: str | os.PathLike) -> str | None:
    """The ending RUN_DIR/summary.json names ("failed" for a failure), or None when there is no readable one."""
    summary = read_summary(Path(run_dir))[0]
    return None if summary is None else summary_ending(summary)


__all__ = ["GOING", "STALE_AFTER", "Follower", "summary_reason"]
