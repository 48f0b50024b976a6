"""Modules, addresses and losses of the handmade engine, checked against the same network in torch."""

from __future__ import annotations

import gc
import gzip
import math
import random
import weakref
from pathlib import Path

import pytest

from core.address import AddressError, parse
from core.engine import Scalar
from core.nn import MLP, Layer, Neuron, UnknownScalar, cross_entropy, mse_loss, predict
from core.optim import SGD


def small_input(n: int, seed: int = 0, zeros: bool = True) -> list[float]:
    rng = random.Random(seed)
    return [0.0 if zeros and rng.random() < 0.3 else rng.uniform(-1, 1) for _ in range(n)]


def torch_twin(model: MLP):
    """The same network in torch float64, weights copied from the engine model."""
    torch = pytest.importorskip("torch")
    layers = []
    for layer in model.layers:
        w = torch.tensor([[p.data for p in n.w] for n in layer.neurons], dtype=torch.float64, requires_grad=True)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64, requires_grad=True)
        layers.append((w, b))
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[model.activation]

    def forward(x):
        h = torch.tensor(x, dtype=torch.float64)
        for i, (w, b) in enumerate(layers):
            h = w @ h + b
            if i < len(layers) - 1:
                h = act(h)
        return h

    return layers, forward


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("loss_name", ["mse", "ce"])
def test_every_parameter_gradient_matches_torch(activation, loss_name):
    torch = pytest.importorskip("torch")
    model = MLP(12, [7, 5, 4], activation=activation, seed=3)
    x, label = small_input(12, seed=1), 2
    out = model(x)
    loss = mse_loss(out, label) if loss_name == "mse" else cross_entropy(out, label)
    model.zero_grad()
    loss.backward()
    layers, forward = torch_twin(model)
    tout = forward(x)
    if loss_name == "mse":
        target = torch.zeros(4, dtype=torch.float64)
        target[label] = 1.0
        tloss = torch.nn.functional.mse_loss(tout, target)
    else:
        tloss = torch.nn.functional.cross_entropy(tout.unsqueeze(0), torch.tensor([label]))
    tloss.backward()
    assert math.isclose(loss.data, tloss.item(), rel_tol=1e-9)
    for o, t in zip(out, tout.tolist(), strict=True):
        assert math.isclose(o.data, t, rel_tol=1e-9, abs_tol=1e-12)
    for i, (w, b) in enumerate(layers):
        for j, neuron in enumerate(model.layers[i].neurons):
            for k, p in enumerate(neuron.w):
                assert math.isclose(p.grad, w.grad[j, k].item(), rel_tol=1e-9, abs_tol=1e-12), f"L{i}.N{j}.w{k}"
            assert math.isclose(neuron.b.grad, b.grad[j].item(), rel_tol=1e-9, abs_tol=1e-12), f"L{i}.N{j}.b"


def test_cross_entropy_is_stable_for_huge_logits():
    out = [Scalar(1000.0), Scalar(-1000.0), Scalar(999.0)]
    loss = cross_entropy(out, 0)
    loss.backward()
    assert math.isclose(loss.data, math.log(1 + math.exp(-1.0)), rel_tol=1e-12)
    p2 = math.exp(-1.0) / (1 + math.exp(-1.0))  # softmax of the 999 logit
    assert math.isclose(out[0].grad, -p2, rel_tol=1e-12)
    assert math.isclose(out[2].grad, p2, rel_tol=1e-12)
    assert out[1].grad == 0.0  # e^-2000 underflows to exactly 0


def test_cross_entropy_with_a_huge_logit_on_a_wrong_class():
    # The label's logit is 0, another class has 1000: the loss is 1000 (+ log(1 + e^-1000 + e^-1005) = 0 in
    # floats), finite. Shifting by the label's logit or by the minimum instead of the maximum overflows exp.
    out = [Scalar(0.0), Scalar(1000.0), Scalar(-5.0)]
    loss = cross_entropy(out, 0)
    loss.backward()
    assert loss.data == 1000.0
    assert (out[0].grad, out[1].grad, out[2].grad) == (-1.0, 1.0, 0.0)
    mid = cross_entropy([Scalar(0.0), Scalar(30.0), Scalar(0.0)], 2)  # not saturated: every term counts
    assert math.isclose(mid.data, 30.0 + math.log1p(2 * math.exp(-30.0)), rel_tol=1e-15)


def set_weights(model: MLP, layers: list[tuple[list[list[float]], list[float]]]) -> None:
    for layer, (rows, biases) in zip(model.layers, layers, strict=True):
        for neuron, row, b in zip(layer.neurons, rows, biases, strict=True):
            for w, v in zip(neuron.w, row, strict=True):
                w.data = v
            neuron.b.data = b


def test_forward_and_backward_by_hand():
    # Dyadic weights: every value below is exact in binary floating point, worked out on paper.
    model = MLP(2, [2, 2], activation="relu", seed=0)
    set_weights(model, [([[0.5, 0.25], [-1.0, 0.5]], [0.0, -0.5]), ([[2.0, 3.0], [-1.0, 1.0]], [0.5, 0.25])])
    out = model([1.0, 2.0])
    assert [o.data for o in out] == [2.5, -0.75]  # hidden a = (1.0, relu(-0.5) = 0)
    assert [model.resolve(f"L0.N{j}.a").data for j in range(2)] == [1.0, 0.0]
    loss = mse_loss(out, 0)
    assert loss.data == 1.40625  # ((2.5 - 1)^2 + 0.75^2) / 2
    model.zero_grad()
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert grads == {
        "L0.N0.w0": 3.75, "L0.N0.w1": 7.5, "L0.N0.b": 3.75,  # d a0 = 1.5 * 2 + (-0.75) * (-1)
        "L0.N1.w0": 0.0, "L0.N1.w1": 0.0, "L0.N1.b": 0.0,  # ReLU closed: nothing flows back
        "L1.N0.w0": 1.5, "L1.N0.w1": 0.0, "L1.N0.b": 1.5,  # d out0 = 2 * 1.5 / 2
        "L1.N1.w0": -0.75, "L1.N1.w1": 0.0, "L1.N1.b": -0.75,
    }
    assert predict(out) == 0


def test_named_parameters_addresses_and_count():
    model = MLP(784, [64, 32, 10], seed=0)
    named = model.named_parameters()
    assert len(named) == 784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    names = [n for n, _ in named]
    assert names[0] == "L0.N0.w0" and "L0.N12.w345" in names and "L1.N3.b" in names
    assert names[-1] == "L2.N9.b"
    assert len(set(names)) == len(names)
    assert [p for _, p in named] == model.parameters()
    for name, p in named[::997]:
        assert model.resolve(name) is p


def test_resolve_graph_nodes_after_forward():
    model = MLP(6, [4, 3], seed=1)
    with pytest.raises(KeyError, match="forward"):
        model.resolve("L0.N1.z")
    out = model(small_input(6))
    z, a = model.resolve("L0.N1.z"), model.resolve("L0.N1.a")
    assert z.op == "Dot" and a.op == "ReLU" and a.parents == (z,)
    assert model.resolve("L1.N2.a") is model.resolve("L1.N2.z") is out[2]  # last layer is linear
    with pytest.raises(KeyError, match="loss"):
        model.resolve("loss")
    loss = mse_loss(out, 1)
    model.last_loss = loss
    assert model.resolve("loss") is loss
    model(small_input(6, seed=2))
    with pytest.raises(KeyError):
        model.resolve("loss")  # a new forward pass drops the stale loss


@pytest.mark.parametrize(
    "bad, message",
    [
        ("L2.N0.b", "L2.N0.b: layer 2 does not exist: this network has layers L0..L1"),  # one past the last
        ("L1.N3.w0", "L1.N3.w0: neuron 3 does not exist: layer 1 has neurons N0..N2"),
        ("L0.N0.w6", "L0.N0.w6: input 6 does not exist: neurons of layer 0 have weights w0..w5"),
        ("L0.N0.q", "'L0.N0.q': the last part must be w<input>, b, z or a"),
        ("L0.N0.b ", "'L0.N0.b ' contains whitespace"),
        ("", "empty address"),
    ],
)
def test_resolve_bad_addresses_say_why(bad, message):
    model = MLP(6, [4, 3], seed=1)
    with pytest.raises(UnknownScalar) as info:
        model.resolve(bad)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, AddressError) and isinstance(info.value, KeyError)  # old callers catch KeyError


def test_resolve_takes_parsed_addresses_and_the_edges_exist():
    model = MLP(6, [4, 3], seed=1)
    assert model.layer_sizes == (6, 4, 3)
    assert model.resolve(parse("L1.N2.b")) is model.layers[1].neurons[2].b  # the last layer's last neuron
    assert model.resolve("L0.N3.w5") is model.layers[0].neurons[3].w[5]


def test_init_scaled_by_fan_in_and_uniform_option_and_seeded():
    scaled = MLP(784, [8, 10], seed=5)
    w = [p.data for p in scaled.layers[0].neurons[0].w]
    assert max(abs(v) for v in w) <= 1 / math.sqrt(784)
    uniform = MLP(784, [8, 10], init="uniform", seed=5)
    assert max(abs(p.data) for p in uniform.parameters()) > 0.9
    again = MLP(784, [8, 10], seed=5)
    assert [p.data for p in again.parameters()] == [p.data for p in scaled.parameters()]


def test_bad_arguments():
    with pytest.raises(ValueError):
        MLP(4, [3], activation="gelu")
    with pytest.raises(ValueError):
        MLP(4, [])
    with pytest.raises(ValueError):
        Neuron(3, init="zeros")
    with pytest.raises(ValueError):
        MLP(4, [2])([1.0, 2.0])
    with pytest.raises(ValueError):
        mse_loss([Scalar(0.0)] * 3, 3)


def test_layer_and_neuron_callable():
    layer = Layer(3, 2, activation="tanh", rng=random.Random(0))
    out = layer([1.0, 0.0, -1.0])
    assert len(out) == 2 and all(o.op == "Tanh" for o in out)
    assert len(layer.parameters()) == 8


def test_predict():
    assert predict([Scalar(0.1), Scalar(2.0), Scalar(-1.0)]) == 1


# ------------------------------------------------------------------ real digits

def load_digits(mnist: Path, split: str, n: int) -> tuple[list[list[float]], list[int]]:
    """The first `n` digits of `split` ('train' or 't10k') as lists of floats in [0, 1], and labels."""
    images, labels = mnist / f"{split}-images-idx3-ubyte.gz", mnist / f"{split}-labels-idx1-ubyte.gz"
    if not (images.exists() and labels.exists()):
        pytest.skip(f"MNIST files not found in {mnist}")
    with gzip.open(images) as f:
        f.read(16)
        raw = f.read(784 * n)
    with gzip.open(labels) as f:
        f.read(8)
        ys = list(f.read(n))
    return [[b / 255.0 for b in raw[i * 784:(i + 1) * 784]] for i in range(n)], ys


def train_seed_experiment(mnist: Path, seed: int, init: str = "scaled", epochs: int = 5) -> tuple[list[float], float]:
    """The seed notebook's run: 784-64-32-10, MSE, per-sample SGD at lr 0.05 over 512 digits."""
    xs, ys = load_digits(mnist, "train", 512)
    model = MLP(784, [64, 32, 10], init=init, seed=seed)
    opt = SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(epochs):
        for x, y in zip(xs, ys, strict=True):
            loss = mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.data)
            if not math.isfinite(loss.data):
                return losses, 0.0
    tx, ty = load_digits(mnist, "t10k", 256)
    accuracy = sum(predict(model(x)) == y for x, y in zip(tx, ty, strict=True)) / len(ty)
    return losses, accuracy


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0])  # seconds of pure Python per seed: one seed in `make test`
def test_seed_experiment_reaches_70_percent_without_diverging(seed, mnist_dir):
    # Three of the notebook's five epochs: seed 0 measured 0.52, 0.66, 0.77, 0.80, 0.82 after epochs 1-5. Stopping
    # at three is quicker and stricter: a slower learner (half the step, a gradient scaled down) misses 70% here.
    losses, accuracy = train_seed_experiment(mnist_dir, seed, epochs=3)
    assert all(math.isfinite(v) for v in losses)
    assert accuracy >= 0.70


@pytest.mark.parametrize("seed", [0, 1])
def test_seed_uniform_init_diverges_as_documented(seed, mnist_dir):
    # Measured: with U(-1, 1) weights the loss grows ~1e3, 1e9, 1e30, 1e100, then inf and nan by step 6.
    xs, ys = load_digits(mnist_dir, "train", 10)
    model = MLP(784, [64, 32, 10], init="uniform", seed=seed)
    opt = SGD(model.parameters(), lr=0.05)
    losses = []
    for x, y in zip(xs, ys, strict=True):
        loss = mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.data)
    assert losses[0] > 100.0
    assert not all(math.isfinite(v) for v in losses)


def test_graph_nodes_on_a_real_digit_are_inspectable(mnist_dir):
    xs, ys = load_digits(mnist_dir, "train", 1)
    model = MLP(784, [64, 32, 10], seed=0)
    out = model(xs[0])
    loss = mse_loss(out, ys[0])
    model.last_loss = loss
    loss.backward()
    z = model.resolve("L0.N12.z")
    nonzero = [i for i, v in enumerate(xs[0]) if v]
    assert z.op == "Dot" and z.parents[-1] is model.resolve("L0.N12.b")
    assert list(z.parents[:-1]) == [model.resolve(f"L0.N12.w{i}") for i in nonzero]  # zero pixels skipped
    assert model.resolve("L1.N3.z").parents[64] is model.resolve("L0.N0.a")  # weights, then inputs
    assert model.resolve("loss").grad == 1.0
    weight = model.resolve(f"L0.N12.w{nonzero[0]}")
    assert weight.grad == pytest.approx(z.grad * xs[0][nonzero[0]], rel=1e-12)
    assert model.resolve("L0.N12.w0").grad == 0.0  # a zero pixel's weight


def test_previous_graph_is_freed_after_the_next_step():
    model = MLP(20, [8, 4], seed=0)
    opt = SGD(model.parameters(), lr=0.05)
    x = small_input(20)
    loss = mse_loss(model(x), 1)
    nodes = [weakref.ref(n) for n in loss.topological_order()]
    opt.zero_grad()
    loss.backward()
    opt.step()
    del loss
    model(small_input(20, seed=1))  # the model now holds the new sample's graph only
    gc.disable()  # prove reference counting alone frees it: no cycles in the graph
    try:
        assert all(ref() is None for ref in nodes)
    finally:
        gc.enable()


# ------------------------------------------------------------------ finite differences (no torch)


@pytest.mark.parametrize("activation,loss_fn", [("tanh", mse_loss), ("sigmoid", cross_entropy),
                                                ("relu", cross_entropy)])
def test_gradients_match_finite_differences(activation, loss_fn):
    model = MLP(6, [5, 4, 3], activation=activation, seed=11)
    x, label = small_input(6, seed=4), 1

    def loss_value() -> float:
        return loss_fn(model(x), label).data

    model.zero_grad()
    loss_fn(model(x), label).backward()
    h = 1e-6
    for name, p in model.named_parameters():
        analytic = p.grad
        p.data += h
        up = loss_value()
        p.data -= 2 * h
        down = loss_value()
        p.data += h
        numeric = (up - down) / (2 * h)
        assert abs(analytic - numeric) <= 1e-6 + 1e-5 * abs(numeric), name


def test_numpy_row_input_gives_the_same_result_as_a_list():
    np = pytest.importorskip("numpy")
    model = MLP(6, [4, 3], seed=1)
    x = small_input(6)
    as_list = [o.data for o in model(x)]
    assert [o.data for o in model(np.array(x, dtype=np.float64))] == as_list


def test_parameters_are_the_named_parameters_in_order():
    model = MLP(5, [3, 2], seed=1)
    assert [id(p) for p in model.parameters()] == [id(p) for _, p in model.named_parameters()]
    assert [id(p) for p in model.layers[1].parameters()] == [id(p) for _, p in model.layers[1].named_parameters()]
