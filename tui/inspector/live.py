"""What the inspector reads: the config in force and the probe of the model shown (never a trainer's insides).

The probe (core.backends: `Trainer.probe()` of the current run, or `load_probe(run_dir)` for a viewed run)
answers from a consistent snapshot taken between optimiser steps, so reading it from the UI thread is safe.
"""

from __future__ import annotations

from typing import Any

from core.config import TrainConfig
from tui.inspector.pack import joined
from tui.render import fmt

PROBE_ERRORS = (ValueError, LookupError, RuntimeError)  # an address the snapshot lacks, a model gone away


class LiveReader:
    """Read-only accessors over the dashboard's RunController, tolerant of what is not there yet."""

    def __init__(self, controller: Any) -> None:
        self.controller = controller

    def run(self) -> Any:
        return self.controller.history.current

    def state(self) -> str:
        return self.controller.state

    def config(self) -> TrainConfig | None:
        """The running (or viewed) run's config, else the form's: the next run's."""
        return self.controller.config

    def layer_sizes(self) -> tuple[int, ...]:
        config = self.config()
        return tuple(config.layer_sizes) if config is not None else ()

    def backend(self) -> str:
        config = self.config()
        return config.backend if config is not None else "scalar"

    def probe(self) -> Any:
        """The probe of the model shown, when it has the shape in force (else None: nothing to read yet)."""
        try:
            probe = self.controller.probe()
        except PROBE_ERRORS:
            return None
        if probe is None or tuple(probe.layer_sizes) != self.layer_sizes():
            return None
        return probe

    def graph_nodes(self) -> bool:
        """Whether z, a and loss addresses exist (the handmade engine's graph)."""
        probe = self.probe()
        return bool(probe.graph_nodes) if probe is not None else self.backend() == "scalar"

    def input_side(self) -> int | None:
        probe = self.probe()
        if probe is not None:
            return probe.input_side
        config = self.config()
        return config.input_size if config is not None else None

    def incoming(self, layer: int, neuron: int) -> tuple[list[float] | None, list[float] | None]:
        """A neuron's incoming weights and grads from the probe's snapshot, or (None, None)."""
        sizes = self.layer_sizes()
        probe = self.probe()
        if probe is None or not 0 <= layer < len(sizes) - 1 or not 0 <= neuron < sizes[layer + 1]:
            return None, None
        try:
            weights, grads = probe.incoming(layer, neuron)
        except PROBE_ERRORS:
            return None, None
        return list(weights), list(grads)

    def describe(self, address: str | None) -> str:
        """'live now (step N): data … grad …' from the probe's snapshot ('' when not possible)."""
        return joined(self.phrases(address))

    def phrases(self, address: str | None) -> list[tuple[str, str]]:
        """`describe` as (joiner, phrase) pairs, for lines broken between phrases ([] when not possible)."""
        probe = self.probe()
        if not address or probe is None:
            return []
        try:
            data, grad = probe.value(address)
            step = probe.step()
        except PROBE_ERRORS:
            return []
        return [("", f"live now (step {step:,}):"), (" ", f"data {fmt(data)}"), ("  ", f"grad {fmt(grad)}")]
