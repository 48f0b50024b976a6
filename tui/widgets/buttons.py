"""The dashboard's buttons (each one runs the action its key runs), enabled for the run shown."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Button

from tui.controller import ACTIVE, PAUSED, RUNNING, STARTING, STOPPING

BUTTONS = (  # label, id, action (the dashboard screen's; quit is the app's), variant: every key has one
    ("Start (s)", "start-button", "screen.start", "success"),
    ("Pause (p)", "pause-button", "screen.pause", "default"),
    ("Stop (x)", "stop-button", "screen.stop", "error"),
    ("Rate (L)", "lr-button", "screen.set_lr", "default"),
    ("Backend (b)", "backend-button", "screen.switch_backend", "default"),
    ("Inspect (i)", "inspector-button", "screen.inspector", "default"),
    ("Digits (d)", "digits-button", "screen.digits", "default"),
    ("Runs (o)", "runs-button", "screen.open_runs", "default"),
    ("Debug (D)", "debug-button", "screen.toggle_debug", "default"),
    ("Sweep (W)", "sweep-button", "screen.sweep", "default"),
    ("Help (?)", "help-button", "screen.help", "default"),
    ("View (v)", "view-button", "screen.switch_page", "default"),  # the compact layout's other page
    ("Quit (q)", "quit-button", "app.quit", "default"),
)
LIVE_ONLY = ("pause-button", "stop-button", "lr-button")  # disabled until a run goes


class ButtonBar(Grid):
    """A grid of the dashboard's buttons; `show_state` and `show_followed` set what they may do now."""

    def compose(self) -> ComposeResult:
        for label, id_, action, variant in BUTTONS:
            yield Button(label, id=id_, variant=variant, compact=True, action=action,  # type: ignore[arg-type]
                         disabled=id_ in LIVE_ONLY)

    def button(self, id_: str) -> Button:
        return self.query_one(f"#{id_}", Button)

    def show_state(self, state: str) -> None:
        """The own run's state (see tui.controller) decides start, pause/resume, stop and rate."""
        going = state in ACTIVE
        self.button("start-button").disabled = going
        self.button("stop-button").disabled = not going or state == STOPPING
        pause = self.button("pause-button")
        pause.disabled = self.button("lr-button").disabled = state not in (STARTING, RUNNING, PAUSED)
        pause.label = "Resume (p)" if state == PAUSED else "Pause (p)"

    def show_followed(self, run: Any) -> None:
        """Pause, stop and rate act on a followed run (a tui.follow.FollowedRun) while it goes."""
        stop, pause = self.button("stop-button"), self.button("pause-button")
        stop.disabled = pause.disabled = self.button("lr-button").disabled = not run.going
        pause.label = "Resume (p)" if run.paused else "Pause (p)"
