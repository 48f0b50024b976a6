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
    """Mini-batches by index from tensors held on the training device; a seeded permutation per epoch.

    Handed to Lightning as a plain iterable: no DataLoader, no workers, no per-image Python. Each item is a
    chunk of up to `chunk` mini-batches that MnistModule.training_step trains one optimiser step at a time
    (see STEPS_PER_CHUNK). Each rank of a multi-device run takes every world_size-th index of the same
    permutation, so ranks never overlap and all take the same number of steps.
    """

    def __init__(self, split: Split, batch_size: int, seed: int, *, epoch_offset: int = 0, chunk: int = 1) -> None:
        self.x = torch.from_numpy(split.images)
        self.y = torch.from_numpy(split.labels).long()
        self.batch_size = batch_size
        self.seed = seed
        self.chunk = chunk
        self.epoch_offset = epoch_offset  # epochs completed before a resume: keeps the shuffles identical
        self.skip = 0  # mini-batches of the first epoch already trained before a resume
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

    @property
    def steps_per_epoch(self) -> int:
        """Mini-batches (optimiser steps) per epoch on this rank."""
        return math.ceil(self.rows / self.batch_size)

    def __len__(self) -> int:
        return math.ceil(self.steps_per_epoch / self.chunk)  # a resumed first epoch just ends sooner

    def permutation(self, epoch: int) -> torch.Tensor:
        """This rank's shuffled indices for 0-based run epoch `epoch`."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.y.shape[0], generator=gen)
        return perm[self.rank :: self.world][: self.rows].to(self.x.device)

    def __iter__(self):
        epoch = self.epoch_fn()
        skip, self.skip = (self.skip if epoch == 0 else 0), 0
        indices = self.permutation(self.epoch_offset + epoch).split(self.batch_size)[skip:]
        for start in range(0, len(indices), self.chunk):
            yield [(self.x.index_select(0, i), self.y.index_select(0, i)) for i in indices[start : start + self.chunk]]


STEPS_PER_CHUNK = 16  # optimiser steps per Lightning batch on one device (multi-device runs use 1)
_PLAIN_ATTRIBUTES = frozenset({"_current_fx_name", "record", "alive", "gate", "after_step"})


class MnistModule(L.LightningModule):
    """The MLP as a LightningModule in manual optimisation: each Lightning batch is a chunk of mini-batches.

    Every optimiser step still goes through Lightning (manual_backward, LightningOptimizer.step: strategy,
    precision plugin, on_before_backward / on_after_backward / on_before_optimizer_step hooks); Lightning's
    per-batch loop machinery (fetching, batch hooks, result collection, progress tracking: ~0.4 ms on a
    shared CPU) runs once per chunk. Training loss and accuracy stay on the device until a report reads them.
    """

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.config = config
        self.net = build_network(config)
        self.loss_fn = loss_function(config.loss)
        self.optimizer_state: dict | None = None  # loaded into the optimiser when resuming
        self.pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (loss, logits, labels)
        self.record = False  # set by the callback on steps whose activations feed dead-unit statistics
        self.alive: list[torch.Tensor] = []  # per ReLU layer: which units fired on the recorded batch
        self.gate: Callable[[], bool] = lambda: False  # the callback's pause/stop check; True = stop now
        self.after_step: Callable[[int], None] = lambda n: None  # the callback's per-step bookkeeping

    def __setattr__(self, name: str, value) -> None:
        # Lightning sets _current_fx_name around each of its hooks; nn.Module.__setattr__ scans its
        # parameter, buffer and module dicts every time. These names only ever hold plain Python values.
        if name in _PLAIN_ATTRIBUTES:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, chunk, chunk_idx: int) -> None:
        optimizer = self.optimizers()
        for x, y in chunk:
            if self.gate():  # pause, stop (within one mini-batch) and the report schedule
                return
            out = self._forward_recording(x) if self.record else self.net(x)
            loss = self.loss_fn(out, y)
            # No per-step metric kernels or syncs: keep references; take_sums reduces them at report time.
            self.pending.append((loss.detach(), out.detach(), y))
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()
            self.after_step(y.shape[0])

    def _forward_recording(self, x: torch.Tensor) -> torch.Tensor:
        """The forward pass, noting which ReLU units fire (for LayerGradStats.dead_fraction)."""
        self.alive = []
        for layer in self.net:
            x = layer(x)
            if isinstance(layer, nn.ReLU):
                self.alive.append((x > 0).any(0))
        return x

    def on_train_batch_start(self, batch, batch_idx: int) -> int | None:
        return -1 if self.trainer.should_stop else None  # -1 skips the rest of the epoch

    def transfer_batch_to_device(self, batch, device, dataloader_idx: int):
        return batch  # DeviceBatches already yields tensors on the training device

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
