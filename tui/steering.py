"""The dashboard's own commands in its run's record: pause, resume and stop recorded as ControlApplied.

A run's record is written by core.session from the `emit` it hands the backend's `fit`. The dashboard wraps
the backend in a `RecordingTrainer` that keeps that `emit`, so a key press can add
`ControlApplied(source="dashboard")` to the record (and, through it, to the dashboard's own log) exactly as
a command from the run folder is recorded with source "folder". The recorder is thread-safe.
"""

from __future__ import annotations

from typing import Any, Callable

from core.backends import get_trainer
from core.events import ControlApplied, Event

SOURCE = "dashboard"


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

    def record(self, command: str, step: int) -> bool:
        """Add ControlApplied(command, source="dashboard") to the run's record; False before the run records."""
        emit = self.emit
        if emit is None or not self.run_id:
            return False
        emit(ControlApplied(run_id=self.run_id, step=int(step), command=command, source=SOURCE))
        return True

    def __getattr__(self, name: str) -> Any:  # probe() and anything else a front end asks the backend
        return getattr(self.inner, name)


def recording_factory(factory: Callable[[str], Any] | None) -> Callable[[str], RecordingTrainer]:
    """A trainer factory whose trainers record the dashboard's commands (`factory` None: the registry's)."""

    def make(backend: str) -> RecordingTrainer:
        return RecordingTrainer(factory(backend) if factory else get_trainer(backend))

    return make
