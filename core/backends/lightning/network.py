"""The network as torch modules: layers and initialisation like core.nn, the losses, the optimisers."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from core.config import TrainConfig

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def build_network(config: TrainConfig) -> nn.Sequential:
    """Linear layers of config.layer_sizes with the activation between them, initialised like the engine."""
    sizes = config.layer_sizes
    gen = torch.Generator().manual_seed(config.seed)
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        linear = nn.Linear(fan_in, fan_out)
        init_linear(linear, config.init, gen)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[config.activation]())
    return nn.Sequential(*layers)


def linears(net: nn.Module) -> list[nn.Linear]:
    """The Linear layers in order: L0, L1, ... in addresses."""
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


@torch.no_grad()
def init_linear(linear: nn.Linear, scheme: str, gen: torch.Generator) -> None:
    """core.nn's schemes: scaled = U(-1, 1) / sqrt(fan_in), biases 0; uniform = the seed's U(-1, 1) for both."""
    if scheme == "uniform":
        linear.weight.copy_(torch.rand(linear.weight.shape, generator=gen) * 2 - 1)
        linear.bias.copy_(torch.rand(linear.bias.shape, generator=gen) * 2 - 1)
    else:
        scale = 1.0 / math.sqrt(linear.in_features)
        linear.weight.copy_((torch.rand(linear.weight.shape, generator=gen) * 2 - 1) * scale)
        linear.bias.zero_()


def loss_function(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Batch means of core.nn's losses: cross-entropy on logits (no softmax first), or MSE on one-hot."""
    if name == "cross_entropy":
        return F.cross_entropy

    def mse_one_hot(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out, F.one_hot(labels, out.shape[1]).to(out.dtype))  # mean over outputs and batch

    return mse_one_hot


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    """sgd (plain: an update is exactly -lr*grad), momentum (SGD with config.momentum) or adam."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr)
    momentum = config.momentum if config.optimizer == "momentum" else 0.0
    return torch.optim.SGD(params, lr=config.lr, momentum=momentum)
