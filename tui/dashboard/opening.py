"""Runs from the runs folder, for the dashboard: the runs table's choice, one run opened from its record (followed
while another process writes it), several compared. What they change lives in the RunController (the viewed run,
its probe, its digits and evaluations); the screens are tui.compare's.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from tui.controller import Note, Refused


class RunOpener:
    """The dashboard's way to recorded runs (its screen's panes, controller and workers)."""

    def __init__(self, screen: Any) -> None:  # the DashboardScreen that owns it (which imports this module)
        self.screen = screen

    def chosen(self, choice: Any) -> None:
        """What the runs table returned: "open" one run in the dashboard, or "compare" the selection."""
        screen = self.screen
        if choice is None or not choice.runs:
            return
        if choice.action == "compare":
            from tui.compare import CompareScreen

            screen.controller.compared.set(choice.runs)  # the inspector compares watched scalars across them
            screen.app.push_screen(CompareScreen(choice.runs, choice.baseline, export_dir=screen.lab.runs_dir))
        elif screen.controller.active:
            screen.notify("Stop the run before opening another one (comparing runs is fine: c).", severity="warning")
        else:
            screen.open_run_dir(Path(choice.runs[0]))

    def open(self, path: Path) -> bool:
        """Show a recorded run's curves and configuration; follow it live while another process writes it."""
        screen = self.screen
        if not self.show_record(path):
            return False
        followed = screen.following.begin(path)
        if followed is not None:
            screen.log_pane.add(f"following {path.name} live: x stops it, p pauses it, L changes its learning rate",
                                source="follow")
            screen.run_worker(partial(followed.run, screen.post_message), thread=True, exit_on_error=False,
                              group="follow", name="follow")
        return True

    def show_record(self, path: Path) -> bool:
        """Show a recorded run's curves and configuration (the run before stays dimmed); False when it cannot."""
        from core.records.runs import NotARunError, open_run

        screen = self.screen
        try:
            record = open_run(path)
            note = screen.controller.view(record.events, record.config, path, record.status)
        except (NotARunError, OSError, Refused) as exc:
            screen.show([Note(str(exc), "error", "runs", "Cannot open the run")])
            return False
        screen.switch.set_backend(record.config.backend)
        screen.form.load(record.config)
        screen.show([note])
        screen.run_worker(self.load_inside, thread=True, exit_on_error=False, group="probe", name="load probe")
        return True

    def load_inside(self) -> None:
        """Off the UI thread: the viewed run's probe (its checkpoint) and its digits (its config's data split)."""
        screen = self.screen
        whys = (screen.controller.load_viewed_probe(), screen.controller.load_viewed_data(screen.lab.data_dir))
        notes = [Note(why, "debug", "runs") for why in whys if why]
        if notes:
            screen.app.call_from_thread(screen.show, notes)
