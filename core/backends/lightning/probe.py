"""The Lightning probe: read-only answers about the model from snapshots the training thread publishes.

The training thread publishes a Snapshot (CPU copies of every weight, bias and gradient, and the first
sample of the mini-batch) after backward and before the optimiser's update, so values and gradients belong
together: at most SNAPSHOT_INTERVAL apart while training, at the step a pause or stop arrives, and once more
with the final parameters when the run ends (that last one keeps the last step's gradients). A pause that
arrives after a step's update is answered from the snapshot before it. Every answer of LightningProbe comes
from its own copy, so it is safe from any thread and never reads the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import torch
import torch.nn.functional as F

from core.address import AddressError, validate
from core.backends.lightning.network import ACTIVATIONS, loss_function
from core.backends.lightning.watch import parameter_slot
from core.backends.snapshots import SnapshotBox

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.gradcheck import GradCheck

__all__ = ["LightningProbe", "Snapshot", "SnapshotBox", "probe_from_checkpoint", "take_snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """Parameters [W0, b0, W1, b1, ...] and their gradients at one optimiser step (CPU tensors, never mutated)."""

    step: int
    params: tuple[torch.Tensor, ...]
    grads: tuple[torch.Tensor, ...]
    sample: tuple[tuple[float, ...], int] | None = None  # (pixels, label) the gradient check uses


@torch.no_grad()
def take_snapshot(step: int, params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor | None],
                  sample: tuple[torch.Tensor, torch.Tensor] | None = None) -> Snapshot:
    """CPU copies of `params` and `grads` (None = zeros) as the snapshot of `step` (from the training thread)."""
    values = tuple(p.detach().to("cpu", torch.float32, copy=True) for p in params)
    gradients = tuple(torch.zeros_like(v) if g is None else g.detach().to("cpu", torch.float32, copy=True)
                      for v, g in zip(values, grads, strict=True))
    pixels = None
    if sample is not None and sample[0].shape[0]:
        pixels = (tuple(sample[0][0].float().cpu().tolist()), int(sample[1][0]))
    return Snapshot(step=step, params=values, grads=gradients, sample=pixels)


class LightningProbe:
    """The Probe protocol for the Lightning backend (weights and biases; no graph nodes)."""

    backend = "lightning"
    graph_nodes = False

    def __init__(self, box: SnapshotBox[Snapshot], config: TrainConfig) -> None:
        self._box = box
        box.active = True
        self.layer_sizes: tuple[int, ...] = tuple(config.layer_sizes)
        self.input_side: int = config.input_size
        self._activation, self._loss = config.activation, config.loss

    def ready(self) -> bool:
        """Whether a snapshot has been published."""
        return self._box.latest() is not None

    def _snapshot(self) -> Snapshot:
        snap = self._box.latest()
        if snap is None:
            raise LookupError("the model has no snapshot yet")
        return snap

    def step(self) -> int:
        return self._snapshot().step

    def value(self, address: str) -> tuple[float, float]:
        """(data, grad) of a weight or bias; AddressError when this network has no such parameter."""
        return self._value(self._snapshot(), address)

    def values(self, addresses: Sequence[str]) -> dict[str, tuple[float, float]]:
        """(data, grad) of each address, all from one snapshot."""
        snap = self._snapshot()
        return {a: self._value(snap, a) for a in addresses}

    def _value(self, snap: Snapshot, address: str) -> tuple[float, float]:
        addr = validate(address, self.layer_sizes, graph_nodes=False)
        position, flat = parameter_slot(addr, self.layer_sizes)
        return float(snap.params[position].reshape(-1)[flat]), float(snap.grads[position].reshape(-1)[flat])

    def _check_neuron(self, layer: int, neuron: int | None = None) -> None:
        layers = len(self.layer_sizes) - 1
        if not 0 <= layer < layers:
            raise AddressError(f"layer {layer} does not exist: this network has layers L0..L{layers - 1}")
        width = self.layer_sizes[layer + 1]
        if neuron is not None and not 0 <= neuron < width:
            raise AddressError(f"neuron {neuron} does not exist: layer {layer} has neurons N0..N{width - 1}")

    def incoming(self, layer: int, neuron: int) -> tuple[list[float], list[float]]:
        """The weights into `neuron` of `layer` and their gradients."""
        self._check_neuron(layer, neuron)
        snap = self._snapshot()
        return snap.params[2 * layer][neuron].tolist(), snap.grads[2 * layer][neuron].tolist()

    def layer_weights(self, layer: int) -> tuple[list[list[float]], list[float]]:
        """(weight rows, one per neuron, and the biases) of `layer`."""
        self._check_neuron(layer)
        snap = self._snapshot()
        return snap.params[2 * layer].tolist(), snap.params[2 * layer + 1].tolist()

    def _logits(self, snap: Snapshot, x: torch.Tensor) -> torch.Tensor:
        act = ACTIVATIONS[self._activation]()
        layers = len(snap.params) // 2
        for i in range(layers):
            x = F.linear(x, snap.params[2 * i], snap.params[2 * i + 1])
            if i < layers - 1:
                x = act(x)
        return x

    def _images(self, images: Sequence[Sequence[float]]) -> torch.Tensor:
        x = torch.as_tensor([list(map(float, row)) for row in images], dtype=torch.float32)
        if x.ndim != 2 or x.shape[1] != self.layer_sizes[0]:
            raise ValueError(f"each image must have {self.layer_sizes[0]} pixels ({self.input_side}x{self.input_side})")
        return x

    def predict(self, images: Sequence[Sequence[float]]) -> list[list[float]]:
        """Class probabilities (softmax of the logits), one row per image."""
        if not len(images):
            return []
        snap = self._snapshot()
        with torch.no_grad():
            return torch.softmax(self._logits(snap, self._images(images)), dim=1).tolist()

    def input_gradient(self, image: Sequence[float], *, target: int | None = None,
                       label: int | None = None) -> tuple[list[float], list[float]]:
        """(probabilities, d/d pixel) of the class score `target` (default: predicted), or of the loss for `label`."""
        classes = self.layer_sizes[-1]
        for name, value in (("target", target), ("label", label)):
            if value is not None and not 0 <= value < classes:
                raise ValueError(f"{name} must be a class 0..{classes - 1}, got {value}")
        snap = self._snapshot()
        x = self._images([image]).requires_grad_(True)
        with torch.enable_grad():
            logits = self._logits(snap, x)
            if label is not None:
                out = loss_function(self._loss)(logits, torch.tensor([label]))
            else:
                out = logits[0, int(logits[0].argmax()) if target is None else target]
            (grad,) = torch.autograd.grad(out, x)
        return torch.softmax(logits.detach(), dim=1)[0].tolist(), grad[0].tolist()

    def grad_check(self, address: str) -> GradCheck:
        """The gradient check of `address` on the snapshot's sample (core.gradcheck on a handmade copy)."""
        from core.gradcheck import grad_check_weights

        snap = self._snapshot()
        if snap.sample is None:
            raise LookupError("no training sample yet: the gradient check needs a step to have run")
        validate(address, self.layer_sizes, graph_nodes=False)
        layers = len(snap.params) // 2
        weights = [snap.params[2 * i].double().tolist() for i in range(layers)]
        biases = [snap.params[2 * i + 1].double().tolist() for i in range(layers)]
        pixels, label = snap.sample
        return grad_check_weights(weights, biases, self._activation, pixels, label, address, self._loss)

    def graph(self) -> None:
        """The graph view exists only on the handmade engine."""
        return None


def probe_from_checkpoint(path: Path, config: TrainConfig) -> LightningProbe:
    """A probe over a finished (or stopped) run's saved parameters; gradients read as zeros."""
    from core.backends.lightning.checkpoint import load_checkpoint

    state, position = load_checkpoint(Path(path), config)
    model = state["model"]
    params = [model[f"{2 * i}.{kind}"] for i in range(len(config.layer_sizes) - 1) for kind in ("weight", "bias")]
    box: SnapshotBox[Snapshot] = SnapshotBox()
    box.publish(take_snapshot(position.step, params, [None] * len(params)))
    return LightningProbe(box, config)
