"""Runs from the runs folder: the runs table (`o`), one run opened from its record (followed while it is
written), several compared.

Plain functions of the app: what they change lives in the app's RunController (the viewed run, its probe,
its digits and evaluations); the screens are tui.compare's.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from tui.controller import Note, Refused


def push_runs_table(app: Any) -> None:
    """Every run in the runs folder (live ones marked); open one or compare several."""
    from tui.compare import RunsTableScreen

    app.push_screen(RunsTableScreen(app.runs_dir), partial(runs_chosen, app))


def runs_chosen(app: Any, choice: Any) -> None:
    """What the runs table returned: "open" one run in the dashboard, or "compare" the selection."""
    if choice is None or not choice.runs:
        return
    if choice.action == "compare":
        from tui.compare import CompareScreen

        app.controller.compared.set(choice.runs)  # the inspector compares watched scalars across them
        app.push_screen(CompareScreen(choice.runs, choice.baseline, export_dir=app.runs_dir))
    elif app.controller.active:
        app.notify("Stop the run before opening another one (comparing runs is fine: c).", severity="warning")
    else:
        open_run_dir(app, Path(choice.runs[0]))


def open_run_dir(app: Any, path: Path) -> None:
    """Show a recorded run's curves and configuration; follow it live while another process writes it."""
    if not show_record(app, path):
        return
    followed = app.following.begin(path)
    if followed is not None:
        app.log_pane.add(f"following {path.name} live: x stops it, p pauses it, L changes its learning rate",
                         source="follow")
        app.run_worker(partial(followed.run, app.post_message), thread=True, exit_on_error=False,
                       group="follow", name="follow")


def show_record(app: Any, path: Path) -> bool:
    """Show a recorded run's curves and configuration (the run before stays dimmed); False when it cannot."""
    from core.records.runs import NotARunError, open_run

    try:
        record = open_run(path)
        note = app.controller.view(record.events, record.config, path, record.status)
    except (NotARunError, OSError, Refused) as exc:
        app.show([Note(str(exc), "error", "runs", "Cannot open the run")])
        return False
    app.switch.set_backend(record.config.backend)
    app.form.load(record.config)
    app.show([note])
    app.run_worker(partial(load_inside, app), thread=True, exit_on_error=False, group="probe", name="load probe")
    return True


def load_inside(app: Any) -> None:
    """Off the UI thread: the viewed run's probe (its checkpoint) and its digits (its config's data split)."""
    controller = app.controller
    whys = (controller.load_viewed_probe(), controller.load_viewed_data(app.data_dir))
    notes = [Note(why, "debug", "runs") for why in whys if why]
    if notes:
        app.call_from_thread(app.show, notes)
