"""Float evaluation of the handmade network: loss and class probabilities of a split in one forward pass."""

from __future__ import annotations

import math
from operator import itemgetter, mul
from typing import Any, Callable, Sequence

import numpy as np

from core.engine import ReLU, Scalar, Sigmoid
from core.evaluation import EvaluationResult, evaluate_predictions


def activation_function(name: str) -> Callable[[float], float]:
    """The engine's forward function of a hidden activation, for plain floats."""
    # The engine's own forward functions, so the float path gives bit-identical numbers.
    return {"relu": ReLU.forward, "tanh": math.tanh, "sigmoid": Sigmoid.forward}[name]


def _picker(row: np.ndarray) -> Callable[[Sequence[float]], tuple[float, ...]]:
    """Selects the nonzero pixels of `row` from any sequence of the same length (zeros add nothing)."""
    nz = np.flatnonzero(row).tolist()
    if len(nz) > 1:
        return itemgetter(*nz)
    if nz:
        k = nz[0]
        return lambda v: (v[k],)
    return lambda v: ()


def model_layers(model: Any) -> list[tuple[list[list[float]], list[float], Callable | None]]:
    """(weight rows, biases, activation or None) per layer, as floats copied from `model`."""
    out = []
    for i, layer in enumerate(model.layers):
        act = activation_function(model.activation) if i < len(model.layers) - 1 else None
        out.append(([[w.data for w in nrn.w] for nrn in layer.neurons], [nrn.b.data for nrn in layer.neurons], act))
    return out


def forward_floats(layers: list, images: np.ndarray,
                   between_rows: Callable[[], object] | None = None) -> list[list[float]]:
    """The network's outputs (logits) for each row of `images`, in the engine's order of arithmetic.

    `between_rows` is called before each row: a trainer's step-aside point (RunControl.step_aside), so that a
    front end sharing the interpreter is not kept waiting for a whole split.
    """
    (w0, b0, act0), rest = layers[0], layers[1:]
    outputs = []
    for row in images:
        if between_rows is not None:
            between_rows()
        pick = _picker(row)
        xs = pick(row.tolist())
        h = [b + sum(map(mul, pick(w), xs)) for w, b in zip(w0, b0, strict=True)]
        if act0 is not None:
            h = [act0(z) for z in h]
        for ws, bs, act in rest:
            h = [b + sum(map(mul, w, h)) for w, b in zip(ws, bs, strict=True)]
            if act is not None:
                h = [act(z) for z in h]
        outputs.append(h)
    return outputs


def softmax(outputs: Sequence[Sequence[float]]) -> np.ndarray:
    """Row-wise softmax of logits as an (n, classes) array (NaN rows stay NaN)."""
    z = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    with np.errstate(all="ignore"):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def evaluate_split(model: Any, images: np.ndarray, labels: np.ndarray, loss_fn: Callable,
                   between_rows: Callable[[], object] | None = None) -> tuple[float, EvaluationResult]:
    """Mean loss and the evaluation (confusion, accuracy, mistakes) of a split from one float forward pass.

    The arithmetic repeats the engine's (constant zero pixels skipped, its activation functions, the loss built
    from engine ops on the outputs), so the loss equals `loss_fn(model(x), label).data` exactly.
    """
    n = len(labels)
    outputs = forward_floats(model_layers(model), images, between_rows) if n else []
    loss_sum = 0.0
    for h, label in zip(outputs, labels.tolist(), strict=True):
        try:
            loss_sum += loss_fn([Scalar(v) for v in h], label).data
        except (OverflowError, ValueError):
            loss_sum += math.inf
    probs = softmax(outputs) if n else np.zeros((0, 10))
    return (loss_sum / n if n else math.nan), evaluate_predictions(probs, labels)


def evaluate(model: Any, images: np.ndarray, labels: np.ndarray, loss_fn: Callable) -> tuple[float, float]:
    """(mean loss, accuracy) of a split; see evaluate_split."""
    loss, result = evaluate_split(model, images, labels, loss_fn)
    return loss, result.accuracy
