"""Where the explain screen gets its network (a probe's snapshot, never the trainer) and its digits."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from core.address import AddressError, validate
from core.explain.network import Network, network_from_probe


class ModelSource:
    """The model shown, read through its probe: the live run's snapshot copy or a checkpoint's."""

    def __init__(self, probe: Callable[[], Any], config: Callable[[], Any], run_id: Callable[[], str] = str) -> None:
        self.probe, self.config, self.run_id = probe, config, run_id

    @classmethod
    def of(cls, controller: Any) -> ModelSource:
        """From the dashboard's RunController: its probe and the config in force."""
        def run_id() -> str:
            run = controller.history.current
            return run.run_id if run is not None else ""

        return cls(controller.probe, lambda: controller.config, run_id)

    def network(self) -> Network:
        """A copy of the weights (call off the UI thread); LookupError when there is no model yet."""
        try:
            probe = self.probe()
        except (ValueError, LookupError, RuntimeError):
            probe = None
        config = self.config()
        if probe is None or config is None:
            raise LookupError("no model yet: start a run (s) or open one with a checkpoint (o)")
        return network_from_probe(probe, config.activation, config.loss, run_id=self.run_id())


@dataclass
class Digits:
    """The digits the screen can step through: a split's images and labels, or one drawn digit (no label)."""

    images: np.ndarray  # (n, side*side) in [0, 1]
    labels: np.ndarray | None
    side: int
    name: str  # "val", "test" or "canvas"
    index: int = 0

    @property
    def pixels(self) -> list[float]:
        return [float(v) for v in self.images[self.index]]

    def pixels_for(self, inputs: int) -> list[float]:
        """The digit as a network of `inputs` pixels reads it (pooled like core.data); ValueError if not."""
        image = np.asarray(self.images[self.index], dtype=np.float64)
        if image.size == inputs:
            return image.tolist()
        side = math.isqrt(inputs)
        if side * side != inputs or self.side % side:
            raise ValueError(f"the model reads {inputs} pixels; this digit has {image.size}")
        f = self.side // side
        return image.reshape(side, f, side, f).mean(axis=(1, 3)).reshape(-1).tolist()

    @property
    def label(self) -> int | None:
        return None if self.labels is None else int(self.labels[self.index])

    def where(self) -> str:
        return "the digit drawn" if self.name == "canvas" else f"{self.name} digit {self.index}"


def default_address(layer_sizes: tuple[int, ...], watched: Sequence[str], label: int | None) -> str:
    """What to explain when the user named nothing: the first watched weight or bias that fits this network,
    else the weight from hidden unit 0 into the label's output (a last-layer weight), else that output's bias."""
    for address in watched:
        try:
            if validate(address, layer_sizes, graph_nodes=True).kind in ("w", "b"):
                return address
        except AddressError:
            continue
    out = len(layer_sizes) - 2
    neuron = label if label is not None and 0 <= label < layer_sizes[-1] else 0
    return f"L{out}.N{neuron}.w0" if out > 0 else f"L{out}.N{neuron}.b"
