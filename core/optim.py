"""Optimisers over Scalars: SGD (with optional momentum) and Adam. Standard library only.

Speed trick, "the gradient ledger" (core/engine.py `GradLedger`): when the parameters are exactly a model's
(`SGD(model.parameters())`), `zero_grad` clears, and plain SGD updates, only the parameters that backward passes
reached since the last `zero_grad`, instead of visiting all 52,650 of them twice a step. Otherwise, or when the
ledger has lost track, every parameter is visited, as before; the result is the same either way.
"""

from __future__ import annotations

import math
from typing import Iterable

from core.engine import GradLedger, Scalar


class Optimizer:
    """Holds a list of parameters; `zero_grad()` clears their grads, `step()` updates their data."""

    def __init__(self, params: Iterable[Scalar], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if not lr > 0.0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.lr = float(lr)
        self.ledger = GradLedger.covering(self.params)  # None: the parameters are not one model's, all of them

    def params_with_grad(self) -> list[Scalar]:
        """The parameters whose grad is non-zero."""
        return [p for p in self.params if p.grad]

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0 (visiting only those with a gradient, when a ledger says which)."""
        ledger = self.ledger
        if ledger is not None and ledger.zero_grads():
            return
        for p in self.params:
            p.grad = 0.0
        if ledger is not None:
            ledger.clear()

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent: v = momentum * v + grad; data -= lr * v (plain: data -= lr * grad)."""

    def __init__(self, params: Iterable[Scalar], lr: float = 0.05, momentum: float = 0.0) -> None:
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.velocity = [0.0] * len(self.params) if momentum else None

    def step(self) -> None:
        lr = self.lr
        if self.velocity is None:
            # On MNIST only the weights of non-zero pixels get a gradient (about a fifth of them): the ledger
            # names them (or one scan finds them), and the rest, which a zero grad would not move, are skipped.
            ledger = self.ledger
            groups = ledger.reached_groups() if ledger is not None and ledger.complete else (self.params_with_grad(),)
            for group in groups:
                for p in group:
                    p.data = p.data - lr * p.grad  # measured: a little faster than -= on an attribute
            return
        # With momentum a parameter keeps moving after its grad is zero, so every one is visited.
        mu, v = self.momentum, self.velocity
        for i, p in enumerate(self.params):
            v[i] = mu * v[i] + p.grad
            p.data -= lr * v[i]


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; every parameter is visited, as its moments keep decaying."""

    def __init__(self, params: Iterable[Scalar], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        self.beta1, self.beta2 = (float(b) for b in betas)
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        self.eps = float(eps)
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)
        self.t = 0

    def step(self) -> None:
        self.t += 1
        b1, b2, eps = self.beta1, self.beta2, self.eps
        # Bias corrections placed as in torch.optim.Adam, so the two agree to rounding.
        step = self.lr / (1.0 - b1**self.t)
        root_bc2 = math.sqrt(1.0 - b2**self.t)
        m, v = self.m, self.v
        for i, p in enumerate(self.params):
            g = p.grad
            m[i] = b1 * m[i] + (1.0 - b1) * g
            v[i] = b2 * v[i] + (1.0 - b2) * g * g
            p.data -= step * m[i] / (math.sqrt(v[i]) / root_bc2 + eps)
