"""The inspector's core: addresses, resolution on both backends, gradient check, heatmaps, graph views."""

from __future__ import annotations

import random

import pytest

from core.engine import ReLU, Scalar
from core.inspect import (
    Address,
    AddressError,
    address_problem,
    completions,
    parse_address,
    resolve_scalar,
    resolve_tensor,
    suggest,
    tensor_value,
    validate_address,
)
from core.inspect_check import clone_model, gradient_check, torch_gradient
from core.inspect_view import GraphIndex, heatmap_cells, heatmap_text, node_labels, op_name, param_labels
from core.nn import MLP, cross_entropy

SIZES = (196, 64, 32, 10)


def sample(n: int = 196, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [rng.random() if rng.random() < 0.4 else 0.0 for _ in range(n)]


@pytest.fixture(scope="module")
def small() -> MLP:
    return MLP(49, [6, 5, 10], activation="relu", seed=3)


# ---- addresses --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("L0.N12.w345", Address("w", 0, 12, 345)),
        ("L1.N3.b", Address("b", 1, 3)),
        (" L0.N12.z ", Address("z", 0, 12)),
        ("L2.N0.a", Address("a", 2, 0)),
        ("loss", Address("loss")),
    ],
)
def test_parse_round_trips(text, expected):
    addr = parse_address(text)
    assert addr == expected
    assert str(addr) == text.strip()


@pytest.mark.parametrize("text", ["", "L0", "L0.N1", "L0.N1.w", "L0.N1.x", "l0.n1.b", "L0.N1.b.", "L-1.N0.b"])
def test_malformed_addresses_name_the_grammar(text):
    with pytest.raises(AddressError, match="L<layer>.N<neuron>.w<input>"):
        parse_address(text)


def test_validation_names_the_range():
    assert address_problem("L0.N99.w3", SIZES) == "L0.N99.w3: layer 0 has 64 neurons (N0..N63)"
    assert address_problem("L3.N0.b", SIZES) == "L3.N0.b: the network has 3 layers (L0..L2)"
    assert address_problem("L1.N0.w64", SIZES) == "L1.N0.w64: neurons of layer 1 have 64 inputs (w0..w63)"
    assert address_problem("L2.N9.w31", SIZES) is None
    with pytest.raises(AddressError, match="only on the handmade engine"):
        validate_address("L0.N1.z", SIZES, graph_nodes=False)


def test_completions_follow_the_shape():
    assert completions("", SIZES) == ["L0.", "L1.", "L2.", "loss"]
    assert completions("L", SIZES) == ["L0.", "L1.", "L2."]
    assert completions("L2.N", SIZES) == [f"L2.N{i}." for i in range(10)]
    assert completions("L0.N6", SIZES) == ["L0.N6.", *[f"L0.N{i}." for i in range(60, 64)]]
    assert completions("L0.N1.w19", SIZES) == ["L0.N1.w19", *[f"L0.N1.w{i}" for i in range(190, 196)]]
    assert completions("L0.N1.", SIZES, limit=3) == ["L0.N1.w0", "L0.N1.w1", "L0.N1.w2"]
    assert completions("L2.N3.b", SIZES) == ["L2.N3.b"]
    assert completions("L0.N1.", (4, 2, 10), graph_nodes=False) == [f"L0.N1.w{i}" for i in range(4)] + ["L0.N1.b"]
    assert completions("L5", SIZES) == [] and completions("L0.N64.", SIZES) == [] and completions("x", SIZES) == []
    assert completions("lo", SIZES) == ["loss"] and completions("lo", SIZES, graph_nodes=False) == []
    assert suggest("L1.N3.", SIZES) == "L1.N3.w0" and suggest("L2.N3.b", SIZES) is None
    assert suggest("L0.N1.w1", SIZES) == "L0.N1.w10"  # the typed address itself is no suggestion


# ---- resolution on both backends --------------------------------------------------------------------------


def test_resolve_on_the_handmade_engine(small):
    assert resolve_scalar(small, "L0.N2.w7") is small.layers[0].neurons[2].w[7]
    assert resolve_scalar(small, "L1.N4.b") is small.layers[1].neurons[4].b
    out = small(sample(49))
    assert resolve_scalar(small, "L0.N1.z") is small.layers[0].neurons[1].z
    assert resolve_scalar(small, "L2.N3.a") is out[3]
    with pytest.raises(AddressError, match="loss"):
        resolve_scalar(small, "loss")
    small.last_loss = lossv = cross_entropy(out, 4)
    assert resolve_scalar(small, "loss") is lossv
    with pytest.raises(AddressError, match="layer 0 has 6 neurons"):
        resolve_scalar(small, "L0.N6.b")


def test_resolve_on_torch_matches_the_lightning_layout(small):
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(49, 6), torch.nn.ReLU(), torch.nn.Linear(6, 5), torch.nn.ReLU(),
                              torch.nn.Linear(5, 10))
    with torch.no_grad():  # copy the handmade weights in, so the same address must give the same number
        for i, layer in enumerate(small.layers):
            lin = net[2 * i]
            lin.weight.copy_(torch.tensor([[w.data for w in n.w] for n in layer.neurons]))
            lin.bias.copy_(torch.tensor([n.b.data for n in layer.neurons]))
    param, index = resolve_tensor(net, "L0.N2.w7")
    assert param is net[0].weight and index == (2, 7)
    param, index = resolve_tensor(net, "L2.N9.b")
    assert param is net[4].bias and index == (9,)
    for name, p in small.named_parameters():
        data, grad = tensor_value(net, name)
        assert data == pytest.approx(p.data, rel=1e-6, abs=1e-7) and grad == 0.0
    net(torch.rand(1, 49)).sum().backward()
    assert tensor_value(net, "L1.N3.w2")[1] == float(net[2].weight.grad[3, 2])
    with pytest.raises(AddressError, match="only on the handmade engine"):
        resolve_tensor(net, "L0.N1.z")
    with pytest.raises(AddressError, match="layer 1 has 5 neurons"):
        resolve_tensor(net, "L1.N5.w0")


# ---- gradient check -----------------------------------------------------------------------------------


ADDRESSES = ["L0.N3.w20", "L0.N3.b", "L0.N3.z", "L0.N3.a", "L1.N2.z", "L1.N2.a", "L2.N4.a", "L2.N1.w5", "loss"]


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_gradient_check_agrees_on_a_correct_model(loss, activation):
    model = MLP(196, [12, 8, 10], activation=activation, seed=1)
    before = [p.data for p in model.parameters()]
    for address in ADDRESSES:
        result = gradient_check(model, sample(), 3, address, loss)
        assert result.passed, result.line()
        assert result.numeric == pytest.approx(result.engine, rel=1e-5, abs=1e-9)
        if result.torch is not None:
            assert result.torch == pytest.approx(result.engine, rel=1e-9, abs=1e-12)
    assert [p.data for p in model.parameters()] == before  # the check works on a copy


def test_gradient_check_flags_a_wrong_local_derivative(monkeypatch):
    model = MLP(196, [12, 8, 10], seed=1)
    x = sample()

    def wrong_relu_backward(out: Scalar) -> None:
        if out.data > 0.0:
            out._prev[0].grad += 2.0 * out.grad  # deliberately wrong: d relu / dz is 1, not 2

    model(x)
    live = next(f"L0.N{j}.b" for j, n in enumerate(model.layers[0].neurons) if n.z.data > 0)  # ReLU passes
    good = gradient_check(model, x, 3, live, use_torch=False)
    monkeypatch.setattr(ReLU, "backward", staticmethod(wrong_relu_backward))
    bad = gradient_check(model, x, 3, live, use_torch=False)
    assert good.passed and good.engine != 0.0
    assert not bad.passed and bad.rel_error > 0.1, bad.line()
    assert bad.line().startswith(f"FAIL {live}")
    assert gradient_check(model, x, 3, "L2.N0.b", use_torch=False).passed  # above every ReLU: still right


def test_torch_reference_equals_the_engine_gradient(small):
    pytest.importorskip("torch")
    model = clone_model(small)
    x = sample(49, seed=5)
    model.zero_grad()
    model.last_loss = lossv = cross_entropy(model(x), 7)
    lossv.backward()
    for name in ("L0.N1.w3", "L1.N0.b", "L2.N9.w4"):
        assert torch_gradient(model, x, 7, name) == pytest.approx(model.resolve(name).grad, rel=1e-9, abs=1e-15)


# ---- views ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", [28, 14, 7])
def test_heatmap_has_the_inputs_shape(side):
    values = [((i % side) - side / 2) / side for i in range(side * side)]
    cells = heatmap_cells(values, side)
    assert len(cells) == (side + 1) // 2 and all(len(line) == side for line in cells)
    assert cells[0][3] == (values[3], values[side + 3])
    text = heatmap_text(values, side)
    lines = text.plain.split("\n")
    assert len(lines) == (side + 1) // 2 and {len(line) for line in lines} == {side}
    assert set(text.plain) <= {"▀", "\n"}
    if side % 2:  # the odd last row has no bottom pixel: foreground only
        assert cells[-1][0][1] is None


def test_heatmap_of_a_hidden_neuron_is_a_block():
    cells = heatmap_cells(list(range(64)))
    assert len(cells) == 4 and len(cells[0]) == 8
    assert heatmap_text([0.0] * 10).plain == "▀▀▀▀\n▀▀  "  # 4x3 pixels, two per character


def test_graph_neighbourhood_shows_parents_and_children(small):
    x = sample(49, seed=2)
    out = small(x)
    small.last_loss = lossv = cross_entropy(out, 1)
    lossv.backward()
    labels = node_labels(small, (49, 6, 5, 10), lossv)
    index = GraphIndex(lossv, labels)
    z = small.resolve("L1.N2.z")
    parents, hidden_p, children, hidden_c = index.neighbourhood(z, limit=20)
    names = [p.label for p in parents]
    assert "L1.N2.b" in names and "L0.N0.a" in names and "L1.N2.w5" in names and hidden_p == 0
    assert index.neighbourhood(z, limit=4)[1] == 13 - 4
    assert [c.label for c in children] == ["L1.N2.a"] and op_name(z) == "dot"
    a = small.resolve("L1.N2.a")
    assert {c.label for c in index.neighbourhood(a)[2]} == {f"L2.N{k}.z" for k in range(10)}
    assert index.view(z).data == z.data and index.view(z).grad == z.grad
    assert index.neighbourhood(lossv)[2] == [] and index.size > 100


def test_graph_labels_come_from_the_graph_itself(small):
    x = sample(49, seed=4)
    small.last_loss = lossv = cross_entropy(small(x), 2)
    lossv.backward()
    index = GraphIndex(lossv, param_labels(small))
    for address in ("L0.N1.z", "L0.N1.a", "L1.N4.a", "L2.N7.z"):
        assert index.find(address) is small.resolve(address), address
    assert index.find("loss") is lossv
    small(sample(49, seed=9))  # the next sample: the index still describes the graph it was built from
    assert index.find("L0.N1.z") is not small.resolve("L0.N1.z")


# ---- the values a backend reports are the objects the inspector resolves -------------------------------


def _tiny(backend: str):
    from core.config import TrainConfig

    return TrainConfig(backend=backend, hidden=(8,), input_size=7, train_subset=48, val_subset=16, test_subset=16,
                       epochs=1, batch_size=16, device="cpu", optimizer="sgd")


WATCHED = ("L0.N3.w24", "L0.N5.b", "L1.N2.w4", "L1.N7.b")


def _last_watches(events) -> dict:
    from core.events import ScalarWatch

    return {e.address: e for e in events if isinstance(e, ScalarWatch)}


def test_scalar_backend_watch_values_are_the_resolved_scalars():
    from core.backends import RunControl
    from core.backends.scalar import ScalarTrainer
    from core.data import load_data

    config = _tiny("scalar")
    events: list = []
    trainer = ScalarTrainer()
    assert trainer.fit(config, load_data(config), events.append, RunControl(WATCHED)).reason == "completed"
    last = _last_watches(events)
    assert set(last) == set(WATCHED)
    for address, event in last.items():  # the last report was taken just before the last SGD step
        assert resolve_scalar(trainer.model, address).data == event.data - config.lr * event.grad


def test_lightning_backend_watch_values_are_the_resolved_tensors():
    pytest.importorskip("lightning")
    from core.backends import RunControl
    from core.backends.lightning import LightningTrainer
    from core.data import load_data

    config = _tiny("lightning")
    events: list = []
    trainer = LightningTrainer()
    assert trainer.fit(config, load_data(config), events.append, RunControl(WATCHED)).reason == "completed"
    last = _last_watches(events)
    assert set(last) == set(WATCHED)
    for address, event in last.items():
        data, grad = tensor_value(trainer.module, address)
        assert grad == event.grad  # the grad of the last step stays on the tensor
        assert data == pytest.approx(event.data - config.lr * event.grad, rel=1e-6, abs=1e-9)  # float32 step
    param, index = resolve_tensor(trainer.module, "L0.N3.w24")
    assert param is trainer.module.net[0].weight and index == (3, 24)


def test_first_layer_parents_show_the_pixel_they_multiplied(small):
    x = sample(49, seed=6)
    small.last_loss = lossv = cross_entropy(small(x), 0)
    lossv.backward()
    index = GraphIndex(lossv, param_labels(small))
    parents = index.neighbourhood(small.resolve("L0.N2.z"), limit=60)[0]
    weights = [v for v in parents if v.label.startswith("L0.N2.w")]
    assert weights and len(weights) == sum(1 for v in x if v)  # zero pixels drop out of the graph
    for view in weights:
        assert view.note == f"x={x[int(view.label.rsplit('w', 1)[1])]:.2f}"
    assert next(v for v in parents if v.label == "L0.N2.b").note == ""
