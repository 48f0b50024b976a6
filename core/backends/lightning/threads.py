"""The CPU thread policy: how many torch threads a Lightning run uses (config `threads`, 0 = auto).

Why a policy: torch's worker threads spin-wait for cores they do not get. On a busy machine (other processes,
or the dashboard's own UI thread) a small model with one thread per core fell from 35,000 to ~200 samples/s,
while one thread kept 32,000. Auto therefore gives a model as many threads as its per-step work can use
(about one per WORK_PER_THREAD multiply-adds), never more than MAX_AUTO_THREADS, and leaves one core free
for the dashboard's UI and the rest of the machine.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from core.config import TrainConfig

WORK_PER_THREAD = 8_000_000  # multiply-adds per optimiser step worth one more thread (forward + backward)
MAX_AUTO_THREADS = 8  # beyond this an MLP step gains little and the spinning costs more


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def step_work(config: TrainConfig) -> int:
    """Multiply-adds of one optimiser step: forward, backward to inputs and to weights (3 per weight/sample)."""
    sizes = config.layer_sizes
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    return 3 * weights * config.batch_size


def choose_threads(config: TrainConfig, cores: int | None = None) -> int:
    """The torch CPU threads for `config`: its `threads` when set, else the auto policy described above."""
    wanted = int(getattr(config, "threads", 0) or 0)
    if wanted > 0:
        return wanted
    cores = available_cores() if cores is None else cores
    useful = 1 + step_work(config) // WORK_PER_THREAD
    return max(1, min(useful, MAX_AUTO_THREADS, cores - 1))


@contextmanager
def torch_threads(count: int) -> Iterator[int]:
    """Run with `count` torch intra-op threads; the previous count comes back afterwards."""
    import torch

    previous = torch.get_num_threads()
    if count != previous:
        torch.set_num_threads(count)
    try:
        yield count
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
