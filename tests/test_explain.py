"""Explain a gradient: the walk's terms add up, and its gradient is the one autograd finds independently."""

from __future__ import annotations

import json
import math
import random

import pytest

from core.backends import load_probe
from core.cli import main
from core.explain import Network, explain
from core.explain.text import lines
from core.gradcheck import mlp_from_weights, torch_gradient

ACTIVATIONS = ("relu", "tanh", "sigmoid")
LOSSES = ("cross_entropy", "mse")


def sums_hold(steps) -> None:
    """Every step with a value: its named terms plus the rest are that value."""
    for step in steps:
        if step["value"] is not None and step["terms"]:
            total = math.fsum([t["product"] for t in step["terms"]] + [step["rest"]])
            assert total == pytest.approx(step["value"], rel=1e-12, abs=1e-15), step["node"]


def as_dicts(explanation) -> list[dict]:
    from core.explain.text import events

    return [e for e in events(explanation) if e["type"] == "ExplainStep"]


# ---- a case by hand ---------------------------------------------------------------------------------------

def test_a_two_pixel_network_by_hand():
    # x = (1, 0); one ReLU unit z = 0.5*1 + 0.25*0 = 0.5; logits (0.5, -0.5); label 0
    net = Network("scalar", (2, 1, 2), "relu", "cross_entropy", 3,
                  weights=(((0.5, 0.25),), ((1.0,), (-1.0,))), biases=((0.0,), (0.0, 0.0)))
    p1 = 1.0 / (1.0 + math.e)  # softmax of (0.5, -0.5) at class 1
    e = explain(net, "L0.N0.w0", [1.0, 0.0], 0)
    # d loss/d z_out = (p0 - 1, p1) = (-p1, p1); d loss/d a = 1*(-p1) + (-1)*p1; ReLU slope 1; times x0 = 1
    assert e.gradient == pytest.approx(-2 * p1, rel=1e-15) and e.own == pytest.approx(-2 * p1, rel=1e-15)
    assert e.prediction == 0 and e.forward[1].value == 0.5
    a_step = next(s for s in e.backward if s.node == "L0.N0.a")
    assert {t.name: t.local for t in a_step.terms} == {"L1.N0.z (w0)": 1.0, "L1.N1.z (w0)": -1.0}  # both paths
    assert e.backward[-1].terms[0].local == 1.0  # the input it multiplies
    zero = explain(net, "L0.N0.w1", [1.0, 0.0], 0)
    assert zero.gradient == 0.0 and zero.own == 0.0 and "pixel of value 0" in zero.zero_reason
    assert "not in the graph" in zero.zero_reason  # the engine leaves the constant zero out of its Dot node
    light = explain(Network("lightning", (2, 1, 2), "relu", "cross_entropy", 3, net.weights, net.biases),
                    "L0.N0.w1", [1.0, 0.0], 0)
    assert light.gradient == 0.0 and "multiplies 0" in light.zero_reason
    text = "\n".join(lines(e))
    assert "L0.N0.w0" in text and "the engine's backward pass" in text and "central finite difference" in text


# ---- every activation, both losses, any layer, both backends -----------------------------------------------

@pytest.fixture(scope="module")
def random_net() -> tuple[tuple, tuple, list[float]]:
    rng = random.Random(1)
    sizes = (16, 5, 4, 3)
    weights = tuple(tuple(tuple(rng.uniform(-1, 1) for _ in range(sizes[i])) for _ in range(sizes[i + 1]))
                    for i in range(3))
    biases = tuple(tuple(rng.uniform(-0.5, 0.5) for _ in range(sizes[i + 1])) for i in range(3))
    x = [0.0 if i % 3 == 0 else rng.random() for i in range(16)]
    return weights, biases, x


@pytest.mark.parametrize("backend", ["scalar", "lightning"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_every_activation_loss_and_layer_agrees_with_torch(backend, activation, loss, random_net):
    weights, biases, x = random_net
    net = Network(backend, (16, 5, 4, 3), activation, loss, 0, weights, biases)
    reference = mlp_from_weights(weights, biases, activation)
    for address in ("L0.N1.w4", "L0.N1.w3", "L1.N2.w4", "L1.N0.b", "L2.N1.b", "L2.N0.w1", "L1.N3.z", "L0.N2.a"):
        e = explain(net, address, x, 2)
        expected = torch_gradient(reference, x, 2, address, loss)  # float64 autograd, independent of the walk
        assert e.gradient == pytest.approx(expected, rel=1e-9, abs=1e-12), address
        assert e.own == pytest.approx(expected, rel=1e-5 if backend == "lightning" else 1e-9, abs=1e-7), address
        assert e.numeric == pytest.approx(expected, rel=1e-5, abs=1e-8), address
        assert e.backward[-1].value == e.gradient
        sums_hold(as_dicts(e))
    assert explain(net, "L0.N1.w3", x, 2).gradient == 0.0  # x3 is a zero pixel (i % 3 == 0)


def test_bad_address_and_digit_are_refused(random_net):
    weights, biases, x = random_net
    net = Network("scalar", (16, 5, 4, 3), "relu", "mse", 0, weights, biases)
    with pytest.raises(ValueError, match="neuron 7 does not exist"):
        explain(net, "L1.N7.b", x, 0)
    with pytest.raises(ValueError, match="label 3 is not a class"):
        explain(net, "L1.N1.b", x, 3)


# ---- headless, on tiny trained runs of both backends ------------------------------------------------------


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("backend", ["scalar", "lightning"])
def test_explain_jsonl_on_a_trained_run(backend, trained_runs, tiny_data, capsys):
    run = trained_runs[backend]
    probe = load_probe(run)  # the checkpoint's weights, read independently of the explain package
    layers = [probe.layer_weights(i) for i in range(3)]
    net = mlp_from_weights([w for w, _ in layers], [b for _, b in layers], "relu")
    digit = 3
    pixels, label = tiny_data.val.images[digit].tolist(), int(tiny_data.val.labels[digit])
    first = next(i for i, v in enumerate(pixels) if v > 0)
    for address in ("L1.N2.w3", "L2.N4.b", f"L0.N5.w{first}"):
        code, out, err = run_cli(capsys, "--explain", str(run), "--address", address, "--digit", str(digit),
                                 "--jsonl", "-")
        assert code == 0, err
        events = [json.loads(line) for line in out.splitlines()]
        assert events[0]["type"] == "ExplainStarted" and events[0]["label"] == label
        assert events[0]["backend"] == backend and events[0]["address"] == address
        steps = [e for e in events if e["type"] == "ExplainStep"]
        result = events[-1]
        assert result["type"] == "ExplainResult"
        expected = torch_gradient(net, pixels, label, address, "cross_entropy")
        assert result["gradient"] == pytest.approx(expected, rel=1e-9, abs=1e-12), address
        if backend == "lightning":  # torch's own float32 autograd: equal to float32 rounding
            assert result["own"] == pytest.approx(expected, rel=1e-5, abs=1e-7)
        else:
            assert result["own"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        last = steps[-1]
        assert last["phase"] == "backward" and last["node"] == address and last["value"] == result["gradient"]
        assert math.fsum(t["product"] for t in last["terms"]) + last["rest"] == result["gradient"]
        sums_hold(steps)
        assert any(s["phase"] == "forward" and s["node"] == "loss" for s in steps)


def test_explain_text_and_refusals(trained_runs, tiny_data, capsys):
    run = str(trained_runs["scalar"])
    code, out, _ = run_cli(capsys, "--explain", run, "--address", "L1.N0.w1", "--split", "test", "--digit", "0")
    assert code == 0
    assert out.startswith("explain L1.N0.w1 on the handmade engine") and "test digit 0" in out
    assert "backward" in out and "the engine's backward pass" in out
    code, out, err = run_cli(capsys, "--explain", run, "--address", "L1.N9.w1")
    assert code == 2 and out == "" and err.count("\n") == 1 and "neuron 9 does not exist" in err
    n = len(tiny_data.val)
    code, out, err = run_cli(capsys, "--explain", run, "--address", "L1.N0.w1", "--digit", str(n))
    assert code == 2 and err.strip() == f"mnist-dash: --digit {n}: the val split has digits 0..{n - 1}"
    code, _, err = run_cli(capsys, "--explain", run)
    assert code == 2 and "--address" in err
