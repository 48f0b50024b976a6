"""The explain screen: one digit stepped forward and backward through the network, down to one Scalar."""

from __future__ import annotations

from tui.explain.screen import ExplainScreen
from tui.explain.source import Digits, ModelSource

__all__ = ["Digits", "ExplainScreen", "ModelSource"]
