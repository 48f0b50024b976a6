"""A rough time-per-epoch estimate for a configuration, shown before a run starts.

The handmade engine's cost is close to proportional to parameters x samples (every weight is a Scalar
touched once forward and once backward), so one calibrated constant goes a long way. Lightning's cost on
small MLPs is dominated by per-batch overhead. Both constants are replaced by what the last run of the
same backend measured, so the estimate improves as the app is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from core.config import TrainConfig

# Seconds per (parameter x training digit): forward, backward and update, measured in the dashboard with the
# default 196-64-32-10 network (15,018 parameters, 2,000 digits in 3.56 s: 1.19e-7) and a 784-128-10 one
# (101,770 parameters, 1,000 digits in 8.64 s: 0.85e-7), the engine of commit 1c089b1 on a busy 2-core
# machine. Validation costs EVAL_FRACTION of a training digit (forward only).
SCALAR_SECONDS_PER_PARAM_SAMPLE = 1.1e-7
EVAL_FRACTION = 0.35
LIGHTNING_SECONDS_PER_BATCH = {"cpu": 10e-3, "gpu": 3e-3}  # Lightning's per-step overhead dominates
LIGHTNING_EPOCH_OVERHEAD_S = 0.5
SAMPLE_DIGITS = 10_000  # training digits of the embedded sample (core/sample/); a test pins it to the files
FULL_DIGITS = 60_000  # MNIST's training set
DATA_ENV = "MNIST_DASH_DATA"  # core.data.ENV_VAR (not imported: core.data imports numpy)


def source_digits(data_dir: str | Path | None) -> int:
    """Training digits a run will read before its validation split: MNIST's from a named folder (--data-dir,
    $MNIST_DASH_DATA), else the embedded sample's (a downloaded or cached set shows after the first run)."""
    return FULL_DIGITS if data_dir or os.environ.get(DATA_ENV) else SAMPLE_DIGITS


def split(digits: int) -> tuple[int, int]:
    """(train, validation) digits of a source of `digits`, as core.data.prepare carves them."""
    return digits - digits // 12, digits // 12


@dataclass
class Estimator:
    """Per-epoch estimates, recalibrated from the throughput real runs report."""

    scalar_cost: float = SCALAR_SECONDS_PER_PARAM_SAMPLE
    lightning_sample_s: dict[str, float] = field(default_factory=dict)  # device kind -> s/sample measured
    known_train_size: int = 0  # from the last RunStarted with train_subset = 0
    source: int = SAMPLE_DIGITS  # training digits of the data source (source_digits)

    def train_size(self, config: TrainConfig) -> int:
        """Training digits of a run of `config` (a subset larger than the split is the whole split)."""
        whole = self.known_train_size or split(self.source)[0]
        return min(config.train_subset, whole) if config.train_subset else whole

    def val_size(self, config: TrainConfig) -> int:
        whole = split(self.source)[1]
        return min(config.val_subset, whole) if config.val_subset else whole

    def epoch_seconds(self, config: TrainConfig, device_kind: str = "cpu") -> float:
        """Estimated wall time of one epoch (training plus validation) for this config."""
        n = self.train_size(config)
        val = self.val_size(config)
        if config.backend == "scalar":
            params = config.parameter_count()
            return self.scalar_cost * params * (n + EVAL_FRACTION * val)
        measured = self.lightning_sample_s.get(device_kind)
        if measured:
            return measured * (n + EVAL_FRACTION * val) + LIGHTNING_EPOCH_OVERHEAD_S
        per_batch = LIGHTNING_SECONDS_PER_BATCH.get(device_kind, LIGHTNING_SECONDS_PER_BATCH["cpu"])
        batches = -(-n // config.batch_size) + EVAL_FRACTION * -(-val // max(config.batch_size, 256))
        return per_batch * batches + LIGHTNING_EPOCH_OVERHEAD_S

    def observe(self, backend: str, config: TrainConfig, samples_per_s: float, device_kind: str = "cpu") -> None:
        """Recalibrate from an epoch's training throughput (EpochEnded.samples_per_s: training digits over the
        epoch's training time; validation comes after it)."""
        if samples_per_s <= 0:
            return
        if backend == "scalar":
            self.scalar_cost = 1.0 / (samples_per_s * max(1, config.parameter_count()))
        else:
            self.lightning_sample_s[device_kind] = 1.0 / samples_per_s


def format_seconds(seconds: float) -> str:
    """0.8 s, 12 s, 3.4 min, 2.1 h."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
