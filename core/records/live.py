"""What a recorded run offers while it runs: its folder's lock, a control inbox, and system figures.

`LiveRun` is started by core.session around one run. A thread polls the run folder's control inbox
(core.records.steer) about five times a second and turns commands into calls on the run's `RunControl`, recording each
one as a `ControlApplied` event (learning-rate changes are recorded by the backend, as `LearningRateChanged`,
at the exact step they take effect). A second thread samples CPU, memory and GPU figures (core.system) into
low-rate `SystemStats` events, so a run opened later still shows them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from core.backends import RunControl
from core.events import ControlApplied, Event, LogLine, StepEnded
from core.records.steer import ControlInbox
from core.system import SystemSampler

INBOX_EVERY_S = 0.2  # a command is obeyed within one step of a slow run, within a fifth of a second of a fast one
SYSTEM_EVERY_S = 2.0  # the record gets 1,800 SystemStats an hour: enough for a sparkline, little for a file


class LiveRun:
    """The run folder's live side; `start()` after the lock is taken, `stop()` before the summary."""

    def __init__(self, run_dir: Path, run_id: str, control: RunControl, emit: Callable[[Event], None], *,
                 system: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.run_id = run_id
        self.control = control
        self.emit = emit
        self.step = 0  # the latest step reported, for the record of when a command was applied
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

    def _serve(self) -> None:
        while not self._done.wait(INBOX_EVERY_S):
            for command in self.inbox.poll(force=True):
                self.apply(command.command, command.value, "folder")
            while self.inbox.rejected:
                self.emit(LogLine(run_id=self.run_id, level="warning", source="control",
                                  message=f"ignored a command file: {self.inbox.rejected.pop(0)}"))

    def apply(self, command: str, value: float | None, source: str) -> None:
        """Carry out one command on the run and record it."""
        if command == "set_lr" and value is not None:
            self.control.set_lr(value, source)  # the backend records LearningRateChanged when it applies it
            return
        if command == "stop":
            self.control.stop()
        elif command == "pause":
            self.control.pause()
        elif command == "resume":
            self.control.resume()
        else:
            return
        self.emit(ControlApplied(run_id=self.run_id, step=self.step, command=command, source=source))

