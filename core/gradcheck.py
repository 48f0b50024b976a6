"""Gradient check: the handmade engine's backward vs a central finite difference vs PyTorch float64 autograd.

For one sample and one address (a weight, a bias, a node z or a, or the loss) the engine's d loss / d scalar is
compared with (1) a central difference of the loss, made by moving the scalar by +-h and running a plain
forward pass, and (2) torch autograd in float64 on the same weights, when torch is importable (imported lazily).

Both backends run the same check on a handmade copy of their weights: the handmade probe calls `grad_check`
with its snapshot MLP, the Lightning probe calls `grad_check_weights` with its layers as lists or arrays.

Nodes are moved exactly through biases, so the forward pass needs no hooks: z = w.x + b moves with its bias,
and moving a_j by h moves every next-layer z_k = sum_j w_kj a_j + b_k by w_kj * h, i.e. the same as moving
each b_k by w_kj * h. (The last layer is linear, so its a is its z.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from core.address import Address, parse
from core.engine import Scalar
from core.nn import HIDDEN_ACTIVATIONS, MLP, UnknownScalar, cross_entropy, mse_loss

TOLERANCE = 1e-5  # relative; float64 central differences with h=1e-5 agree to ~1e-8 away from kinks
ABS_FLOOR = 1e-9  # absolute differences below this pass anyway: roundoff of a difference is ~eps*loss/h
LossFn = Callable[[Sequence[Scalar], int], Scalar]
LOSSES: dict[str, LossFn] = {"mse": mse_loss, "cross_entropy": cross_entropy}


@dataclass(frozen=True)
class GradCheck:
    """The engine's gradient of the loss w.r.t. one scalar beside independent estimates."""

    address: str
    engine: float
    numeric: float  # central finite difference
    torch: float | None  # PyTorch float64 autograd; None when torch is not importable or not asked for
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
    """|a-b| / max(|a|, |b|); 0 when both are equal."""
    diff = abs(a - b)
    return diff / max(abs(a), abs(b)) if diff else 0.0


def agrees(a: float, b: float, tol: float = TOLERANCE) -> bool:
    """Relative error within tol, or an absolute difference below ABS_FLOOR (both gradients ~0)."""
    return math.isfinite(a) and math.isfinite(b) and (abs(a - b) <= ABS_FLOOR or rel_error(a, b) <= tol)


def loss_function(loss: str | LossFn) -> LossFn:
    """The engine's loss for a TrainConfig.loss name (or the function itself); ValueError for another name."""
    if callable(loss):
        return loss
    try:
        return LOSSES[loss]
    except KeyError:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}") from None


def loss_name(loss: str | LossFn) -> str | None:
    """The TrainConfig.loss name of a loss (None for a function torch has no twin for)."""
    if isinstance(loss, str):
        return loss if loss in LOSSES else None
    return next((name for name, fn in LOSSES.items() if fn is loss), None)


def copy_model(model: MLP) -> MLP:
    """A fresh MLP with the same shape and parameter values (a check never disturbs the model it reads)."""
    copy = MLP(model.nin, model.nouts, activation=model.activation, init=model.init, seed=0)
    for (_, dst), (_, src) in zip(copy.named_parameters(), model.named_parameters(), strict=True):
        dst.data = float(src.data)
    return copy


def mlp_from_weights(weights: Sequence[Any], biases: Sequence[Any], activation: str) -> MLP:
    """A handmade MLP holding these layers: weights[i] is layer i's (out, in) matrix (lists or arrays)."""
    if activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"activation must be one of {HIDDEN_ACTIVATIONS}, got {activation!r}")
    rows = [[[float(v) for v in row] for row in w] for w in weights]
    bs = [[float(v) for v in b] for b in biases]
    if not rows or len(rows) != len(bs) or not rows[0]:
        raise ValueError(f"need one weight matrix and one bias vector per layer, got {len(rows)} and {len(bs)}")
    sizes = [len(rows[0][0])]
    for i, (w, b) in enumerate(zip(rows, bs, strict=True)):
        if not w or any(len(row) != sizes[-1] for row in w) or len(b) != len(w):
            raise ValueError(f"layer {i}: expected a ({len(b)}, {sizes[-1]}) weight matrix and {len(w)} biases "
                             "matching the previous layer")
        sizes.append(len(w))
    model = MLP(sizes[0], sizes[1:], activation=activation, seed=0)
    for layer, w, b in zip(model.layers, rows, bs, strict=True):
        for neuron, row, bias in zip(layer.neurons, w, b, strict=True):
            for p, v in zip(neuron.w, row, strict=True):
                p.data = v
            neuron.b.data = bias
    return model


def grad_check(model: MLP, x: Sequence[float], label: int, address: str | Address,
               loss: str | LossFn = "cross_entropy", *, scale: float = 1.0, h: float = 1e-5, tol: float = TOLERANCE,
               use_torch: bool = True) -> GradCheck:
    """Check d (scale * loss) / d <address> on one sample (x, label), on a copy: `model` is not touched.

    `scale` is the sample's weight in its batch's loss (1/batch size), so `engine` is the gradient training saw.
    """
    return _check(copy_model(model), x, label, address, loss, scale=scale, h=h, tol=tol, use_torch=use_torch)


def grad_check_weights(weights: Sequence[Any], biases: Sequence[Any], activation: str, x: Sequence[float],
                       label: int, address: str | Address, loss: str | LossFn = "cross_entropy", *,
                       scale: float = 1.0, h: float = 1e-5, tol: float = TOLERANCE,
                       use_torch: bool = True) -> GradCheck:
    """The same check for weights held elsewhere (e.g. a torch module): built into a handmade MLP first."""
    net = mlp_from_weights(weights, biases, activation)
    return _check(net, x, label, address, loss, scale=scale, h=h, tol=tol, use_torch=use_torch)


def _check(net: MLP, x: Sequence[float], label: int, address: str | Address, loss: str | LossFn, *,
           scale: float, h: float, tol: float, use_torch: bool) -> GradCheck:
    addr = address if isinstance(address, Address) else parse(address)
    reason = addr.problem(net.layer_sizes, graph_nodes=True)
    if reason is not None:
        raise UnknownScalar(f"{addr}: {reason}")
    loss_fn = loss_function(loss)
    xs = [float(v) for v in x]
    lossv = loss_fn(net(xs), label)
    net.last_loss = lossv
    node = net.resolve(addr)
    net.zero_grad()
    (lossv * scale if scale != 1.0 else lossv).backward()
    engine = float(node.grad)
    numeric = scale * finite_difference(net, xs, label, addr, loss_fn, h)
    notes = []
    if net.activation == "relu" and addr.kind != "loss" and _near_kink(net, xs, 100 * h):
        notes.append("a ReLU input is within 100h of 0: the finite difference may straddle the kink")
    ref = None
    name = loss_name(loss)
    if use_torch and name is not None:
        try:
            ref = scale * torch_gradient(net, xs, label, addr, name)
        except ImportError:
            notes.append("torch not installed")
    elif use_torch:
        notes.append("no torch twin for this loss")
    refs = [numeric] + ([ref] if ref is not None else [])
    err = max(rel_error(engine, r) for r in refs)
    passed = all(agrees(engine, r, tol) for r in refs)
    return GradCheck(str(addr), engine, numeric, ref, err, passed, "; ".join(notes))


def finite_difference(net: MLP, x: list[float], label: int, addr: Address,
                      loss_fn: LossFn, h: float) -> float:
    """Central difference of the loss with respect to the addressed scalar (moved through biases for z, a)."""
    if addr.kind == "loss":
        return 1.0
    layer, neuron = addr.layer, addr.neuron
    assert layer is not None and neuron is not None
    if addr.kind == "a" and layer < len(net.layers) - 1:
        moves = [(n.b, n.w[neuron].data) for n in net.layers[layer + 1].neurons]
    elif addr.kind in ("z", "a"):
        moves = [(net.layers[layer].neurons[neuron].b, 1.0)]
    else:
        moves = [(net.resolve(addr), 1.0)]
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


def _near_kink(net: MLP, x: list[float], margin: float) -> bool:
    """True when some hidden unit's pre-activation is within `margin` of ReLU's kink on this sample."""
    net(x)
    return any(n.z is not None and abs(n.z.data) < margin for layer in net.layers[:-1] for n in layer.neurons)


def torch_gradient(net: MLP, x: Sequence[float], label: int, address: str | Address,
                   loss: str = "cross_entropy") -> float:
    """d loss / d <address> by torch autograd in float64 on the same weights; ImportError without torch."""
    import torch

    addr = address if isinstance(address, Address) else parse(address)
    acts = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}
    weights, biases = [], []
    for layer in net.layers:
        weights.append(torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64,
                                    requires_grad=True))
        biases.append(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64, requires_grad=True))
    a = torch.tensor([float(v) for v in x], dtype=torch.float64)
    nodes: dict[tuple[int, str], Any] = {}
    last = len(weights) - 1
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        z = w @ a + b
        z.retain_grad()
        a = acts[net.activation](z) if i < last else z  # the engine's last layer is linear (logits)
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
