"""Optimisers: exact SGD updates, momentum and Adam against torch.optim."""

from __future__ import annotations

import math

import pytest

from core.engine import GradLedger, Scalar
from core.nn import MLP, mse_loss
from core.optim import SGD, Adam


def quadratic(params):
    """A small loss with distinct gradients per parameter."""
    a, b, c = params
    return (a * b - 1.0) ** 2 + (c.tanh() + a) ** 2 + b * c


def test_plain_sgd_moves_each_weight_by_exactly_minus_lr_grad():
    model = MLP(10, [5, 3], seed=0)
    opt = SGD(model.parameters(), lr=0.05)
    x = [0.0, 0.3, 0.0, 1.0, 0.5, 0.0, 0.0, 0.9, 0.1, 0.0]
    opt.zero_grad()
    mse_loss(model(x), 1).backward()
    before = [(p.data, p.grad) for p in model.parameters()]
    opt.step()
    for (d, g), p in zip(before, model.parameters(), strict=True):
        assert p.data == d - 0.05 * g


def test_zero_grad_clears_gradients():
    params = [Scalar(0.5), Scalar(-1.0), Scalar(2.0)]
    opt = SGD(params, lr=0.1)
    quadratic(params).backward()
    a, b, c = 0.5, -1.0, 2.0
    t = math.tanh(c)
    expected = [2 * (a * b - 1) * b + 2 * (t + a), 2 * (a * b - 1) * a + c, 2 * (t + a) * (1 - t * t) + b]
    assert all(math.isclose(p.grad, e, rel_tol=1e-12) for p, e in zip(params, expected, strict=True))
    opt.zero_grad()
    assert all(p.grad == 0.0 for p in params)


@pytest.mark.parametrize("make", ["sgd", "momentum", "adam"])
def test_optimisers_match_torch_over_several_steps(make):
    torch = pytest.importorskip("torch")
    start = [0.5, -1.0, 2.0]
    params = [Scalar(v) for v in start]
    tparams = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in start]
    if make == "sgd":
        opt, topt = SGD(params, lr=0.1), torch.optim.SGD(tparams, lr=0.1)
    elif make == "momentum":
        opt, topt = SGD(params, lr=0.1, momentum=0.9), torch.optim.SGD(tparams, lr=0.1, momentum=0.9)
    else:
        opt, topt = Adam(params, lr=0.01), torch.optim.Adam(tparams, lr=0.01)
    for _ in range(5):
        opt.zero_grad()
        quadratic(params).backward()
        opt.step()
        topt.zero_grad()
        quadratic(tparams).backward()
        topt.step()
    for p, t in zip(params, tparams, strict=True):
        assert math.isclose(p.data, t.item(), rel_tol=1e-9)


def test_bad_hyperparameters():
    with pytest.raises(ValueError):
        SGD([Scalar(1.0)], lr=0.0)
    with pytest.raises(ValueError):
        SGD([Scalar(1.0)], lr=0.1, momentum=1.5)
    with pytest.raises(ValueError):
        Adam([Scalar(1.0)], betas=(1.0, 0.9))
    with pytest.raises(ValueError):
        SGD([], lr=0.1)


def test_sgd_leaves_weights_of_zero_inputs_untouched_and_momentum_keeps_moving_them():
    model = MLP(4, [2], seed=0)
    x1, x2 = [1.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]
    plain = SGD(model.parameters(), lr=0.1)
    before = {name: p.data for name, p in model.named_parameters()}
    plain.zero_grad()
    mse_loss(model(x1), 0).backward()
    g0 = model.resolve("L0.N0.w0").grad
    plain.step()
    after = {name: p.data for name, p in model.named_parameters()}
    assert after["L0.N0.w1"] == before["L0.N0.w1"] and after["L0.N0.w3"] == before["L0.N0.w3"]
    assert g0 != 0.0 and after["L0.N0.w0"] == before["L0.N0.w0"] - 0.1 * g0

    heavy = SGD(model.parameters(), lr=0.1, momentum=0.9)
    grads = []
    for x in (x1, x2):  # the second input is all zeros: w0 gets no gradient but still has velocity
        heavy.zero_grad()
        mse_loss(model(x), 0).backward()
        grads.append(model.resolve("L0.N0.w0").grad)
        w0 = model.resolve("L0.N0.w0").data
        heavy.step()
    assert grads[0] != 0.0 and grads[1] == 0.0
    assert model.resolve("L0.N0.w0").data == w0 - 0.1 * (0.9 * grads[0])  # v = 0.9 * v + 0


def test_gradients_accumulate_over_a_minibatch_until_zero_grad():
    model = MLP(3, [2], seed=0)
    opt = SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    mse_loss(model([1.0, 2.0, 3.0]), 1).backward()
    single = [p.grad for p in model.parameters()]
    mse_loss(model([1.0, 2.0, 3.0]), 1).backward()
    assert [p.grad for p in model.parameters()] == [2 * g for g in single]
    opt.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_adam_on_an_mlp_matches_torch():
    torch = pytest.importorskip("torch")
    model = MLP(5, [4, 3], activation="tanh", seed=2)
    tparams = [torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for p in model.parameters()]
    opt, topt = Adam(model.parameters(), lr=0.01), torch.optim.Adam(tparams, lr=0.01)
    for step in range(3):
        x, label = [0.5, -1.0, 0.0, 0.25, 2.0], step % 3
        opt.zero_grad()
        mse_loss(model(x), label).backward()
        grads = [p.grad for p in model.parameters()]
        opt.step()
        topt.zero_grad()
        for t, g in zip(tparams, grads, strict=True):
            t.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
    for p, t in zip(model.parameters(), tparams, strict=True):
        assert math.isclose(p.data, t.item(), rel_tol=1e-9, abs_tol=1e-15)


# ---- the gradient ledger: zero_grad and plain SGD visit only the parameters backward reached ----------------

PIXELS = [0.0, 0.3, 0.0, 1.0, 0.5, 0.0, 0.0, 0.9, 0.1, 0.0]


def train_steps(opt, model, batches):
    """Plain SGD over `batches` (lists of (x, label)); each sample's loss scaled by 1/len(batch)."""
    for batch in batches:
        opt.zero_grad()
        for x, label in batch:
            (mse_loss(model(x), label) * (1.0 / len(batch))).backward()
        opt.step()


BATCHES = [[(PIXELS, 1)], [(PIXELS[::-1], 2), (PIXELS, 0)], [([0.0] * 10, 1)], [(PIXELS, 2)] * 3]


def test_sgd_with_the_ledger_ends_bit_identical_to_visiting_every_parameter():
    fast, slow = MLP(10, [6, 4, 3], seed=3), MLP(10, [6, 4, 3], seed=3)
    fast_opt, slow_opt = SGD(fast.parameters(), lr=0.1), SGD(slow.parameters(), lr=0.1)
    slow_opt.ledger = None  # the plain scans over all parameters
    assert fast_opt.ledger is fast.ledger
    train_steps(fast_opt, fast, BATCHES)
    train_steps(slow_opt, slow, BATCHES)
    assert [(p.data, p.grad) for p in fast.parameters()] == [(p.data, p.grad) for p in slow.parameters()]


def test_ledger_zero_grad_clears_every_gradient_of_a_minibatch():
    model = MLP(10, [6, 4, 3], seed=3)
    opt = SGD(model.parameters(), lr=0.1)
    for x, label in [(PIXELS, 1), (PIXELS[::-1], 2)]:
        mse_loss(model(x), label).backward()
    assert sum(p.grad != 0.0 for p in model.parameters()) > 20
    opt.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters()) and model.ledger.groups == []


def test_a_parameter_reached_by_another_op_than_its_neuron_is_updated_too():
    model = MLP(3, [2], seed=0)
    opt = SGD(model.parameters(), lr=0.5)
    w = model.resolve("L0.N1.w2")
    opt.zero_grad()
    (w * 4.0).backward()  # weight decay written as graph ops reaches w without any Dot node
    before = w.data
    opt.step()
    assert w.data == before - 0.5 * 4.0


def test_a_ledger_that_overflows_falls_back_to_every_parameter():
    model = MLP(10, [6, 3], seed=1)  # 87 parameters
    opt = SGD(model.parameters(), lr=0.1)
    mse_loss(model(PIXELS), 1).backward()
    assert model.ledger.complete and 0 < model.ledger.filed <= 87
    for x in (PIXELS, PIXELS[::-1]):  # three passes file more entries than the model has parameters
        mse_loss(model(x), 2).backward()
    assert not model.ledger.complete and model.ledger.groups == []
    grads = {id(p): p.grad for p in model.parameters()}
    before = [p.data for p in model.parameters()]
    opt.step()
    assert [p.data for p in model.parameters()] == [d - 0.1 * grads[id(p)] for d, p in zip(before, model.parameters(),
                                                                                          strict=True)]
    opt.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters()) and model.ledger.complete


def test_an_optimiser_over_part_of_a_model_does_not_use_its_ledger():
    model = MLP(3, [2], seed=0)
    params = model.parameters()
    assert GradLedger.covering(params) is model.ledger
    assert GradLedger.covering(params[:-1]) is None  # the ledger holds a parameter this optimiser does not
    assert GradLedger.covering([*params[:-1], params[0]]) is None  # as many, but one twice
    assert GradLedger.covering([Scalar(1.0)]) is None
    opt = SGD(params[:4], lr=0.1)
    mse_loss(model([1.0, 2.0, 3.0]), 0).backward()
    untouched = params[4].data
    opt.step()
    assert params[4].data == untouched  # not this optimiser's parameter
