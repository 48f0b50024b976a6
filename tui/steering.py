"""Steering the run the dashboard shows: x, p and L routed to its own run or the followed one.

`Steering` (the app owns one; no Textual in it) sends each command to the own run's RunController while one
goes, else to the followed run through its folder (core.records.steer, source "follower"), whose process obeys
and records it; a refusal is a warning, never a traceback.

Either way a command takes the one command path, `RunControl.apply(Command, source)` (core.backends.control):
the run's book records it as one ControlApplied (a rate as one LearningRateChanged) at the step where the run
obeyed it. A key's source is "key" ("serve" when the dashboard is served to a browser), a signal's "signal".
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable

from core.records.steer import SteerError
from tui.controller import PAUSED, RUNNING, STARTING, Note, Refused, RunController
from tui.follow import Following


def key_source() -> str:
    """Whose keys these are, as the record says: "serve" under textual-serve (Textual's web driver: a browser
    sends them), else "key"."""
    return "serve" if "web_driver" in os.environ.get("TEXTUAL_DRIVER", "") else "key"


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
            self.controller.toggle_pause(key_source())
        except Refused as exc:
            self.warn(str(exc))

    def stop(self, source: str = "") -> None:
        """Stop the run after its current step (`source`: who asked, as the record says; default a key)."""
        if self.on_followed:
            self.steer_followed(self.following.send, "stop")
            return
        try:
            note = self.controller.stop(source or key_source())
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
                    self.show([self.controller.set_lr(lr, key_source())])
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
