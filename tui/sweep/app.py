"""`mnist-dash --open-sweep NAME`: the sweep screen on its own (escape quits; compare screens stack on it)."""

from __future__ import annotations

import os
from pathlib import Path

from textual.app import App
from textual.screen import Screen

from tui.sweep.screen import REFRESH_SECONDS, SweepScreen


class SweepApp(App[int]):
    """The sweep screen as the whole app."""

    TITLE = "mnist-dash sweep"
    BINDINGS = [("q", "quit", "quit")]

    def __init__(self, folder: str | os.PathLike, *, refresh_seconds: float = REFRESH_SECONDS) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.refresh_seconds = refresh_seconds

    def get_default_screen(self) -> Screen:
        return SweepScreen(self.folder, refresh_seconds=self.refresh_seconds)


def run_sweep_app(folder: str | os.PathLike) -> int:
    """Show a sweep folder until the user quits; the exit status."""
    result = SweepApp(folder).run()
    return result if isinstance(result, int) else 0
