"""The dashboard's buttons (each one runs the app action its key runs), enabled for the run shown."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Button

from tui.controller import ACTIVE, PAUSED, RUNNING, STARTING, STOPPING

BUTTONS = (  # label, id, action, variant
    ("Start (s)", "start-button", "start", "success"), ("Pause (p)", "pause-button", "pause", "default"),
    ("Stop (x)", "stop-button", "stop", "error"), ("Backend (b)", "backend-button", "switch_backend", "default"),
    ("Inspect (i)", "inspector-button", "inspector", "default"), ("Digits (d)", "digits-button", "digits", "default"),
    ("Runs (o)", "runs-button", "open_runs", "default"), ("Help (?)", "help-button", "help", "default"),
    ("Quit (q)", "quit-button", "quit", "default"),
)


class ButtonBar(Grid):
    """A grid of the dashboard's buttons; `show_state` and `show_followed` set what they may do now."""

    def compose(self) -> ComposeResult:
        for label, id_, action, variant in BUTTONS:
            yield Button(label, id=id_, variant=variant, compact=True, action=f"app.{action}",  # type: ignore[arg-type]
                         disabled=id_ in ("pause-button", "stop-button"))

    def button(self, id_: str) -> Button:
        return self.query_one(f"#{id_}", Button)

    def show_state(self, state: str) -> None:
        """The own run's state (see tui.controller) decides start, pause/resume and stop."""
        going = state in ACTIVE
        self.button("start-button").disabled = going
        self.button("stop-button").disabled = not going or state == STOPPING
        pause = self.button("pause-button")
        pause.disabled = state not in (STARTING, RUNNING, PAUSED)
        pause.label = "Resume (p)" if state == PAUSED else "Pause (p)"

    def show_followed(self, run: Any) -> None:
        """Pause and stop act on a followed run (a tui.follow.FollowedRun) while it goes."""
        stop, pause = self.button("stop-button"), self.button("pause-button")
        stop.disabled = pause.disabled = not run.going
        pause.label = "Resume (p)" if run.paused else "Pause (p)"
