"""core/backends/scalar/graph.py: one sample's graph, named by address, walked by neighbourhood."""

from __future__ import annotations

import random

import pytest

from core.address import AddressError
from core.backends.scalar.graph import GraphView, op_name
from core.nn import MLP, cross_entropy

SIZES = (49, 6, 5, 10)


def sample(n: int = 49, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [rng.random() if rng.random() < 0.4 else 0.0 for _ in range(n)]


@pytest.fixture()
def small() -> MLP:
    return MLP(49, [6, 5, 10], activation="relu", seed=3)


def test_neighbourhood_shows_parents_and_children(small):
    x = sample(seed=2)
    small.last_loss = lossv = cross_entropy(small(x), 1)
    lossv.backward()
    graph = GraphView.of_loss(small, lossv)
    z = small.resolve("L1.N2.z")
    parents, hidden_p, children, hidden_c = graph.neighbourhood(z, limit=20)
    names = [p.label for p in parents]
    assert "L1.N2.b" in names and "L0.N0.a" in names and "L1.N2.w5" in names and hidden_p == 0
    assert len(parents) == 6 + 6 + 1  # 6 weights, 6 inputs (the previous layer's a), the bias
    assert graph.neighbourhood(z, limit=4).hidden_parents == 13 - 4
    assert [c.label for c in children] == ["L1.N2.a"] and hidden_c == 0 and op_name(z) == "dot"
    a = small.resolve("L1.N2.a")
    assert {c.label for c in graph.neighbourhood(a).children} == {f"L2.N{k}.z" for k in range(10)}
    assert graph.view(z).data == z.data and graph.view(z).grad == z.grad
    assert graph.neighbourhood(lossv).children == [] and graph.size > 100
    assert graph.neighbourhood("L1.N2.z") == graph.neighbourhood(z)  # by address too


def test_labels_come_from_the_graph_itself(small):
    small.last_loss = lossv = cross_entropy(small(sample(seed=4)), 2)
    lossv.backward()
    graph = GraphView.of_loss(small, lossv)
    for address in ("L0.N1.z", "L0.N1.a", "L1.N4.a", "L2.N7.z"):
        assert graph.find(address) is small.resolve(address), address
    assert graph.find("L2.N7.a") is small.resolve("L2.N7.z")  # the linear last layer: a is z
    assert graph.find("loss") is lossv
    small(sample(seed=9))  # the next sample: the view still describes the graph it was built from
    assert graph.find("L0.N1.z") is not small.resolve("L0.N1.z")


def test_a_view_of_a_snapshot_runs_its_own_copy(small):
    x = sample(seed=6)
    before = [(p.data, p.grad) for p in small.parameters()]
    graph = GraphView(small, x, 4, "cross_entropy")
    assert [(p.data, p.grad) for p in small.parameters()] == before  # the probe's snapshot is untouched
    net = MLP(49, [6, 5, 10], activation="relu", seed=3)
    lossv = cross_entropy(net(x), 4)
    lossv.backward()
    assert graph.node("loss").data == lossv.data and graph.node("loss").grad == 1.0
    for address in ("L0.N2.b", "L1.N3.z", "L2.N5.a", "L1.N0.w2"):
        view = graph.node(address)
        assert (view.data, view.grad) == (net.resolve(address).data, net.resolve(address).grad), address
        assert view.address == address.replace("L2.N5.a", "L2.N5.z")  # the last layer's a is its z
    assert graph.sample == (x, 4) and graph.layer_sizes == SIZES


def test_first_layer_parents_show_the_pixel_they_multiplied(small):
    x = sample(seed=6)
    graph = GraphView(small, x, 0)
    parents = graph.neighbourhood("L0.N2.z", limit=60).parents
    weights = [v for v in parents if v.label.startswith("L0.N2.w")]
    assert weights and len(weights) == sum(1 for v in x if v)  # zero pixels drop out of the graph
    for view in weights:
        assert view.note == f"x={x[int(view.label.rsplit('w', 1)[1])]:.2f}" and view.op == "param"
    assert next(v for v in parents if v.label == "L0.N2.b").note == ""
    zero = next(i for i, v in enumerate(x) if not v)
    with pytest.raises(AddressError, match="not part of this sample's graph"):
        graph.node(f"L0.N2.w{zero}")


def test_bad_addresses_are_named(small):
    graph = GraphView(small, sample(), 0)
    with pytest.raises(AddressError, match="layer 3 does not exist: this network has layers L0..L2"):
        graph.node("L3.N0.z")
    with pytest.raises(AddressError, match="whitespace"):
        graph.find("L0.N0.z\n")
    unlabelled = graph.neighbourhood("loss").parents
    assert all(v.address is None for v in unlabelled if v.op not in ("param",) and "." not in v.label)
    assert graph.view(graph.root).line().startswith("loss")


def test_scale_matches_the_batch_weight(small):
    x = sample(seed=7)
    whole, quarter = GraphView(small, x, 3), GraphView(small, x, 3, cross_entropy, scale=0.25)
    for address in ("loss", "L0.N1.z", "L2.N3.a", "L1.N2.w4"):
        assert quarter.node(address).grad == 0.25 * whole.node(address).grad, address
        assert quarter.node(address).data == whole.node(address).data
