"""Transitional: tests/tui/engine_probe.py still imports GraphIndex (now core/backends/scalar/graph.py).

Text views of a network's insides: half-block heatmaps of a neuron's incoming weights, graph neighbourhoods.

Pure functions over plain numbers and the engine's Scalars; rich is imported only to colour a heatmap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence

HALF_BLOCK = "▀"  # top pixel in the foreground colour, bottom pixel in the background colour


def grid_shape(n: int, side: int | None = None) -> tuple[int, int]:
    """(rows, cols) to lay out n values: the input's square for pixels, else a near-square block."""
    if side and side * side == n:
        return side, side
    root = math.isqrt(n)
    if root * root == n:
        return root, root
    cols = max(1, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def heatmap_cells(values: Sequence[float], side: int | None = None) -> list[list[tuple[float | None, float | None]]]:
    """Pairs (top, bottom) per character cell: ceil(rows/2) lines of cols cells; None where there is no pixel."""
    rows, cols = grid_shape(len(values), side)

    def at(r: int, c: int) -> float | None:
        i = r * cols + c
        return float(values[i]) if r < rows and i < len(values) else None

    return [[(at(r, c), at(r + 1, c)) for c in range(cols)] for r in range(0, rows, 2)]


def colour(value: float | None, scale: float) -> str | None:
    """Diverging colour: blue for negative, red for positive, near black for ~0; None for no pixel."""
    if value is None:
        return None
    if not math.isfinite(value):
        return "rgb(255,255,0)"  # NaN/inf stand out in yellow
    t = min(1.0, abs(value) / scale) if scale > 0 else 0.0
    t = math.sqrt(t)  # small weights would all look black on a linear ramp
    base = 24
    hi = round(base + (255 - base) * t)
    mid = round(base + (110 - base) * t)
    return f"rgb({hi},{mid},{base})" if value > 0 else f"rgb({base},{mid},{hi})"


def heatmap_text(values: Sequence[float], side: int | None = None, scale: float | None = None) -> Any:
    """A rich Text drawing `values` (one neuron's incoming weights or grads) with half-block characters."""
    from rich.text import Text

    finite = [abs(v) for v in values if math.isfinite(v)]
    scale = scale if scale is not None else (max(finite) if finite else 0.0)
    text = Text(no_wrap=True, overflow="crop")
    for line_no, line in enumerate(heatmap_cells(values, side)):
        if line_no:
            text.append("\n")
        for top, bottom in line:
            fg, bg = colour(top, scale), colour(bottom, scale)
            if fg is None:
                text.append(" ")
            elif bg is None:
                text.append(HALF_BLOCK, style=fg)
            else:
                text.append(HALF_BLOCK, style=f"{fg} on {bg}")
    return text


def heatmap_legend(scale: float) -> str:
    """The scale a heatmap was drawn with (full colour at |value| = scale); blue is < 0, red > 0."""
    return f"|max| {scale:.3g}"


# ---- the computational graph -------------------------------------------------------------------------


def parents_of(node: Any) -> tuple[Any, ...]:
    """The nodes a Scalar was computed from (the engine's _prev), in a stable order."""
    prev = getattr(node, "_prev", None)
    if prev is None:
        prev = getattr(node, "parents", ())
    return tuple(prev)


def op_name(node: Any) -> str:
    """The op that made a node: the Function class's name in lower case, or 'leaf'."""
    op = getattr(node, "_op", None)
    if op is None or op == "":
        return "leaf"
    if isinstance(op, str):
        return op
    return getattr(op, "__name__", type(op).__name__).lower()


def fmt(v: float) -> str:
    """Compact, fixed-width-ish number for tables: 4 significant digits."""
    return f"{v: .4g}" if math.isfinite(v) else f"{v}"


@dataclass(frozen=True)
class NodeView:
    """One row of a graph neighbourhood."""

    node: Any
    label: str  # the node's address when it has one, else its op name
    op: str
    data: float
    grad: float
    note: str = ""  # e.g. the constant pixel a first-layer weight multiplied

    def line(self) -> str:
        tail = f"  {self.note}" if self.note else ""
        return f"{self.label:<14} {self.op:<8} {fmt(self.data)} | {fmt(self.grad)}{tail}"


class GraphIndex:
    """Children of every node of one sample's graph, found by an iterative scan from its root (the loss)."""

    def __init__(self, root: Any, labels: dict[int, str] | None = None) -> None:
        self.root = root
        self.labels = dict(labels or {})
        self._children: dict[int, list[Any]] = {}
        self._by_id: dict[int, Any] = {}
        seen: set[int] = set()
        units: list[Any] = []
        stack = [root]
        while stack:  # iterative: a 784-input chain would overflow recursion
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            self._by_id[id(node)] = node
            if op_name(node) == "dot":
                units.append(node)
            for p in parents_of(node):
                self._children.setdefault(id(p), []).append(node)
                if id(p) not in seen:
                    stack.append(p)
        self.size = len(seen)
        self._label_units(units)
        if root is not None:
            self.labels.setdefault(id(root), "loss")

    def _label_units(self, units: list[Any]) -> None:
        """Name z and a nodes from the graph itself: a neuron's Dot node ends with its bias (a labelled leaf).

        Labels come from this sample's graph, not from the model's latest forward pass, so they stay right
        while a training thread runs the next sample.
        """
        for z in units:
            prev = parents_of(z)
            bias = self.labels.get(id(prev[-1]), "") if prev else ""
            if not bias.endswith(".b"):
                continue
            stem = bias[:-1]
            self.labels.setdefault(id(z), stem + "z")
            for child in self._children.get(id(z), ()):
                if op_name(child) in ("relu", "tanh", "sigmoid"):
                    self.labels.setdefault(id(child), stem + "a")

    def find(self, label: str) -> Any:
        """The node of this graph with a given label (address), or None."""
        for key, name in self.labels.items():
            if name == label:
                return self._by_id.get(key)
        return None

    def children(self, node: Any) -> list[Any]:
        return list(self._children.get(id(node), ()))

    def parents(self, node: Any) -> list[Any]:
        return list(parents_of(node))

    def view(self, node: Any) -> NodeView:
        op = op_name(node)
        label = self.labels.get(id(node))
        if op == "leaf":  # a leaf is a parameter when it has an address, else a constant
            op = "param" if label else "const"
        return NodeView(node, label or op, op, float(node.data), float(node.grad))

    def neighbourhood(self, node: Any, limit: int = 12) -> tuple[list[NodeView], int, list[NodeView], int]:
        """(parents shown, parents hidden, children shown, children hidden), at most `limit` of each."""
        ps, cs = self.parents(node), self.children(node)
        # labelled neighbours (weights, units) first: they are what a learner is looking for
        ps.sort(key=lambda n: id(n) not in self.labels)
        cs.sort(key=lambda n: id(n) not in self.labels)
        inputs = constant_inputs(node)
        parents = [self.view(p) for p in ps[:limit]]
        if inputs:  # a first-layer z: show the pixel each weight multiplied (pixels are not graph nodes)
            parents = [replace(v, note=f"x={inputs[id(v.node)]:.2f}") if id(v.node) in inputs else v
                       for v in parents]
        return (
            parents, max(0, len(ps) - limit),
            [self.view(c) for c in cs[:limit]], max(0, len(cs) - limit),
        )


def constant_inputs(node: Any) -> dict[int, float]:
    """id(weight) -> the constant input it multiplied, for a Dot node over constants (the engine's first layer)."""
    consts = getattr(node, "_ctx", None)
    if op_name(node) != "dot" or not isinstance(consts, tuple) or not consts:
        return {}
    weights = parents_of(node)[: len(consts)]  # the bias is the extra last parent
    return {id(w): float(x) for w, x in zip(weights, consts, strict=False)}


def param_labels(model: Any) -> dict[int, str]:
    """id(Scalar) -> address for every parameter of a handmade model."""
    return {id(p): name for name, p in model.named_parameters()}


def node_labels(model: Any, layer_sizes: Sequence[int], loss: Any = None) -> dict[int, str]:
    """id(Scalar) -> address for every parameter and, after a forward pass, every z and a node."""
    labels = param_labels(model)
    for layer in range(len(layer_sizes) - 1):
        for n in range(layer_sizes[layer + 1]):
            for kind in ("z", "a"):
                node = _try_resolve(model, f"L{layer}.N{n}.{kind}")
                if node is not None:
                    labels.setdefault(id(node), f"L{layer}.N{n}.{kind}")
    if loss is not None:
        labels[id(loss)] = "loss"
    return labels


def _try_resolve(model: Any, address: str) -> Any:
    try:
        return model.resolve(address)
    except (KeyError, IndexError, ValueError, AttributeError):
        return None


def incoming(model: Any, layer: int, neuron: int, fan_in: int) -> tuple[list[float], list[float]]:
    """(weights, grads) of one neuron's incoming weights, read from the handmade engine."""
    try:  # the MLP's own lists: 784 resolve() calls would parse 784 address strings per redraw
        ws = list(model.layers[layer].neurons[neuron].w)
    except AttributeError:
        ws = [model.resolve(f"L{layer}.N{neuron}.w{i}") for i in range(fan_in)]
    return [float(w.data) for w in ws], [float(w.grad) for w in ws]


def sparkline_data(values: Iterable[float]) -> list[float]:
    """Values fit for a sparkline: non-finite points dropped (they would blank the whole line)."""
    return [float(v) for v in values if math.isfinite(v)]
