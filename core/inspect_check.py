"""Transitional copy of core/gradcheck.py for tests/tui (H4); deleted once tests/tui imports core.gradcheck.

For one sample and one address (a weight, a bias, a node z or a, or the loss) the engine's d loss / d scalar
is compared with (1) a central difference of the loss, made by perturbing the scalar by +-h and recomputing
everything downstream with a plain forward pass, and (2) torch autograd in float64 on the same net with the
same weights, when torch is importable. torch is imported lazily, only for (2).

Nodes are perturbed exactly through parameters, so the plain forward needs no hooks: z = w.x + b moves
with its bias, and moving a_j by h moves every next-layer z_k = sum_j w_kj a_j + b_k by w_kj * h, i.e. the
same as moving each b_k by w_kj * h. (The last layer is linear, so its a is its z.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from core.address import parse as parse_address

TOLERANCE = 1e-5  # relative; float64 central differences with h=1e-5 agree to ~1e-8 away from kinks
ABS_FLOOR = 1e-9  # absolute differences below this pass anyway: roundoff of a difference is ~eps*loss/h


@dataclass(frozen=True)
class GradCheck:
    """The engine's gradient of the loss w.r.t. one scalar beside independent estimates."""

    address: str
    engine: float
    numeric: float  # central finite difference
    torch: float | None  # PyTorch float64 autograd; None when torch is not importable
    rel_error: float  # worst relative error of the engine against the references
    passed: bool
    note: str = ""

    def line(self) -> str:
        """One line for a log or a table."""
        ref = "n/a" if self.torch is None else f"{self.torch:.8g}"
        verdict = "PASS" if self.passed else "FAIL"
        tail = f"  ({self.note})" if self.note else ""
        return (f"{verdict} {self.address}: engine {self.engine:.8g}  finite-diff {self.numeric:.8g}  "
                f"torch {ref}  rel.err {self.rel_error:.2e}{tail}")


def rel_error(a: float, b: float) -> float:
    """|a-b| / max(|a|, |b|); 0 when both are 0."""
    diff = abs(a - b)
    return diff / max(abs(a), abs(b)) if diff else 0.0


def agrees(a: float, b: float, tol: float = TOLERANCE) -> bool:
    """Relative error within tol, or an absolute difference below ABS_FLOOR (both gradients ~0)."""
    return math.isfinite(a) and math.isfinite(b) and (abs(a - b) <= ABS_FLOOR or rel_error(a, b) <= tol)


def loss_function(name: str) -> Callable[[Any, int], Any]:
    """The engine's loss for a TrainConfig.loss name."""
    from core.nn import cross_entropy, mse_loss

    return {"mse": mse_loss, "cross_entropy": cross_entropy}[name]


def clone_model(model: Any) -> Any:
    """A fresh MLP with the same shape and parameter values (so a check never disturbs a running trainer)."""
    from core.nn import MLP

    copy = MLP(model.nin, model.nouts, activation=model.activation, init=model.init, seed=0)
    for (_, dst), (_, src) in zip(copy.named_parameters(), model.named_parameters(), strict=True):
        dst.data = src.data
    return copy


def gradient_check(
    model: Any, x: Sequence[float], label: int, address: str, loss: str = "cross_entropy", *,
    h: float = 1e-5, tol: float = TOLERANCE, use_torch: bool = True,
) -> GradCheck:
    """Check d loss / d <address> on one sample (x, label). Works on a copy: `model` is not touched."""
    addr = parse_address(address)
    net = clone_model(model)
    loss_fn = loss_function(loss)
    x = [float(v) for v in x]
    lossv = loss_fn(net(x), label)
    net.last_loss = lossv
    node = net.resolve(str(addr))  # raises KeyError for an address this net does not have
    lossv.backward()
    engine = float(node.grad)
    numeric = _finite_difference(net, x, label, str(addr), loss_fn, h)
    notes = []
    if net.activation == "relu" and addr.kind != "loss" and _near_kink(net, x, 100 * h):
        notes.append("a ReLU input is within 100h of 0: the finite difference may straddle the kink")
    ref = None
    if use_torch:
        try:
            ref = torch_gradient(net, x, label, str(addr), loss)
        except ImportError:
            notes.append("torch not installed")
    refs = [numeric] + ([ref] if ref is not None else [])
    err = max(rel_error(engine, r) for r in refs)
    passed = all(agrees(engine, r, tol) for r in refs)
    return GradCheck(str(addr), engine, numeric, ref, err, passed, "; ".join(notes))


def _finite_difference(net: Any, x: list[float], label: int, address: str, loss_fn, h: float) -> float:
    """Central difference of the loss with respect to the addressed scalar."""
    addr = parse_address(address)
    if addr.kind == "loss":
        return 1.0
    last = len(net.layers) - 1
    if addr.kind == "a" and addr.layer < last:
        nxt = net.layers[addr.layer + 1].neurons
        moves = [(n.b, n.w[addr.neuron].data) for n in nxt]
    elif addr.kind in ("z", "a"):
        moves = [(net.layers[addr.layer].neurons[addr.neuron].b, 1.0)]
    else:
        moves = [(net.resolve(address), 1.0)]
    original = [p.data for p, _ in moves]

    def loss_at(sign: float) -> float:
        for (p, k), v in zip(moves, original, strict=True):
            p.data = v + sign * k * h
        return float(loss_fn(net(x), label).data)

    try:
        plus, minus = loss_at(1.0), loss_at(-1.0)
    finally:
        for (p, _), v in zip(moves, original, strict=True):
            p.data = v
    net(x)  # leave the graph nodes describing the unperturbed sample
    return (plus - minus) / (2 * h)


def _near_kink(net: Any, x: list[float], margin: float) -> bool:
    """True when some hidden unit's pre-activation is within `margin` of ReLU's kink on this sample."""
    net(x)
    return any(abs(n.z.data) < margin for layer in net.layers[:-1] for n in layer.neurons)


def torch_gradient(model: Any, x: Sequence[float], label: int, address: str, loss: str = "cross_entropy") -> float:
    """d loss / d <address> by torch autograd in float64 on the same net (same weights); ImportError if no torch."""
    import torch

    addr = parse_address(address)
    acts = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}
    weights, biases = [], []
    for layer in model.layers:
        weights.append(torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64,
                                    requires_grad=True))
        biases.append(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64, requires_grad=True))
    a = torch.tensor(list(x), dtype=torch.float64)
    nodes: dict[tuple[int, str], Any] = {}
    last = len(weights) - 1
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        z = w @ a + b
        z.retain_grad()
        a = acts[model.activation](z) if i < last else z  # the engine's last layer is linear (logits)
        if i < last:
            a.retain_grad()
        nodes[(i, "z")], nodes[(i, "a")] = z, a
    if loss == "mse":
        target = torch.zeros_like(a)
        target[label] = 1.0
        lossv = ((a - target) ** 2).mean()
    else:
        lossv = torch.logsumexp(a, 0) - a[label]
    lossv.backward()
    if addr.kind == "loss":
        return 1.0
    if addr.kind == "w":
        return float(weights[addr.layer].grad[addr.neuron, addr.index])
    if addr.kind == "b":
        return float(biases[addr.layer].grad[addr.neuron])
    return float(nodes[(addr.layer, addr.kind)].grad[addr.neuron])
