"""The gradient inspector: watch scalars learn, per-layer gradient health, heatmaps, the graph, grad checks."""

from __future__ import annotations

from tui.inspector.screen import InspectorScreen, fits, neuron_of

__all__ = ["InspectorScreen", "fits", "neuron_of"]
