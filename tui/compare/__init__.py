"""Compare runs: the runs table (pick, pin a baseline) and the compare screen (overlays, controls, diff)."""

from __future__ import annotations

from tui.compare.screen import CompareScreen
from tui.compare.table import RunsChoice, RunsTableScreen

__all__ = ["CompareScreen", "RunsChoice", "RunsTableScreen"]
