"""The digits screen: prediction grid, confusion matrix, draw-a-digit with saliency (see screen.py)."""

from __future__ import annotations

from tui.digits.screen import DigitsScreen

__all__ = ["DigitsScreen"]
