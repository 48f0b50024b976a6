"""MNIST: IDX reading, the embedded sample, download, splits, subsets, downsampling.

INTERFACE SKELETON: the data helper replaces the bodies; the names and signatures are the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np


class DataError(Exception):
    """A data problem a user can fix: names the file, what is wrong and how to fix it."""


@dataclass(frozen=True, eq=False)
class Split:
    """One split: images as float32 rows in [0, 1] of length side*side, labels as int64."""

    images: np.ndarray  # (n, side*side) float32
    labels: np.ndarray  # (n,) int64

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True, eq=False)
class RawMnist:
    """The four IDX arrays as read (uint8), and where they came from."""

    train_images: np.ndarray  # (N, 28, 28) uint8
    train_labels: np.ndarray  # (N,) uint8
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # "embedded MNIST sample (10,000 train / 2,000 test)" or the directory
    is_sample: bool


@dataclass(frozen=True, eq=False)
class MnistData:
    """Train / validation / test splits ready for a backend."""

    train: Split
    val: Split
    test: Split
    side: int  # 28, 14 or 7
    source: str
    is_sample: bool


def find_and_load(
    data_dir: str | Path | None = None,
    *,
    announce: Callable[[str], None] | None = None,
    allow_download: bool = True,
) -> RawMnist:
    """Load from --data-dir, $MNIST_DASH_DATA, the user cache, a torchvision download, or the sample."""
    raise NotImplementedError


def prepare(
    raw: RawMnist,
    *,
    input_size: int = 28,
    seed: int = 0,
    train_subset: int = 0,
    val_subset: int = 0,
    test_subset: int = 0,
) -> MnistData:
    """Carve the seeded validation split, take subsets, normalise to [0, 1], average-pool to input_size."""
    raise NotImplementedError


def load_data(config, data_dir: str | Path | None = None, *, announce=None, allow_download: bool = True) -> MnistData:
    """find_and_load + prepare with the config's input_size, seed and subsets."""
    raw = find_and_load(data_dir, announce=announce, allow_download=allow_download)
    return prepare(
        raw,
        input_size=config.input_size,
        seed=config.seed,
        train_subset=config.train_subset,
        val_subset=config.val_subset,
        test_subset=config.test_subset,
    )
