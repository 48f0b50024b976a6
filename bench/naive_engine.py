"""A deliberately naive scalar engine in the seed notebook's style: bench/engine.py's fallback baseline.

bench/engine.py compares against the seed's own engine (../shared/reference/seed_engine.py) and uses this
stand-in only where that file is missing. It is about 2.5x slower than the seed's engine (a `set` of parents
per node, `sum()` over generators), so ratios against it overstate the speed-up; the output names which
baseline was used. Every node carries a closure for its backward, `backward()` sorts the graph with a
recursive DFS, and a neuron is `sum()` of 784 products: 1,568 nodes per neuron. Do not use it for anything else.
"""

from __future__ import annotations

import random


class Value:
    """The seed's scalar: data, grad, a closure per node, recursive topological sort."""

    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    __radd__ = __add__

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    __rmul__ = __mul__

    def __sub__(self, other):
        return self + (-other)

    def __neg__(self):
        return self * -1

    def __pow__(self, k):
        out = Value(self.data**k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = Value(self.data if self.data > 0 else 0.0, (self,), "ReLU")

        def _backward():
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    def backward(self):
        topo, visited = [], set()

        def build(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)

        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()


class Neuron:
    def __init__(self, nin, nonlin, rng):
        # Scaled like the fast engine so both benchmark the same numbers (the seed's U(-1, 1) diverges).
        self.w = [Value(rng.uniform(-1, 1) / nin**0.5) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class Layer:
    def __init__(self, nin, nout, nonlin, rng):
        self.neurons = [Neuron(nin, nonlin, rng) for _ in range(nout)]

    def __call__(self, x):
        return [n(x) for n in self.neurons]

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    def __init__(self, nin, nouts, seed=0):
        rng = random.Random(seed)
        sz = [nin] + list(nouts)
        self.layers = [Layer(sz[i], sz[i + 1], i != len(nouts) - 1, rng) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def mse(outputs, label):
    """The seed's loss: mean squared error against the one-hot target."""
    return sum(((o - (1.0 if k == label else 0.0)) ** 2 for k, o in enumerate(outputs)), Value(0.0)) * (
        1.0 / len(outputs))


def sgd_step(model, params, x, label, lr):
    """One naive step: forward, zero every grad, backward, update every parameter."""
    loss = mse(model(x), label)
    for p in params:
        p.grad = 0.0
    loss.backward()
    for p in params:
        p.data -= lr * p.grad
    return loss.data
