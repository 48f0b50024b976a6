"""What a recorded run offers while it runs: its folder's lock, a control inbox, and system figures.

`LiveRun` is started by core.session around one run. A thread polls the run folder's control inbox
(core.records.steer) about five times a second and hands each command to the one command path,
`RunControl.apply(Command, source)` (core.backends.control), with the source its file names ("cli" for
`--stop/--pause/--resume/--lr`, "follower" for a following dashboard). The run book records each command where
the run obeys it: one `ControlApplied` (one `LearningRateChanged` for a rate) at that step. Front ends holding
the live run (signals, the hang-up policy) command it through `LiveRun.apply` the same way. A second thread
samples CPU, memory and GPU figures (core.system) into low-rate `SystemStats` events, so a run opened later
still shows them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from core.backends.control import Command, RunControl
from core.events import Event, LogLine, StepEnded
from core.records.steer import ControlInbox
from core.system import SystemSampler

__all__ = ["Command", "LiveRun", "command_of"]

INBOX_EVERY_S = 0.2  # a command is obeyed within one step of a slow run, within a fifth of a second of a fast one
SYSTEM_EVERY_S = 2.0  # the record gets 1,800 SystemStats an hour: enough for a sparkline, little for a file
FILE_KINDS = {"stop": "stop", "pause": "pause", "resume": "resume", "set_lr": "lr"}  # control file -> Command


def command_of(name: str, value: float | None) -> Command:
    """The Command a control file's `command` and `value` stand for; ValueError for anything else."""
    if name not in FILE_KINDS:
        raise ValueError(f"unknown command {name!r}")
    return Command(FILE_KINDS[name], value)


class LiveRun:
    """The run folder's live side; `start()` after the lock is taken, `stop()` before the summary."""

    def __init__(self, run_dir: Path, run_id: str, control: RunControl, emit: Callable[[Event], None], *,
                 system: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.run_id = run_id
        self.control = control
        self.emit = emit  # the run's own emit: recorded, and seen by the front end (a hang-up's note)
        self.step = 0  # the latest step reported (for notes; commands are recorded at the step they act)
        self.inbox = ControlInbox(self.run_dir, run_id, interval=INBOX_EVERY_S)
        self.sampler = SystemSampler(interval=SYSTEM_EVERY_S, on_sample=emit, run_id=run_id) if system else None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="run-control-inbox", daemon=True)

    def observe(self, event: Event) -> None:
        """Called with every event of the run (cheap): keeps the step current."""
        if isinstance(event, StepEnded):
            self.step = event.step

    def start(self) -> LiveRun:
        self._thread.start()
        if self.sampler is not None:
            self.sampler.start()
        return self

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        if self.sampler is not None:
            self.sampler.stop()

    def apply(self, command: Command, source: str, *, reason: str = "stopped") -> None:
        """Carry out one command on the run (the run book records it where the run obeys it)."""
        self.control.apply(command, source, reason=reason)

    def serve_once(self) -> None:
        """One look at the inbox: obey what arrived, then log every command file that was refused."""
        for sent in self.inbox.poll(force=True):
            try:
                command = command_of(sent.command, sent.value)
            except ValueError as exc:
                self.warn(f"ignored a command file: {sent.name}: {exc}")
                continue
            self.apply(command, getattr(sent, "source", "") or "cli")
        while self.inbox.rejected:
            self.warn(f"ignored a command file: {self.inbox.rejected.pop(0)}")

    def warn(self, message: str) -> None:
        self.emit(LogLine(run_id=self.run_id, level="warning", source="control", message=message))

    def _serve(self) -> None:
        while not self._done.wait(INBOX_EVERY_S):
            self.serve_once()
