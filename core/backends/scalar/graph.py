"""The handmade engine's computational graph for one sample, as a read-only view the inspector can walk.

`GraphView(model, x, label, loss)` runs one forward and backward pass of the sample on its own copy of the
model (the probe's snapshot is never touched), then names nodes by address: parameters from the model, and
`z`/`a` nodes from the graph itself (a neuron's Dot node ends with its bias), so labels stay right however
the model moves on. `loss` is the root. Every answer is plain data (`NodeView`) plus the node itself, which
belongs to this view's private graph and is safe to hand to another thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Sequence

from core.address import Address, AddressError, parse
from core.engine import Scalar
from core.gradcheck import LossFn, copy_model, loss_function
from core.nn import MLP

ACTIVATION_OPS = ("relu", "tanh", "sigmoid")


def parents_of(node: Scalar) -> tuple[Scalar, ...]:
    """The nodes a Scalar was computed from, in the order its op's backward expects."""
    return tuple(node.parents)


def op_name(node: Scalar) -> str:
    """The op that made a node, in lower case ('dot', 'relu', ...), or 'leaf'."""
    return node.op.lower() or "leaf"


def _number(v: float) -> str:
    return f"{v: .4g}" if math.isfinite(v) else f"{v}"


@dataclass(frozen=True)
class NodeView:
    """One node: its address (or op name when it has none), op, value and gradient."""

    node: Scalar
    label: str
    op: str  # 'param' and 'const' for leaves, else the op name
    data: float
    grad: float
    note: str = ""  # e.g. the constant pixel a first-layer weight multiplied

    @property
    def address(self) -> str | None:
        """The node's address when it has one (a parameter, z, a or loss)."""
        return self.label if self.label != self.op else None

    def line(self) -> str:
        """One plain-text row: label, op, data | grad, note."""
        tail = f"  {self.note}" if self.note else ""
        return f"{self.label:<14} {self.op:<8} {_number(self.data)} | {_number(self.grad)}{tail}"


class Neighbourhood(NamedTuple):
    """A node's parents and children, at most `limit` of each, and how many of each were left out."""

    parents: list[NodeView]
    hidden_parents: int
    children: list[NodeView]
    hidden_children: int


class GraphView:
    """One sample's graph: find nodes by address, and each node's labelled neighbourhood."""

    def __init__(self, model: MLP, x: Sequence[float], label: int, loss: str | LossFn = "cross_entropy", *,
                 scale: float = 1.0) -> None:
        """Build the graph of (x, label) on a copy of `model`; `scale` (1/batch size) makes grads training's."""
        net = copy_model(model)
        root = loss_function(loss)(net([float(v) for v in x]), label)
        net.last_loss = root
        net.zero_grad()
        (root * scale if scale != 1.0 else root).backward()
        self._build(root, {id(p): name for name, p in net.named_parameters()})
        self.layer_sizes = net.layer_sizes
        self.sample = ([float(v) for v in x], label)

    @classmethod
    def of_loss(cls, model: MLP, root: Scalar) -> GraphView:
        """A view of a graph that already exists (`root` computed from `model`'s parameters, backward done)."""
        view = cls.__new__(cls)
        view._build(root, {id(p): name for name, p in model.named_parameters()})
        view.layer_sizes = model.layer_sizes
        view.sample = None
        return view

    def _build(self, root: Scalar, labels: dict[int, str]) -> None:
        self.root = root
        self.labels = dict(labels)
        self._children: dict[int, list[Scalar]] = {}
        self._by_id: dict[int, Scalar] = {}
        self._alias_a: dict[str, Scalar] = {}  # the linear last layer's a is its z
        units: list[Scalar] = []
        stack = [root]
        while stack:  # iterative: a 784-input chain would overflow recursion
            node = stack.pop()
            if id(node) in self._by_id:
                continue
            self._by_id[id(node)] = node
            if op_name(node) == "dot":
                units.append(node)
            for p in parents_of(node):
                self._children.setdefault(id(p), []).append(node)
                if id(p) not in self._by_id:
                    stack.append(p)
        self.size = len(self._by_id)
        self._label_units(units)
        self.labels.setdefault(id(root), "loss")
        self._by_label = {name: self._by_id[key] for key, name in self.labels.items() if key in self._by_id}

    def _label_units(self, units: list[Scalar]) -> None:
        """Name z and a nodes from the graph itself: a neuron's Dot node's last parent is its bias."""
        for z in units:
            prev = parents_of(z)
            bias = self.labels.get(id(prev[-1]), "") if prev else ""
            if not bias.endswith(".b"):
                continue
            stem = bias[:-1]
            self.labels.setdefault(id(z), stem + "z")
            children = self._children.get(id(z), ())
            acts = [c for c in children if op_name(c) in ACTIVATION_OPS]
            if acts:
                for child in acts:
                    self.labels.setdefault(id(child), stem + "a")
            else:  # the linear last layer: its a is its z (the name the address has too)
                self._alias_a[stem + "a"] = z

    def find(self, address: str | Address) -> Scalar | None:
        """The node of this graph at `address`, or None (AddressError for text that is not an address)."""
        addr = address if isinstance(address, Address) else parse(address)
        key = str(addr)
        node = self._by_label.get(key)
        if node is None:
            node = self._alias_a.get(key)
        return node

    def node(self, address: str | Address) -> NodeView:
        """The view of the node at `address`; AddressError naming why it is not in this graph."""
        addr = address if isinstance(address, Address) else parse(address)
        reason = addr.problem(self.layer_sizes, graph_nodes=True)
        if reason is not None:
            raise AddressError(f"{addr}: {reason}")
        found = self.find(addr)
        if found is None:  # e.g. a first-layer weight whose pixel was 0: it took no part in this sample
            raise AddressError(f"{addr}: not part of this sample's graph (its input was 0)")
        return self.view(found)

    def children(self, node: Scalar) -> list[Scalar]:
        """Nodes computed from `node`."""
        return list(self._children.get(id(node), ()))

    def parents(self, node: Scalar) -> list[Scalar]:
        """Nodes `node` was computed from."""
        return list(parents_of(node))

    def view(self, node: Scalar) -> NodeView:
        """A NodeView of any node of this graph."""
        op = op_name(node)
        label = self.labels.get(id(node))
        if op == "leaf":  # a leaf is a parameter when it has an address, else a constant
            op = "param" if label else "const"
        return NodeView(node, label or op, op, float(node.data), float(node.grad))

    def neighbourhood(self, node: Scalar | str | Address, limit: int = 12) -> Neighbourhood:
        """Parents and children of a node (or address), labelled ones first, at most `limit` of each."""
        if not isinstance(node, Scalar):
            node = self.node(node).node
        ps, cs = self.parents(node), self.children(node)
        ps.sort(key=lambda n: id(n) not in self.labels)  # labelled neighbours are what a learner looks for
        cs.sort(key=lambda n: id(n) not in self.labels)
        inputs = constant_inputs(node)
        parents = [self.view(p) for p in ps[:limit]]
        if inputs:  # a first-layer z: show the pixel each weight multiplied (pixels are not graph nodes)
            parents = [replace(v, note=f"x={inputs[id(v.node)]:.2f}") if id(v.node) in inputs else v
                       for v in parents]
        return Neighbourhood(parents, max(0, len(ps) - limit), [self.view(c) for c in cs[:limit]],
                             max(0, len(cs) - limit))


def constant_inputs(node: Scalar) -> dict[int, float]:
    """id(weight) -> the constant input it multiplied, for a Dot node over constants (the first layer)."""
    consts: Any = node._ctx
    if op_name(node) != "dot" or not isinstance(consts, tuple) or not consts:
        return {}
    weights = parents_of(node)[: len(consts)]  # the bias is the extra last parent
    return {id(w): float(x) for w, x in zip(weights, consts, strict=False)}
