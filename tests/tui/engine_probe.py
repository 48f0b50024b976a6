"""A test-only Probe over a handmade MLP that is not training (the protocol of core.backends, nothing more)."""

from __future__ import annotations

from typing import Sequence

from core.backends.scalar.graph import GraphView
from core.gradcheck import grad_check


class EngineProbe:
    """Answers from `model` as it is; `sample` is the (pixels, label) the last loss was computed on."""

    backend = "scalar"
    graph_nodes = True

    def __init__(self, model, sample: tuple[Sequence[float], int], input_side: int, loss: str = "cross_entropy",
                 step: int = 30) -> None:
        self.model, self.sample, self.loss, self._step = model, sample, loss, step
        self.layer_sizes = (model.nin, *model.nouts)
        self.input_side = input_side

    def step(self) -> int:
        return self._step

    def value(self, address: str) -> tuple[float, float]:
        node = self.model.resolve(address)
        return float(node.data), float(node.grad)

    def values(self, addresses: Sequence[str]) -> dict[str, tuple[float, float]]:
        return {a: self.value(a) for a in addresses}

    def incoming(self, layer: int, neuron: int) -> tuple[list[float], list[float]]:
        ws = self.model.layers[layer].neurons[neuron].w
        return [w.data for w in ws], [w.grad for w in ws]

    def grad_check(self, address: str):
        x, label = self.sample
        return grad_check(self.model, x, label, address, self.loss)

    def graph(self):
        root = getattr(self.model, "last_loss", None)
        return None if root is None else GraphView.of_loss(self.model, root)
