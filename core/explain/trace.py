"""One digit through the network: every value, local derivative and the backend's own gradient.

Two tracers give the walk the same answers. `graph_trace` (the handmade engine) builds the real Scalar graph
from the weights and reads its nodes: values, op names, and each local derivative by running that node's own
op backward with an upstream gradient of 1. `float_trace` (Lightning) computes the same quantities from the
same weights in float64, and asks torch autograd (float32, the backend's own ops) for the reference gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

from core.address import Address
from core.engine import Scalar
from core.explain.network import Network
from core.gradcheck import finite_difference, loss_function, mlp_from_weights

PathStep = tuple[str, str, float, float]  # (node, op, value, local derivative towards the next node down)
H = 1e-5  # the central difference's step (float64; see core.gradcheck)


@dataclass
class Trace:
    """A digit's values through every layer, the local derivatives the walk multiplies, and the references."""

    x: tuple[float, ...]
    label: int
    z: list[list[float]]
    a: list[list[float]]  # a[-1] is z[-1]: the last layer is linear (logits)
    probs: list[float]
    loss: float
    z_op: str  # what makes a pre-activation ("Dot" on the engine, "linear" in torch)
    act_op: str  # what makes an activation ("ReLU", "Tanh", "Sigmoid" / "relu", ...)
    loss_op: str
    act_local: list[list[float]]  # d a / d z of each hidden neuron
    into: Callable[[int, int], list[float]]  # (m, k) -> d z[m][k] / d a[m-1][*]
    target_local: Callable[[Address], tuple[float, str]]  # d z / d (w or b), and why it is zero when it is
    head_paths: list[list[list[PathStep]]]  # per logit: the paths from the loss down to it
    own: Callable[[Address], float]  # the backend's own backward pass
    own_name: str
    numeric: Callable[[Address], float]  # central finite difference
    notes: list[str] = field(default_factory=list)

    @property
    def prediction(self) -> int:
        return max(range(len(self.probs)), key=lambda k: self.probs[k])


def _softmax(logits: Sequence[float]) -> list[float]:
    top = max(logits)
    e = [math.exp(v - top) for v in logits]
    s = sum(e)
    return [v / s for v in e]


def _numeric(net, x: list[float], label: int, loss: str) -> Callable[[Address], float]:
    return lambda addr: finite_difference(net, x, label, addr, loss_function(loss), H)


# ---- the handmade engine: its own graph ------------------------------------------------------------------

def local_derivatives(node: Scalar) -> dict[int, float]:
    """d node / d parent for each parent (by id), from the node's own op backward run with upstream grad 1."""
    parents = node.parents
    saved = [p.grad for p in parents]
    own = node.grad
    try:
        for p in parents:
            p.grad = 0.0
        node.grad = 1.0
        node._op.backward(node)  # the op's own local derivative code, the one training runs
        return {id(p): p.grad for p in parents}
    finally:
        for p, g in zip(parents, saved, strict=True):
            p.grad = g
        node.grad = own


def _paths(root: Scalar, ends: dict[int, int]) -> list[list[list[Scalar]]]:
    """Every path of interior nodes from `root` down to each end node (ends: id -> logit index)."""
    reach: dict[int, bool] = {}

    def reaches(n: Scalar) -> bool:
        if id(n) not in reach:
            reach[id(n)] = id(n) in ends or (not n.is_leaf and any(reaches(p) for p in n.parents))
        return reach[id(n)]

    found: list[list[list[Scalar]]] = [[] for _ in ends]
    stack: list[list[Scalar]] = [[root]]
    while stack:
        path = stack.pop()
        node = path[-1]
        if id(node) in ends:
            found[ends[id(node)]].append(path)
            continue
        seen: set[int] = set()
        for p in node.parents:
            if id(p) not in seen and reaches(p):
                seen.add(id(p))
                stack.append([*path, p])
    return found


def graph_trace(net: Network, x: Sequence[float], label: int) -> Trace:
    """The trace read off the handmade engine's own Scalar graph for this digit."""
    model = mlp_from_weights(net.weights, net.biases, net.activation)
    xs = [float(v) for v in x]
    out = model(xs)
    root = loss_function(net.loss)(out, label)
    model.last_loss = root
    model.zero_grad()
    root.backward()
    layers = model.layers
    zs = [[n.z for n in layer.neurons] for layer in layers]
    as_ = [[n.a for n in layer.neurons] for layer in layers]
    logits = {id(node): k for k, node in enumerate(zs[-1])}
    paths = _paths(root, logits)
    head: list[list[list[PathStep]]] = []
    for per_logit in paths:
        rows = []
        for path in per_logit:
            steps = []
            for upper, lower in zip(path, path[1:], strict=False):
                steps.append((_name(upper, root), upper.op, upper.data, local_derivatives(upper)[id(lower)]))
            rows.append(steps)
        head.append(rows)
    act_local = [[local_derivatives(a)[id(z)] for z, a in zip(zl, al, strict=True)]
                 for zl, al in zip(zs[:-1], as_[:-1], strict=True)]
    cache: dict[tuple[int, int], list[float]] = {}

    def into(m: int, k: int) -> list[float]:
        if (m, k) not in cache:
            local = local_derivatives(zs[m][k])
            cache[(m, k)] = [local.get(id(a), 0.0) for a in as_[m - 1]]
        return cache[(m, k)]

    def target_local(addr: Address) -> tuple[float, str]:
        z = zs[addr.layer][addr.neuron]
        param = model.resolve(addr)
        local = local_derivatives(z)
        if id(param) in local:
            return local[id(param)], ""
        return 0.0, (f"input {addr.index} is a pixel of value 0: the engine leaves a constant zero out of the "
                     f"Dot node, so this weight is not in the graph and no gradient reaches it")

    def own(addr: Address) -> float:
        return float(model.resolve(addr).grad) if addr.kind != "loss" else 1.0

    check = mlp_from_weights(net.weights, net.biases, net.activation)
    return Trace(
        x=tuple(xs), label=label, z=[[n.data for n in zl] for zl in zs], a=[[n.data for n in al] for al in as_],
        probs=_softmax([o.data for o in out]), loss=root.data, z_op=zs[0][0].op,
        act_op=as_[0][0].op if len(layers) > 1 else "", loss_op=root.op, act_local=act_local, into=into,
        target_local=target_local, head_paths=head, own=own, own_name="the engine's backward pass",
        numeric=_numeric(check, xs, label, net.loss))


def _name(node: Scalar, root: Scalar) -> str:
    return "loss" if node is root else node.op


# ---- Lightning: the same walk from the same weights, torch autograd as the reference ----------------------

def _activation(name: str) -> tuple[Callable[[float], float], Callable[[float, float], float]]:
    """(forward, d a / d z given z and a) of a hidden activation, in float64."""
    if name == "relu":
        return (lambda z: z if z > 0.0 else 0.0), (lambda z, a: 1.0 if z > 0.0 else 0.0)
    if name == "tanh":
        return math.tanh, (lambda z, a: 1.0 - a * a)

    def sigmoid(z: float) -> float:
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0.0 else math.exp(z) / (1.0 + math.exp(z))

    return sigmoid, (lambda z, a: a * (1.0 - a))


def float_trace(net: Network, x: Sequence[float], label: int) -> Trace:
    """The trace computed from the weights in float64; the reference is torch autograd on the backend's ops."""
    xs = [float(v) for v in x]
    act, slope = _activation(net.activation)
    zs: list[list[float]] = []
    as_: list[list[float]] = []
    act_local: list[list[float]] = []
    below = xs
    for i, (rows, bs) in enumerate(zip(net.weights, net.biases, strict=True)):
        z = [b + math.fsum(w * v for w, v in zip(row, below, strict=True)) for row, b in zip(rows, bs, strict=True)]
        if i < net.layers - 1:
            a = [act(v) for v in z]
            act_local.append([slope(zv, av) for zv, av in zip(z, a, strict=True)])
        else:
            a = z
        zs.append(z)
        as_.append(a)
        below = a
    logits = zs[-1]
    probs = _softmax(logits)
    classes = len(logits)
    if net.loss == "cross_entropy":
        top = max(logits)
        loss = top + math.log(sum(math.exp(v - top) for v in logits)) - logits[label]
        head_grad = [p - (1.0 if k == label else 0.0) for k, p in enumerate(probs)]
        op = "cross_entropy"
    else:
        loss = sum((v - (1.0 if k == label else 0.0)) ** 2 for k, v in enumerate(logits)) / classes
        head_grad = [2.0 * (v - (1.0 if k == label else 0.0)) / classes for k, v in enumerate(logits)]
        op = "mse_loss"
    head = [[[("loss", op, loss, g)]] for g in head_grad]

    def target_local(addr: Address) -> tuple[float, str]:
        if addr.kind == "b":
            return 1.0, ""
        v = (xs if addr.layer == 0 else as_[addr.layer - 1])[addr.index]
        if v == 0.0:
            what = "a pixel of value 0" if addr.layer == 0 else f"L{addr.layer - 1}.N{addr.index}.a = 0"
            return 0.0, f"input {addr.index} is {what}: the weight multiplies 0, so moving it moves nothing"
        return v, ""

    check = mlp_from_weights(net.weights, net.biases, net.activation)
    return Trace(
        x=tuple(xs), label=label, z=zs, a=as_, probs=probs, loss=loss, z_op="linear", act_op=net.activation,
        loss_op=op, act_local=act_local, into=lambda m, k: list(net.weights[m][k]), target_local=target_local,
        head_paths=head, own=lambda addr: torch_gradient(net, xs, label, addr),
        own_name="torch autograd (float32)", numeric=_numeric(check, xs, label, net.loss))


def torch_gradient(net: Network, x: Sequence[float], label: int, addr: Address) -> float:
    """d loss / d <addr> by torch autograd in float32 with the Lightning backend's own layers and loss."""
    import torch
    import torch.nn.functional as F

    from core.backends.lightning.network import ACTIVATIONS
    from core.backends.lightning.network import loss_function as torch_loss

    if addr.kind == "loss":
        return 1.0
    weights = [torch.tensor(w, dtype=torch.float32, requires_grad=True) for w in net.weights]
    biases = [torch.tensor(b, dtype=torch.float32, requires_grad=True) for b in net.biases]
    act = ACTIVATIONS[net.activation]()
    h = torch.tensor([list(x)], dtype=torch.float32)
    nodes = {}
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        z = F.linear(h, w, b)
        z.retain_grad()
        h = act(z) if i < net.layers - 1 else z
        h.retain_grad()
        nodes[(i, "z")], nodes[(i, "a")] = z, h
    torch_loss(net.loss)(h, torch.tensor([label])).backward()
    if addr.kind == "w":
        return float(weights[addr.layer].grad[addr.neuron, addr.index])
    if addr.kind == "b":
        return float(biases[addr.layer].grad[addr.neuron])
    return float(nodes[(addr.layer, addr.kind)].grad[0, addr.neuron])


def trace(net: Network, x: Sequence[float], label: int) -> Trace:
    """The trace of the backend that trained `net`."""
    return graph_trace(net, x, label) if net.backend == "scalar" else float_trace(net, x, label)
