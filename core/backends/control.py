"""The one command path into a running run: `Command`, and `RunControl.apply(command, source)`.

Every command (stop, pause, resume, a learning rate), whoever sends it (a key, the CLI through the run folder,
a signal, a followed dashboard, the hang-up policy, a sweep's pruner, the served page), reaches a run as
`control.apply(Command(...), source)`. `apply` changes the run's RunControl at once and queues the command's
acknowledgement; the backend's run book (core.backends.runbook) records it when the run obeys, as ONE
`ControlApplied` (or, for a rate, one `LearningRateChanged`) carrying the source and the step at which it took
effect: the step the run actually paused or stopped at, not the last step someone saw reported.

Plain threading objects; the backend polls between steps and never blocks the front end.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Iterable

from core.config import MAX_LR

KINDS = ("stop", "pause", "resume", "lr")
# Who sent a command, as ControlApplied.source and LearningRateChanged.source say ("schedule" is the run's own).
SOURCES = ("key", "cli", "signal", "follower", "hangup", "sweep", "serve")
STOP_REASONS = ("stopped", "pruned")  # what a requested stop becomes in the summary


def check_lr(value: object) -> float:
    """A learning rate a run accepts (a finite number, 0 < lr <= MAX_LR); ValueError says why not."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("a learning rate is a number, e.g. 0.01")
    try:
        lr = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"learning rate {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(lr) or lr <= 0 or lr > MAX_LR:
        raise ValueError(f"learning rate must be a finite number above 0 and at most {MAX_LR:g}, not {lr!r}")
    return lr


@dataclass(frozen=True)
class Command:
    """One command to a run: kind "stop" | "pause" | "resume" | "lr" (value: the rate)."""

    kind: str
    value: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown command {self.kind!r}: use one of {', '.join(KINDS)}")
        if self.kind == "lr":
            object.__setattr__(self, "value", check_lr(self.value))
        elif self.value is not None:
            raise ValueError(f"{self.kind} takes no value")


class RunControl:
    """What flows from the front ends to a running backend: commands (through `apply`) and watched addresses."""

    def __init__(self, watched: Iterable[str] = ()) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()  # set = not paused
        self._running.set()
        self._lock = threading.Lock()
        self._watched: tuple[str, ...] = tuple(dict.fromkeys(watched))
        self._lr_change: tuple[float, str] | None = None
        self._applied: list[tuple[str, str]] = []  # (kind, source) obeyed but not yet recorded
        self.stop_reason = "stopped"

    # the one entry ------------------------------------------------------------------------------------
    def apply(self, command: Command, source: str, *, reason: str = "stopped") -> None:
        """Carry out `command` from `source`; the run book records it at the step the run obeys it."""
        if command.kind == "stop":
            self.stop(reason, source=source)
        elif command.kind == "pause":
            self.pause(source=source)
        elif command.kind == "resume":
            self.resume(source=source)
        else:
            self.set_lr(float(command.value), source)  # type: ignore[arg-type]

    # stop -------------------------------------------------------------------------------------------
    def stop(self, reason: str = "stopped", *, source: str = "") -> None:
        """Ask the run to stop after the current step (also releases a pause); `reason` ends up in the summary."""
        if reason not in STOP_REASONS:
            raise ValueError(f"a stop's reason is one of {', '.join(STOP_REASONS)}, not {reason!r}")
        with self._lock:
            if self._stop.is_set():
                return  # one stop is obeyed and recorded; a second changes nothing
            self.stop_reason = reason
            self._applied.append(("stop", source))
            self._stop.set()
            self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # pause ------------------------------------------------------------------------------------------
    def pause(self, *, source: str = "") -> None:
        with self._lock:
            if self._running.is_set() and not self._stop.is_set():
                self._applied.append(("pause", source))
                self._running.clear()

    def resume(self, *, source: str = "") -> None:
        with self._lock:
            if not self._running.is_set():
                self._applied.append(("resume", source))
                self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, poll: float = 0.1) -> None:
        """Block while paused; return at once when running or when a stop is requested."""
        while not self._running.wait(poll):
            if self._stop.is_set():
                return

    # stepping aside -------------------------------------------------------------------------------
    # A front end that shares the interpreter with a pure-Python trainer (the dashboard beside the handmade
    # engine) may want it to itself for a moment: it sets `step_aside_wanted`, a plain attribute because the
    # trainer reads it once per sample, between samples and between the rows of an evaluation, where a pause
    # (checked once per step) would come too late. Nothing is recorded: the run merely waits.
    step_aside_wanted = False

    def step_aside(self) -> float:
        """Wait while a front end wants the interpreter (see above); the seconds waited, 0.0 when nobody asked."""
        return 0.0

    # what the run book records ----------------------------------------------------------------------
    @property
    def applied_pending(self) -> bool:
        """Commands wait to be recorded (cheap to poll between steps: one attribute read)."""
        return bool(self._applied)

    def take_applied(self, *, obeyed_only: bool = False) -> list[tuple[str, str]]:
        """The (kind, source) of the commands carried out since the last call, oldest first.

        `obeyed_only`: keep back a last pause still in force or a last stop, which the run obeys at its next check.
        """
        with self._lock:
            taken, self._applied = self._applied, []
            if obeyed_only and taken:
                last = taken[-1][0]
                if last == "stop" or (last == "pause" and not self._running.is_set()):
                    self._applied = [taken.pop()]
        return taken

    # learning rate ----------------------------------------------------------------------------------
    def set_lr(self, lr: float, source: str = "") -> None:
        """Ask for a new learning rate from the next optimiser step on (the last request wins)."""
        lr = check_lr(lr)
        with self._lock:
            self._lr_change = (lr, source)

    @property
    def lr_pending(self) -> bool:
        """Cheap to poll between steps: one attribute read."""
        return self._lr_change is not None

    def take_lr(self) -> tuple[float, str] | None:
        """The pending (lr, source), cleared; None when nothing is pending. The run book applies and records it."""
        with self._lock:
            change, self._lr_change = self._lr_change, None
        return change

    # watched addresses ------------------------------------------------------------------------------
    @property
    def watched(self) -> tuple[str, ...]:
        """A snapshot of the watched addresses (safe to read from the training thread)."""
        return self._watched

    def set_watched(self, addresses: Iterable[str]) -> None:
        with self._lock:
            self._watched = tuple(dict.fromkeys(addresses))

    def watch(self, address: str) -> None:
        with self._lock:
            if address not in self._watched:
                self._watched = (*self._watched, address)

    def unwatch(self, address: str) -> None:
        with self._lock:
            self._watched = tuple(a for a in self._watched if a != address)
