"""Sweeps in the terminal: the sweep screen (trials live, best so far, parallel coordinates, importance) and
the dashboard's launcher of a small sweep over the form's settings."""

from __future__ import annotations

from tui.sweep.screen import SweepScreen

__all__ = ["SweepScreen"]
