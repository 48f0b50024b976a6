"""Training mini-batches from tensors held on the training device, handed to Lightning in chunks."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import torch

if TYPE_CHECKING:
    from core.data import Split

# Optimiser steps per Lightning batch on one device (multi-device runs use 1: DDP must see each forward).
# Lightning's per-batch loop machinery (fetching, batch hooks, result collection, progress tracking: ~0.4 ms
# on a shared CPU) then runs once per chunk, while every step still goes through manual_backward and
# LightningOptimizer.step with their hooks.
STEPS_PER_CHUNK = 16


def split_on_device(split: Split, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A whole split's images (float32 rows) and labels (int64) on `device`."""
    return torch.from_numpy(split.images).to(device), torch.from_numpy(split.labels).long().to(device)


class DeviceBatches:
    """Mini-batches by index from tensors held on the training device; a seeded permutation per epoch.

    Handed to Lightning as a plain iterable: no DataLoader, no workers, no per-image Python. Each item is a
    chunk of up to `chunk` mini-batches. Each rank of a multi-device run takes every world_size-th index of
    the same permutation, so ranks never overlap and all take the same number of steps.
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
