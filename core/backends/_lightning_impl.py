"""The torch side of the Lightning backend: the network, device-resident batches and the LightningModule.

Imported lazily (through core.backends._lightning_run) by LightningTrainer.fit, never by importing the package.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.data import Split

EVAL_CHUNK = 8192  # rows per evaluation forward pass: bounded memory, few launches
_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


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
            layers.append(_ACTIVATIONS[config.activation]())
    return nn.Sequential(*layers)


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


class DeviceBatches:
    """Batches by index from tensors held on the training device; a seeded permutation per epoch.

    Handed to Lightning as a plain iterable: no DataLoader, no workers, no per-image Python. Each rank of a
    multi-device run takes every world_size-th index of the same permutation, so ranks never overlap and
    all take the same number of steps.
    """

    def __init__(self, split: Split, batch_size: int, seed: int, *, epoch_offset: int = 0) -> None:
        self.x = torch.from_numpy(split.images)
        self.y = torch.from_numpy(split.labels).long()
        self.batch_size = batch_size
        self.seed = seed
        self.epoch_offset = epoch_offset  # epochs completed before a resume: keeps the shuffles identical
        self.skip = 0  # batches of the first epoch already trained before a resume
        self.rank, self.world = 0, 1
        self.epoch_fn: Callable[[], int] = lambda: 0

    def to(self, device: torch.device, rank: int = 0, world: int = 1) -> DeviceBatches:
        """Move the data to the training device once and learn this process's shard."""
        self.x, self.y = self.x.to(device), self.y.to(device)
        self.rank, self.world = rank, world
        return self

    @property
    def rows(self) -> int:
        return self.y.shape[0] // self.world

    def __len__(self) -> int:
        return math.ceil(self.rows / self.batch_size)

    def permutation(self, epoch: int) -> torch.Tensor:
        """This rank's shuffled indices for 0-based run epoch `epoch`."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.y.shape[0], generator=gen)
        return perm[self.rank :: self.world][: self.rows].to(self.x.device)

    def __iter__(self):
        epoch = self.epoch_fn()
        skip, self.skip = (self.skip if epoch == 0 else 0), 0
        for idx in self.permutation(self.epoch_offset + epoch).split(self.batch_size)[skip:]:
            yield self.x.index_select(0, idx), self.y.index_select(0, idx)


_PLAIN_ATTRIBUTES = frozenset({"_current_fx_name", "record", "alive", "gate"})


class MnistModule(L.LightningModule):
    """The MLP as a LightningModule; training loss and accuracy stay on the device until a report reads them."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.config = config
        self.net = build_network(config)
        self.loss_fn = loss_function(config.loss)
        self.optimizer_state: dict | None = None  # loaded into the optimiser when resuming
        self.pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (loss, logits, labels)
        self.record = False  # set by the callback on steps whose activations feed dead-unit statistics
        self.alive: list[torch.Tensor] = []  # per ReLU layer: which units fired on the recorded batch
        self.gate: Callable[[], bool] = lambda: False  # the callback's pause/stop check; True = stop now

    def __setattr__(self, name: str, value) -> None:
        # Lightning sets _current_fx_name around each of ~12 hooks per step; nn.Module.__setattr__ scans its
        # parameter, buffer and module dicts every time. These names only ever hold plain Python values.
        if name in _PLAIN_ATTRIBUTES:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        if self.record:
            self.alive = []
            out = x
            for layer in self.net:
                out = layer(out)
                if isinstance(layer, nn.ReLU):
                    self.alive.append((out > 0).any(0))
        else:
            out = self.net(x)
        loss = self.loss_fn(out, y)
        # No per-step metric kernels or syncs: keep references; take_sums reduces them at report time.
        self.pending.append((loss.detach(), out.detach(), y))
        return loss

    def on_train_batch_start(self, batch, batch_idx: int) -> int | None:
        return -1 if self.gate() else None  # -1 skips the rest of the epoch: stop within one batch

    def transfer_batch_to_device(self, batch, device, dataloader_idx: int):
        return batch  # DeviceBatches already yields tensors on the training device

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        pass  # we never clip; the default re-validates clipping arguments on every step

    def configure_optimizers(self) -> torch.optim.Optimizer:
        optimizer = make_optimizer(self.config, self.parameters())
        if self.optimizer_state is not None:
            optimizer.load_state_dict(self.optimizer_state)
        return optimizer

    @torch.no_grad()
    def take_sums(self) -> tuple[float, int]:
        """Loss sum and correct count over the steps since the last call, in one device sync."""
        if not self.pending:
            return 0.0, 0
        losses, outs, labels = zip(*self.pending, strict=True)
        self.pending = []
        sizes = torch.tensor([y.shape[0] for y in labels], dtype=torch.float32).to(outs[0].device)
        loss_sum = (torch.stack(losses) * sizes).sum()
        correct = (torch.cat(outs).argmax(1) == torch.cat(labels)).sum()
        loss_sum, correct = torch.stack([loss_sum, correct.to(loss_sum.dtype)]).tolist()
        return loss_sum, int(correct)

    @torch.no_grad()
    def evaluate(self, split_x: torch.Tensor, split_y: torch.Tensor) -> tuple[float, float]:
        """Mean loss and accuracy over a whole split held on the device."""
        n = split_y.shape[0]
        if n == 0:
            return float("nan"), float("nan")
        was_training = self.net.training
        self.net.eval()
        loss_sum = torch.zeros((), device=split_x.device)
        correct = torch.zeros((), dtype=torch.int64, device=split_x.device)
        for start in range(0, n, EVAL_CHUNK):
            xb, yb = split_x[start : start + EVAL_CHUNK], split_y[start : start + EVAL_CHUNK]
            out = self.net(xb)
            loss_sum += self.loss_fn(out, yb) * yb.shape[0]
            correct += (out.argmax(1) == yb).sum()
        self.net.train(was_training)
        return loss_sum.item() / n, correct.item() / n
