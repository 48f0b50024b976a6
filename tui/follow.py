"""Following a run that another process (or this one) is writing: its record tailed in a thread worker.

`FollowedRun` is a plain class around `core.records.follow.Follower`: `poll()` (called from a worker thread about
four times a second) returns a `Polled` batch of new events, whether the file was rewritten, and the run's
status (core.records.status.run_status's word). The worker goes on after the run ends, so a resume into the
same folder is picked up: the status goes back to live, the new events arrive, and the log says so.
`Following` (the app owns one; no Textual in it) folds each batch through the same
RunController and history as the app's own run, says what the status line shows, and steers the followed
run through its folder (core.records.steer): the headless process obeys and records each command.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from textual.message import Message

from core.events import Event
from core.records import steer
from core.records.follow import Follower
from core.records.status import ENDED, GOING, run_status
from tui.controller import Note, RunController

POLL_S = 0.25  # new events on screen within a second, as for an own run
VIEWED_EVERY_S = 1.0  # an opened (not followed) run's status is asked again this often: a resume shows up


@dataclass
class Polled(Message):
    """One poll of a followed run (posted from the follow worker)."""

    run_dir: Path
    events: list[Event] = field(default_factory=list)
    reset: bool = False  # the file was rewritten (a resume): clear what was drawn, these events are all of it
    status: str = "live"  # one of core.events.STATUSES
    first: bool = False  # the first batch: the whole record so far


def is_going(run_dir: str | Path) -> bool:
    """True when the run in `run_dir` is still being written (its lock is held, or a fresh lockless record)."""
    return run_status(run_dir).going


class FollowedRun:
    """One followed run folder: its Follower, its latest status, and steering through its folder."""

    def __init__(self, run_dir: str | Path, *, stale_after: float = 60.0) -> None:
        self.run_dir = Path(run_dir)
        self.follower = Follower(self.run_dir, stale_after=stale_after)
        self.status = ""  # no poll yet; then one of core.events.STATUSES
        self.stopped = threading.Event()  # set by the app: the worker ends at its next tick
        self._polls = 0

    @property
    def going(self) -> bool:
        """Whether the run may still write (live, paused; or not polled yet)."""
        return self.status in GOING or not self.status

    @property
    def paused(self) -> bool:
        return self.status == "paused"

    @property
    def ended(self) -> bool:
        """The run finished, failed or died: nothing more will come until a resume."""
        return self.status in ENDED

    def poll(self) -> Polled:
        """New events and the status now (may read megabytes on the first call: run it off the UI thread)."""
        events = self.follower.poll()
        reset = self.follower.reset
        status = self.follower.status()
        if status in ENDED and not self.follower.caught_up:
            status = "live"  # the end is written but not yet read: read it first
        self._polls += 1
        return Polled(self.run_dir, events, reset, status, first=self._polls == 1)

    def send(self, command: str, value: float | None = None) -> str:
        """Steer the run through its folder; the text to show (SteerError says why it cannot be sent)."""
        steer.send(self.run_dir, command, value, source="follower")  # recorded as the follower's
        what = f"learning rate {value:g}" if command == "set_lr" and value is not None else command
        return f"sent {what} to {self.run_dir.name}: the run applies it at its next step"

    def run(self, post: Callable[[Any], Any]) -> None:
        """The worker's loop: poll, post what changed, until `stopped` is set (not when the run ends: a resume
        into the same folder would be missed; an ended run costs a stat and a status read per poll)."""
        last = None
        while True:
            polled = self.poll()
            if polled.events or polled.reset or polled.first or polled.status != last:
                last = polled.status
                post(polled)
            if self.stopped.wait(POLL_S):
                return


class Following:
    """The run the dashboard follows (at most one): start, fold its batches, steer it, stop following."""

    def __init__(self, controller: RunController) -> None:
        self.controller = controller
        self.run: FollowedRun | None = None
        self._viewed: tuple[Path, float, str] | None = None  # (run folder, when asked, its status word)

    @property
    def going(self) -> bool:
        """A followed run that may still write (so x, p and L act on it)."""
        return self.run is not None and self.run.going

    def begin(self, run_dir: str | Path) -> FollowedRun | None:
        """Follow `run_dir` when it is still being written (after the controller shows it); None otherwise."""
        self.end()
        if not is_going(run_dir):
            return None
        self.run = FollowedRun(run_dir)
        return self.run

    def end(self) -> None:
        """Stop following (the worker ends at its next tick)."""
        if self.run is not None:
            self.run.stopped.set()
            self.run = None

    def take(self, polled: Polled) -> list[Note]:
        """Fold one batch (posted by the worker) into the controller; what the user should read."""
        run = self.run
        if run is None or polled.run_dir != run.run_dir:
            return []  # a batch from a run no longer followed
        notes: list[Note] = []
        if polled.first or polled.reset:
            self.controller.reload(polled.events)  # the whole record as it is now
            if polled.reset:
                notes.append(Note(f"{run.run_dir.name}: the record was rewritten (a resume): reloaded",
                                  source="follow"))
        else:
            notes.extend(self.controller.fold(polled.events))
        was, run.status = run.status, polled.status
        if run.status != was and run.status != "stale":
            name = run.run_dir.name
            if run.status in ENDED:
                notes.append(Note(f"the followed run {name} ended: {self.describe(run.status)}",
                                  "warning" if run.status == "killed" else "info", "follow", "Followed run"))
            elif was in ENDED and run.status in GOING:
                notes.append(Note(f"the followed run {name} was resumed into the same folder: live again",
                                  "info", "follow", "Followed run"))
            elif was or run.status != "live":
                notes.append(Note(f"the followed run is {self.describe(run.status)}", source="follow", log=bool(was)))
        return notes

    def shown_state(self, state: str) -> str:
        """What the status line says: the followed run's status; an opened run's status (not "viewing"); else the
        app's own run state."""
        if self.run is None:
            return self.describe(self.viewed_status()) if state == "viewing" else state
        return self.describe(self.run.status or "live") + ("" if self.run.ended else " · followed")

    def viewed_status(self, now: float | None = None) -> str:
        """The opened run's status word (run_status, asked at most once a second: the status line redraws often)."""
        run_dir = self.controller.run_dir
        if run_dir is None:
            return "viewing"
        now = time.monotonic() if now is None else now
        if self._viewed is None or self._viewed[0] != run_dir or now - self._viewed[1] >= VIEWED_EVERY_S:
            self._viewed = (run_dir, now, run_status(run_dir).word)
        return self._viewed[2]

    @staticmethod
    def describe(status: str) -> str:
        """A status word as the status line says it ("early_stopped" -> "early stopped")."""
        return status.replace("_", " ")

    def send(self, command: str, value: float | None = None) -> Note:
        """Steer the followed run (SteerError when it cannot be sent: say it, never raise further)."""
        if self.run is None:
            raise steer.SteerError("no run is being followed")
        return Note(self.run.send(command, value), source="control")

    def toggle_pause(self) -> Note:
        """Pause the followed run, or resume it when its record says it is paused."""
        return self.send("resume" if self.run is not None and self.run.paused else "pause")
