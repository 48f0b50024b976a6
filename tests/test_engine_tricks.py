"""The engine's speed tricks (core/engine.py): each one gives the same graph and gradients as the plain way."""

from __future__ import annotations

import math
import random

from core.engine import Dot, Scalar, SharedInputs
from core.nn import MLP, Layer, mse_loss

PIXELS = [0.0, 0.5, 0.0, 1.0, 0.25, 0.0]


def upstream_interior(root: Scalar) -> set[Scalar]:
    """Every node made by an op upstream of `root` (itself included), found the slow, obvious way."""
    seen, todo = set(), [root]
    while todo:
        node = todo.pop()
        if node.is_leaf or node in seen:
            continue
        seen.add(node)
        todo.extend(node.parents)
    return seen


def assert_valid_order(root: Scalar) -> list[Scalar]:
    order = root.topological_order()
    assert len(order) == len(set(order)) and set(order) == upstream_interior(root)
    where = {node: i for i, node in enumerate(order)}
    for node in order:  # every interior parent comes before its child
        assert all(where[p] < where[node] for p in node.parents if not p.is_leaf)
    assert order[-1] is root
    return order


def plain_grads(model: MLP, extra_from=None) -> list[float]:
    """The same network as `model`, built from `Dot.apply` without any shared inputs: its parameters' grads."""
    out: list = PIXELS
    hidden = None
    for i, layer in enumerate(model.layers):
        zs = [Dot.apply(n.w, out, n.b) for n in layer.neurons]
        out = [z.relu() for z in zs] if i < len(model.layers) - 1 else zs
        hidden = out if i == 0 else hidden
    loss = mse_loss(out, 1)
    if extra_from is not None:
        loss = loss + hidden[extra_from] * 2.0
    model.zero_grad()
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    model.zero_grad()
    return grads


def test_a_layer_reports_the_nodes_upstream_of_its_outputs_in_order():
    model = MLP(6, [3, 2], seed=4)
    first, second = model.layers
    hidden, upstream = first.forward(PIXELS)
    assert upstream == [m for n in first.neurons for m in (n.z, n.a)]  # constants: nothing below the first layer
    out, upstream2 = second.forward(hidden, upstream)
    assert upstream2 == [*upstream, *(n.z for n in second.neurons)]  # linear: a is z
    shared = second.neurons[0].z._ctx
    assert isinstance(shared, SharedInputs) and shared.upstream is upstream
    assert all(n.z._ctx is shared for n in second.neurons)  # one object for the whole layer
    assert list(shared) == hidden
    assert second.forward(hidden)[1] is None  # Scalar inputs from nobody knows where: not known
    assert second.neurons[0].z._ctx.upstream is None


def test_mlp_order_is_a_valid_topological_order_and_gradients_match_the_plain_graph():
    model = MLP(6, [3, 4, 2], seed=1)
    loss = mse_loss(model(PIXELS), 1)
    assert_valid_order(loss)
    model.zero_grad()
    loss.backward()
    fast = [p.grad for p in model.parameters()]
    assert any(fast)
    assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15) for a, b in zip(fast, plain_grads(model), strict=True))


def test_known_upstream_already_reached_falls_back_to_the_plain_sort():
    model = MLP(6, [3, 2], seed=2)
    out = model(PIXELS)
    hidden = model.layers[0].neurons[1].a
    # The extra term reaches a hidden node before the second layer's shared inputs: their upstream is then
    # partly seen, and emitting it whole would put that node in the order twice.
    loss = mse_loss(out, 1) + hidden * 2.0
    order = assert_valid_order(loss)
    assert order.count(hidden) == 1
    model.zero_grad()
    loss.backward()
    fast = [p.grad for p in model.parameters()]
    assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
               for a, b in zip(fast, plain_grads(model, extra_from=1), strict=True))


def test_a_layer_called_on_its_own_sorts_without_a_known_upstream():
    layer = Layer(2, 2, rng=random.Random(0))
    x = [Scalar(1.5) * 1.0, Scalar(-0.5)]  # one interior input, one leaf
    out = layer(x)
    order = assert_valid_order(out[0] + out[1])
    assert order[0] is x[0]
