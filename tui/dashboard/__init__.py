"""The dashboard: the app's default screen (configure, train and watch live), its panes, keys and CSS."""

from __future__ import annotations

from tui.dashboard.lab import Lab, RunLink
from tui.dashboard.screen import DashboardScreen

__all__ = ["DashboardScreen", "Lab", "RunLink"]
