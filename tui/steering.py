"""Steering the run the dashboard shows: x, p and L routed to its own run or the followed one, and recorded.

`Steering` (the app owns one; no Textual in it) sends each command to the own run's RunController while one
goes, else to the followed run through its folder (core.records.steer), whose process obeys and records it; a
refusal is a warning, never a traceback.

A run's record is written by core.session from the `emit` it hands the backend's `fit`. The dashboard wraps
the backend in a `RecordingTrainer` that keeps that `emit`, so a key press can add
`ControlApplied(source="dashboard")` to the record (and, through it, to the dashboard's own log) exactly as
a command from the run folder is recorded with source "folder" (and a stop on SIGHUP/SIGTERM with source
"signal"). The recorder is thread-safe.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from core.backends import get_trainer
from core.events import ControlApplied, Event
from core.records.steer import SteerError
from tui.controller import PAUSED, RUNNING, STARTING, Note, Refused, RunController
from tui.follow import Following

SOURCE = "dashboard"


class Steering:
    """Pause, stop and a new learning rate for the live run shown: the own run, else a followed one."""

    def __init__(self, controller: RunController, following: Following, *,
                 show: Callable[[Iterable[Note]], None], warn: Callable[[str], None]) -> None:
        self.controller, self.following = controller, following
        self.show, self.warn = show, warn  # log/notify notes; a warning notification

    @property
    def on_followed(self) -> bool:
        """No own run goes and a followed one may still write: commands go to its folder."""
        return not self.controller.active and self.following.going

    def pause(self) -> None:
        """Pause the run, or resume it."""
        if self.on_followed:
            self.steer_followed(self.following.toggle_pause)
            return
        try:
            self.controller.toggle_pause()
        except Refused as exc:
            self.warn(str(exc))

    def stop(self, source: str = SOURCE) -> None:
        """Stop the run after its current step (`source`: who asked, as the record says)."""
        if self.on_followed:
            self.steer_followed(self.following.send, "stop")
            return
        try:
            note = self.controller.stop(source)
        except Refused as exc:
            self.warn(str(exc))
            return
        self.show([note] if note else [])

    def lr_request(self) -> tuple[float | None, str, Callable[[float | None], None]] | None:
        """What the learning-rate dialog shows (the rate now, whose run) and what its answer does; None: no run."""
        own = self.controller.state in (STARTING, RUNNING, PAUSED)
        if not own and not self.following.going:
            self.warn("No live run: the learning rate of the next run is in the form.")
            return None
        marks, config = self.controller.marks, self.controller.run_config
        current = marks.lr if marks.lr is not None else (config.lr if config else None)
        target = "this run" if own else self.following.run.run_dir.name  # type: ignore[union-attr]

        def apply(lr: float | None) -> None:
            if lr is None:
                return
            if own:
                try:
                    self.show([self.controller.set_lr(lr)])
                except Refused as exc:
                    self.warn(str(exc))
            else:
                self.steer_followed(self.following.send, "set_lr", lr)

        return current, target, apply

    def steer_followed(self, send: Callable[..., Note], *args: Any) -> None:
        """A command to the followed run through its folder; a refusal is a notification, never a traceback."""
        try:
            self.show([send(*args)])
        except (SteerError, OSError) as exc:
            self.show([Note(str(exc), "warning", "control", "Cannot steer the run")])


class RecordingTrainer:
    """A backend, unchanged, that remembers the `emit` its run records through."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.emit: Callable[[Event], None] | None = None
        self.run_id = ""

    def fit(self, config: Any, data: Any, emit: Callable[[Event], None], control: Any, **kwargs: Any) -> Any:
        self.emit, self.run_id = emit, str(kwargs.get("run_id", ""))
        try:
            return self.inner.fit(config, data, emit, control, **kwargs)
        finally:
            self.emit = None

    def record(self, command: str, step: int, source: str = SOURCE) -> bool:
        """Add ControlApplied(command, source) to the run's record; False before the run records."""
        emit = self.emit
        if emit is None or not self.run_id:
            return False
        emit(ControlApplied(run_id=self.run_id, step=int(step), command=command, source=source))
        return True

    def __getattr__(self, name: str) -> Any:  # probe() and anything else a front end asks the backend
        return getattr(self.inner, name)


def recording_factory(factory: Callable[[str], Any] | None) -> Callable[[str], RecordingTrainer]:
    """A trainer factory whose trainers record the dashboard's commands (`factory` None: the registry's)."""

    def make(backend: str) -> RecordingTrainer:
        return RecordingTrainer(factory(backend) if factory else get_trainer(backend))

    return make
