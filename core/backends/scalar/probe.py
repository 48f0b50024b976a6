"""The handmade engine's Probe: answers from a snapshot the training thread publishes between optimiser steps.

The training thread publishes into the shared SnapshotBox (core.backends.snapshots) after a step's backward pass
and before its update (so the weights and grads belong together), at most every PUBLISH_EVERY_S once a probe has
been asked for, when it pauses, and at the end of the run. A snapshot is immutable; publishing swaps one
reference. The probe builds its own MLP from the snapshot, so nothing here ever touches the live model.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from core.address import Address, validate
from core.backends.scalar.evaluation import activation_function, forward_floats, softmax
from core.backends.scalar.graph import GraphView
from core.backends.snapshots import PUBLISH_EVERY_S, SnapshotBox
from core.engine import Scalar
from core.gradcheck import GradCheck, grad_check
from core.nn import MLP, cross_entropy, mse_loss

if TYPE_CHECKING:
    from core.config import TrainConfig

__all__ = ["PUBLISH_EVERY_S", "ScalarProbe", "Snapshot", "SnapshotBox", "probe_from_checkpoint", "take_snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """Parameters and their grads at one optimiser step, and the last sample of that step."""

    step: int
    layer_sizes: tuple[int, ...]
    activation: str
    loss: str
    params: tuple[float, ...]  # named_parameters() order (= Address.flat_index)
    grads: tuple[float, ...]
    sample: tuple[tuple[float, ...], int, float] | None = None  # (pixels, label, loss scale 1/batch)


def take_snapshot(step: int, config: TrainConfig, params: Sequence[Scalar],
                  sample: tuple[Sequence[float], int, float] | None) -> Snapshot:
    """Copy the live parameters (call from the training thread only)."""
    return Snapshot(step=step, layer_sizes=tuple(config.layer_sizes), activation=config.activation,
                    loss=config.loss, params=tuple([p.data for p in params]),
                    grads=tuple([p.grad for p in params]),
                    sample=None if sample is None else (tuple(sample[0]), int(sample[1]), float(sample[2])))


class ScalarProbe:
    """Read-only answers about the handmade network at the latest published snapshot; safe from any thread."""

    backend = "scalar"
    graph_nodes = True

    def __init__(self, box: SnapshotBox[Snapshot]) -> None:
        self._box = box
        box.active = True
        first = box.latest()
        if first is None:
            raise ValueError("no snapshot has been published yet")
        self.layer_sizes = first.layer_sizes
        self.input_side = math.isqrt(first.layer_sizes[0])
        self._lock = threading.Lock()
        self._copy: tuple[Snapshot, MLP] | None = None
        self._nodes: tuple[Snapshot, dict[str, tuple[float, float]]] | None = None

    # ---- snapshot plumbing ---------------------------------------------------------------------------
    def _snap(self) -> Snapshot:
        snap = self._box.latest()
        assert snap is not None
        return snap

    def _model(self, snap: Snapshot) -> MLP:
        """This probe's own MLP holding the snapshot's parameters (call with the lock held)."""
        if self._copy is None or self._copy[0] is not snap:
            sizes = snap.layer_sizes
            model = self._copy[1] if self._copy else MLP(sizes[0], list(sizes[1:]), activation=snap.activation)
            for p, v in zip(model.parameters(), snap.params, strict=True):
                p.data, p.grad = v, 0.0
            self._copy = (snap, model)
        return self._copy[1]

    def _loss_fn(self, snap: Snapshot):
        return cross_entropy if snap.loss == "cross_entropy" else mse_loss

    def _graph_values(self, snap: Snapshot) -> dict[str, tuple[float, float]]:
        """z, a and loss of the snapshot's last sample, by re-running its forward and (scaled) backward pass."""
        if self._nodes is not None and self._nodes[0] is snap:
            return self._nodes[1]
        values: dict[str, tuple[float, float]] = {}
        if snap.sample is not None:
            x, label, scale = snap.sample
            model = self._model(snap)
            loss = self._loss_fn(snap)(model(list(x)), label)
            (loss * scale if scale != 1.0 else loss).backward()
            values["loss"] = (loss.data, loss.grad)
            for i, layer in enumerate(model.layers):
                for j, nrn in enumerate(layer.neurons):
                    values[f"L{i}.N{j}.z"] = (nrn.z.data, nrn.z.grad)
                    values[f"L{i}.N{j}.a"] = (nrn.a.data, nrn.a.grad)
            for p in model.parameters():
                p.grad = 0.0
        self._nodes = (snap, values)
        return values

    def _value(self, snap: Snapshot, address: str) -> tuple[float, float]:
        addr: Address = validate(address, snap.layer_sizes, graph_nodes=True)
        if addr.is_parameter:
            i = addr.flat_index(snap.layer_sizes)
            return snap.params[i], snap.grads[i]
        values = self._graph_values(snap)
        if str(addr) not in values:
            raise ValueError(f"{addr}: no sample has passed through the network yet")
        return values[str(addr)]

    # ---- the Probe protocol --------------------------------------------------------------------------
    def step(self) -> int:
        return self._snap().step

    def value(self, address: str) -> tuple[float, float]:
        """(data, grad) of a parameter or graph node; AddressError for an address this network lacks."""
        with self._lock:
            return self._value(self._snap(), address)

    def values(self, addresses: Sequence[str]) -> dict[str, tuple[float, float]]:
        with self._lock:
            snap = self._snap()
            return {a: self._value(snap, a) for a in addresses}

    def _layer(self, snap: Snapshot, layer: int) -> tuple[int, int, int]:
        sizes = snap.layer_sizes
        if not 0 <= layer < len(sizes) - 1:
            raise ValueError(f"layer {layer} does not exist: this network has layers L0..L{len(sizes) - 2}")
        offset = sum((sizes[i] + 1) * sizes[i + 1] for i in range(layer))
        return offset, sizes[layer], sizes[layer + 1]

    def incoming(self, layer: int, neuron: int) -> tuple[list[float], list[float]]:
        """The incoming weights of one neuron and their grads."""
        snap = self._snap()
        offset, fan_in, width = self._layer(snap, layer)
        if not 0 <= neuron < width:
            raise ValueError(f"neuron {neuron} does not exist: layer {layer} has neurons N0..N{width - 1}")
        start = offset + neuron * (fan_in + 1)
        return list(snap.params[start:start + fan_in]), list(snap.grads[start:start + fan_in])

    def layer_weights(self, layer: int) -> tuple[list[list[float]], list[float]]:
        """The weight rows (one per neuron) and biases of a layer."""
        snap = self._snap()
        offset, fan_in, width = self._layer(snap, layer)
        rows = [list(snap.params[offset + j * (fan_in + 1):offset + j * (fan_in + 1) + fan_in]) for j in range(width)]
        return rows, [snap.params[offset + j * (fan_in + 1) + fan_in] for j in range(width)]

    def _float_layers(self, snap: Snapshot) -> list:
        layers = []
        for i in range(len(snap.layer_sizes) - 1):
            offset, fan_in, width = self._layer(snap, i)
            block = snap.params[offset:offset + width * (fan_in + 1)]
            rows = [list(block[j * (fan_in + 1):j * (fan_in + 1) + fan_in]) for j in range(width)]
            biases = [block[j * (fan_in + 1) + fan_in] for j in range(width)]
            act = activation_function(snap.activation) if i < len(snap.layer_sizes) - 2 else None
            layers.append((rows, biases, act))
        return layers

    def predict(self, images: Sequence[Sequence[float]]) -> list[list[float]]:
        """Softmax probabilities, one row of 10 per image (the float forward pass of the engine's arithmetic)."""
        snap = self._snap()
        arr = np.asarray(images, dtype=np.float64).reshape(-1, snap.layer_sizes[0])
        if not len(arr):
            return []
        return softmax(forward_floats(self._float_layers(snap), arr)).tolist()

    def input_gradient(self, image: Sequence[float], *, target: int | None = None,
                       label: int | None = None) -> tuple[list[float], list[float]]:
        """(probabilities, d/d pixel) by the Scalar graph's own backward pass into the input pixels.

        Of the class score `target` (default: the predicted class), or of the loss for `label` when given.
        """
        with self._lock:
            snap = self._snap()
            if len(image) != snap.layer_sizes[0]:
                raise ValueError(f"the image has {len(image)} pixels; this network reads {snap.layer_sizes[0]}")
            model = self._model(snap)
            pixels = [Scalar(float(v)) for v in image]
            out = model(pixels)
            probs = softmax([[o.data for o in out]])[0].tolist()
            if label is not None:
                self._loss_fn(snap)(out, int(label)).backward()
            else:
                k = int(np.argmax(probs)) if target is None else int(target)
                if not 0 <= k < len(out):
                    raise ValueError(f"target {k} is not a class 0..{len(out) - 1}")
                out[k].backward()
            grads = [p.grad for p in pixels]
            for p in model.parameters():
                p.grad = 0.0
            return probs, grads

    def _sample(self, snap: Snapshot) -> tuple[tuple[float, ...], int, float]:
        if snap.sample is None:
            raise ValueError("no sample has passed through the network yet")
        return snap.sample

    def grad_check(self, address: str, *, use_torch: bool = True) -> GradCheck:
        """The engine's d loss / d <address> on the snapshot's last sample beside independent estimates."""
        with self._lock:
            snap = self._snap()
            x, label, _ = self._sample(snap)
            return grad_check(self._model(snap), list(x), label, address, snap.loss, use_torch=use_torch)

    def graph(self) -> GraphView | None:
        """The graph of the snapshot's last sample (core/backends/scalar/graph.py); None before any sample."""
        with self._lock:
            snap = self._snap()
            if snap.sample is None:
                return None
            x, label, _ = snap.sample
            return GraphView(self._model(snap), list(x), label, snap.loss)


def probe_from_checkpoint(path: str | Path, config: TrainConfig) -> ScalarProbe:
    """A probe over a saved checkpoint (a finished run opened from its record); CheckpointError if unusable."""
    from core.backends.scalar.checkpoint import read_checkpoint, read_position, restore

    doc = read_checkpoint(Path(path), config.layer_sizes)
    position = read_position(doc, config)
    sizes = config.layer_sizes
    model = MLP(sizes[0], list(sizes[1:]), activation=config.activation)
    named = model.named_parameters()
    restore(doc, named, None, config.optimizer)
    box = SnapshotBox()
    box.publish(take_snapshot(position.step, config, [p for _, p in named], None))
    return ScalarProbe(box)
