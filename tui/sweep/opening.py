"""Which sweep to open from the runs table: the one the run under the cursor belongs to, else the newest."""

from __future__ import annotations

import os
from pathlib import Path

from core.sweeps.study import SWEEP_FILE, SWEEPS_DIR, sweep_dir
from core.sweeps.view import sweep_of


def sweep_for(runs_dir: str | os.PathLike, run_dir: str | os.PathLike | None) -> Path | None:
    """The sweep folder of `run_dir` (a trial), or the most recently changed sweep of the runs folder; None."""
    if run_dir is not None:
        mark = sweep_of(run_dir)
        if mark is not None and (sweep_dir(runs_dir, mark[0]) / SWEEP_FILE).is_file():
            return sweep_dir(runs_dir, mark[0])
    root = Path(runs_dir) / SWEEPS_DIR
    try:
        folders = [p for p in root.iterdir() if (p / SWEEP_FILE).is_file()]
    except OSError:
        return None
    return max(folders, key=lambda p: ((p / SWEEP_FILE).stat().st_mtime, p.name), default=None)


def push_sweep(app: object, runs_dir: str | os.PathLike, run_dir: str | os.PathLike | None) -> bool:
    """Push the sweep screen for `sweep_for(...)`; False (and a notice) when the runs folder has no sweep."""
    folder = sweep_for(runs_dir, run_dir)
    if folder is None:
        app.notify("No sweep in this runs folder: start one with --sweep NAME --param ... (or W on the dashboard).",
                   severity="warning")
        return False
    from tui.sweep.screen import SweepScreen

    app.push_screen(SweepScreen(folder))
    return True
