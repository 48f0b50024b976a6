"""What the handmade training loop reports about its network: watched scalars and per-layer gradient stats."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from core.address import AddressError, validate
from core.backends.gradstats import dead_fraction, layer_grad_stats
from core.events import LogLine, ScalarWatch

if TYPE_CHECKING:
    from core.events import Event
    from core.nn import MLP


class Watcher:
    """Emits ScalarWatch for every watched address; resolves addresses once per change of the watch list."""

    def __init__(self, model: MLP, named: list, layer_sizes: tuple[int, ...], emit: Callable[[Event], None],
                 run_id: str) -> None:
        self.model, self.named, self.layer_sizes, self.emit, self.run_id = model, named, layer_sizes, emit, run_id
        self.key: tuple[str, ...] | None = None
        self.plan: list[tuple[str, str, Any]] = []
        self.warned: set[str] = set()

    def __call__(self, watched: tuple[str, ...], step: int) -> None:
        """Call after backward, before the optimiser step, so data and grad belong together."""
        if watched is not self.key:
            self._plan(watched)
        model, emit, run_id, now = self.model, self.emit, self.run_id, time.time()
        for address, kind, obj in self.plan:
            node = obj if kind == "p" else model.last_loss if kind == "loss" else getattr(obj, kind)
            if node is not None:
                emit(ScalarWatch(run_id=run_id, time=now, step=step, address=address, data=node.data, grad=node.grad))

    def _plan(self, watched: tuple[str, ...]) -> None:
        plan = []
        for address in watched:
            try:
                addr = validate(address, self.layer_sizes, graph_nodes=True)
            except AddressError as exc:
                if address not in self.warned:
                    self.warned.add(address)
                    self.emit(LogLine(run_id=self.run_id, level="warning", source="scalar",
                                      message=f"cannot watch {address!r}: {exc}"))
                continue
            if addr.kind == "loss":
                plan.append((address, "loss", None))
            elif addr.is_graph_node:
                plan.append((address, addr.kind, self.model.layers[addr.layer].neurons[addr.neuron]))
            else:
                plan.append((address, "p", self.named[addr.flat_index(self.layer_sizes)][1]))
        self.key, self.plan = watched, plan


class LayerStats:
    """LayerGradStats per layer from the current grads; dead units over every sample since the last report."""

    def __init__(self, model: MLP, relu: bool) -> None:
        self.weights = [[w for nrn in layer.neurons for w in nrn.w] for layer in model.layers]
        self.hidden = model.layers[:-1] if relu else []
        self.alive = [[False] * len(layer.neurons) for layer in self.hidden]
        self.samples = 0

    def observe(self) -> None:
        """After a sample's forward pass: mark the hidden units it activated."""
        self.samples += 1
        for alive, layer in zip(self.alive, self.hidden, strict=True):
            for j, nrn in enumerate(layer.neurons):
                if nrn.a.data > 0.0:
                    alive[j] = True

    def emit(self, emit: Callable[[Event], None], run_id: str, step: int, lr: float) -> None:
        for i, weights in enumerate(self.weights):
            n = len(weights)
            g = np.fromiter((w.grad for w in weights), float, n)
            d = np.fromiter((w.data for w in weights), float, n)
            dead = dead_fraction(np.array(self.alive[i])) if i < len(self.alive) and self.samples else 0.0
            emit(layer_grad_stats(run_id, step, i, g, d, lr, dead))
        self.alive = [[False] * len(a) for a in self.alive]
        self.samples = 0
