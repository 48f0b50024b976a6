"""core/gradcheck.py: engine backward vs central difference vs torch float64, identical on both backends' weights."""

from __future__ import annotations

import random

import pytest

from core.address import AddressError
from core.engine import ReLU, Scalar
from core.gradcheck import (
    GradCheck,
    agrees,
    copy_model,
    grad_check,
    grad_check_weights,
    loss_function,
    loss_name,
    mlp_from_weights,
    rel_error,
    torch_gradient,
)
from core.nn import MLP, cross_entropy, mse_loss


def sample(n: int = 196, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [rng.random() if rng.random() < 0.4 else 0.0 for _ in range(n)]


def layers_of(model: MLP) -> tuple[list[list[list[float]]], list[list[float]]]:
    """The model's weights as a Lightning probe would pass them: (out, in) rows and biases per layer."""
    return ([[[w.data for w in n.w] for n in layer.neurons] for layer in model.layers],
            [[n.b.data for n in layer.neurons] for layer in model.layers])


@pytest.fixture(scope="module")
def small() -> MLP:
    return MLP(49, [6, 5, 10], activation="relu", seed=3)


ADDRESSES = ["L0.N3.w20", "L0.N3.b", "L0.N3.z", "L0.N3.a", "L1.N2.z", "L1.N2.a", "L2.N4.a", "L2.N1.w5", "loss"]


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_gradient_check_agrees_on_a_correct_model(loss, activation):
    model = MLP(196, [12, 8, 10], activation=activation, seed=1)
    before = [p.data for p in model.parameters()]
    for address in ADDRESSES:
        result = grad_check(model, sample(), 3, address, loss)
        assert result.passed, result.line()
        assert result.address == address
        assert result.numeric == pytest.approx(result.engine, rel=1e-5, abs=1e-9)
        if result.torch is not None:
            assert result.torch == pytest.approx(result.engine, rel=1e-9, abs=1e-12)
    assert [p.data for p in model.parameters()] == before  # the check works on a copy


def test_the_engine_gradient_is_the_models_own(small):
    x = sample(49, seed=5)
    net = copy_model(small)
    net.zero_grad()
    lossv = cross_entropy(net(x), 7)
    lossv.backward()
    for address in ("L0.N1.w3", "L1.N0.b", "L2.N9.w4"):
        assert grad_check(small, x, 7, address, use_torch=False).engine == net.resolve(address).grad
    assert grad_check(small, x, 7, "loss", use_torch=False).engine == 1.0


def test_gradient_check_flags_a_wrong_local_derivative(monkeypatch):
    model = MLP(196, [12, 8, 10], seed=1)
    x = sample()

    def wrong_relu_backward(out: Scalar) -> None:
        if out.data > 0.0:
            out._prev[0].grad += 2.0 * out.grad  # deliberately wrong: d relu / dz is 1, not 2

    model(x)
    live = next(f"L0.N{j}.b" for j, n in enumerate(model.layers[0].neurons) if n.z.data > 0)  # ReLU passes
    good = grad_check(model, x, 3, live, use_torch=False)
    monkeypatch.setattr(ReLU, "backward", staticmethod(wrong_relu_backward))
    bad = grad_check(model, x, 3, live, use_torch=False)
    assert good.passed and good.engine != 0.0
    assert not bad.passed and bad.rel_error > 0.1, bad.line()
    assert bad.line().startswith(f"FAIL {live}: engine ")
    assert grad_check(model, x, 3, "L2.N0.b", use_torch=False).passed  # above every ReLU: still right


def test_torch_reference_equals_the_engine_gradient(small):
    pytest.importorskip("torch")
    model = copy_model(small)
    x = sample(49, seed=5)
    model.zero_grad()
    model.last_loss = lossv = mse_loss(model(x), 7)
    lossv.backward()
    for name in ("L0.N1.w3", "L1.N0.b", "L2.N9.w4", "L1.N3.z", "L0.N2.a"):
        assert torch_gradient(model, x, 7, name, "mse") == pytest.approx(model.resolve(name).grad, rel=1e-9,
                                                                          abs=1e-15)


def test_both_backends_get_the_identical_check(small):
    weights, biases = layers_of(small)
    x = sample(49, seed=8)
    for address in ("L0.N2.w9", "L1.N4.b", "L1.N1.a", "loss"):
        from_model = grad_check(small, x, 2, address, use_torch=False)
        from_weights = grad_check_weights(weights, biases, "relu", x, 2, address, use_torch=False)
        assert from_weights == from_model  # same numbers to the last bit, same verdict


def test_weights_may_be_arrays():
    np = pytest.importorskip("numpy")
    model = MLP(4, [3, 2], activation="tanh", seed=2)
    weights, biases = layers_of(model)
    net = mlp_from_weights([np.array(w, dtype=np.float32) for w in weights], [np.array(b) for b in biases], "tanh")
    assert net.layer_sizes == (4, 3, 2) and net.activation == "tanh"
    assert [p.data for p in net.parameters()] == pytest.approx([p.data for p in model.parameters()], rel=1e-6)
    assert all(type(p.data) is float for p in net.parameters())


@pytest.mark.parametrize(
    "weights, biases, activation, message",
    [
        ([[[1.0, 2.0]], [[1.0, 2.0]]], [[0.0], [0.0]], "relu", "layer 1: expected"),  # 2 inputs after 1 unit
        ([[[1.0, 2.0], [1.0]]], [[0.0, 0.0]], "relu", "layer 0: expected"),  # ragged rows
        ([[[1.0]]], [[0.0, 1.0]], "relu", "layer 0: expected"),  # one bias too many
        ([[[1.0]]], [], "relu", "one weight matrix and one bias vector per layer"),
        ([], [], "relu", "one weight matrix"),
        ([[[1.0]]], [[0.0]], "gelu", "activation must be one of"),
    ],
)
def test_bad_weight_shapes_are_named(weights, biases, activation, message):
    with pytest.raises(ValueError, match=message):
        mlp_from_weights(weights, biases, activation)


def test_bad_addresses_and_losses_are_clear(small):
    x = sample(49)
    with pytest.raises(AddressError, match="layer 3 does not exist: this network has layers L0..L2"):
        grad_check(small, x, 1, "L3.N0.b")
    with pytest.raises(AddressError, match="whitespace"):
        grad_check(small, x, 1, " L0.N0.b")
    with pytest.raises(ValueError, match="loss must be one of mse, cross_entropy"):
        loss_function("hinge")
    assert loss_function("mse") is mse_loss


def test_error_helpers():
    assert rel_error(1.0, 1.0) == 0.0 and rel_error(0.0, 0.0) == 0.0
    assert rel_error(2.0, 1.0) == 0.5 and rel_error(-1.0, 1.0) == 2.0
    assert agrees(1.0, 1.0 + 1e-6) and not agrees(1.0, 1.0 + 1e-4)
    assert agrees(1e-12, -1e-12)  # both ~0: below the absolute floor
    assert not agrees(float("nan"), float("nan")) and not agrees(float("inf"), float("inf"))


def test_line_reads_as_one_row():
    check = GradCheck("L0.N1.b", 0.5, 0.5000001, None, 2e-7, True, "torch not installed")
    assert check.line() == ("PASS L0.N1.b: engine 0.5  finite-diff 0.5000001  torch n/a  rel.err 2.00e-07  "
                            "(torch not installed)")


def test_scale_gives_the_gradient_training_saw(small):
    pytest.importorskip("torch")
    x = sample(49, seed=3)
    for address in ("L0.N4.w11", "L1.N2.a", "loss"):
        whole = grad_check(small, x, 5, address)
        part = grad_check(small, x, 5, address, cross_entropy, scale=0.25)  # a sample of a batch of 4
        assert part.passed, part.line()
        assert part.engine == 0.25 * whole.engine  # a power of two: exact
        assert part.torch == 0.25 * whole.torch and part.numeric == 0.25 * whole.numeric


def test_loss_as_a_function():
    assert loss_name(mse_loss) == "mse" and loss_name("cross_entropy") == "cross_entropy"
    assert loss_name(lambda out, label: out[label]) is None and loss_name("hinge") is None
    model = MLP(4, [3, 2], seed=0)

    def halved(out, label):
        return mse_loss(out, label) * 0.5

    result = grad_check(model, [0.5, 0.0, 1.0, -1.0], 1, "L0.N1.b", halved)
    assert result.passed and result.torch is None and result.note == "no torch twin for this loss"
    assert result.engine == 0.5 * grad_check(model, [0.5, 0.0, 1.0, -1.0], 1, "L0.N1.b", "mse").engine
