"""Fixtures for the digits tests: real digits from the embedded sample and a small trained handmade network.

`MlpProbe` answers the Probe questions the digits screen asks (predict, input_gradient) from a real
core.nn.MLP: probabilities by the engine's forward pass, saliency by the Scalar graph's backward pass.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache
from types import SimpleNamespace
from typing import Sequence

import numpy as np

from core.data import Split, read_sample
from core.engine import Scalar
from core.nn import MLP, cross_entropy
from core.optim import SGD

SIDE = 14


def pooled(images: np.ndarray, side: int = SIDE) -> np.ndarray:
    """uint8 (n, 28, 28) -> float (n, side*side) in [0, 1], average-pooled."""
    f = 28 // side
    x = images.astype(np.float64).reshape(len(images), side, f, side, f).mean(axis=(2, 4)) / 255.0
    return x.reshape(len(images), side * side).astype(np.float32)


@lru_cache(maxsize=1)
def tiny_data(n_val: int = 48, n_test: int = 24) -> SimpleNamespace:
    """Real digits: validation = the sample's first test images, test = the next ones (MnistData-shaped)."""
    raw = read_sample()
    images, labels = raw["test_images"], raw["test_labels"].astype(np.int64)
    val = Split(images=pooled(images[:n_val]), labels=labels[:n_val])
    test = Split(images=pooled(images[n_val:n_val + n_test]), labels=labels[n_val:n_val + n_test])
    train = Split(images=pooled(raw["train_images"][:200]), labels=raw["train_labels"][:200].astype(np.int64))
    return SimpleNamespace(train=train, val=val, test=test, side=SIDE, source="embedded sample", is_sample=True)


class MlpProbe:
    """The digits screen's part of the Probe protocol, over a real handmade MLP."""

    backend = "scalar"
    graph_nodes = True

    def __init__(self, model: MLP, step: int = 12) -> None:
        self.model, self._step = model, step
        self.layer_sizes = (model.nin, *model.nouts)
        self.input_side = math.isqrt(model.nin)
        self.calls = 0

    def step(self) -> int:
        return self._step

    def predict(self, images: Sequence[Sequence[float]]) -> list[list[float]]:
        self.calls += 1
        return [softmax([o.data for o in self.model(list(map(float, image)))]) for image in images]

    def input_gradient(self, image: Sequence[float], *, target: int | None = None,
                       label: int | None = None) -> tuple[list[float], list[float]]:
        self.calls += 1
        pixels = [Scalar(float(v)) for v in image]
        out = self.model(pixels)
        probs = softmax([o.data for o in out])
        k = max(range(10), key=probs.__getitem__) if target is None else target
        out[k].backward()
        grads = [p.grad for p in pixels]
        self.model.zero_grad()
        return probs, grads


def softmax(logits: list[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(v - top) for v in logits]
    total = sum(exps)
    return [e / total for e in exps]


@lru_cache(maxsize=1)
def trained_model() -> MLP:
    """196-16-10, seed 0, three epochs of SGD (lr 0.5) (batch 10) on 200 sample digits: right on most, wrong on some."""
    data = tiny_data()
    model = MLP(SIDE * SIDE, [16, 10], seed=0)
    opt = SGD(model.parameters(), lr=0.5)
    order = list(range(len(data.train.labels)))
    random.Random(0).shuffle(order)
    for _ in range(3):
        for start in range(0, len(order), 10):
            model.zero_grad()
            for i in order[start:start + 10]:
                loss = cross_entropy(model(data.train.images[i].tolist()), int(data.train.labels[i])) * 0.1
                loss.backward()
            opt.step()
    return model


def trained_probe(step: int = 12) -> MlpProbe:
    return MlpProbe(trained_model(), step)
