"""What the dashboard drives (made by the app, which outlives its screens) and what screens pushed over it get.

`Lab` is the app's plain objects the dashboard screen works with: the run lifecycle (RunController), the
followed run, the steering keys, the UI's priority over the trainer, where runs are written and read.
`RunLink` is the narrow interface a screen pushed over the dashboard (the inspector) gets instead of the app:
the controller (history, watched addresses, probe, config in force) and the pause key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from core.config import TrainConfig
from tui.controller import RunController
from tui.follow import Following
from tui.history import History
from tui.priority import UiPriority
from tui.steering import Steering


def nothing() -> None:
    """The default hook: nothing to do."""


@dataclass
class Lab:
    """The dashboard's collaborators; plain objects, testable without a terminal."""

    controller: RunController
    following: Following
    steering: Steering
    priority: UiPriority
    config: TrainConfig  # what the form shows first
    runs_dir: Path
    data_dir: str | Path | None = None
    trainer_factory: Any = None  # tests and benchmarks script the trainer
    open_run: str | Path | None = None  # a run folder to show on mount
    run_ended: Callable[[], None] = nothing  # the app's signal policy: exit once a stopped run returned


class RunLink:
    """What a screen pushed over the dashboard may use: the run controller and the pause key, not the app."""

    def __init__(self, controller: RunController, pause: Callable[[], None],
                 shown_state: Callable[[], str] | None = None) -> None:
        self.controller = controller
        self.pause = pause
        self._shown_state = shown_state

    def shown_state(self) -> str:
        """What the dashboard's status line says of the run shown (a followed run's status, not "viewing")."""
        return self._shown_state() if self._shown_state is not None else self.controller.state

    @property
    def history(self) -> History:
        return self.controller.history

    @property
    def watched(self) -> list[str]:
        return self.controller.watched

    def set_watched(self, addresses: Iterable[str]) -> None:
        """Replace the watched addresses for this run and the next ones."""
        self.controller.set_watched(list(addresses))

    def action_pause(self) -> None:
        """The inspector's `p` (its name from when it held the app)."""
        self.pause()
