"""A rough time-per-epoch estimate for a configuration, shown before a run starts.

The handmade engine's cost is close to proportional to parameters x samples (every weight is a Scalar
touched once forward and once backward), so one calibrated constant goes a long way. Lightning's cost on
small MLPs is dominated by per-batch overhead. Both constants are replaced by what the last run of the
same backend measured, so the estimate improves as the app is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.config import TrainConfig

# Seconds per (parameter x training sample), forward + backward + update, measured on this machine
# with the default 196-64-32-10 network (513 samples/s in the dashboard); evaluation costs about a third.
SCALAR_SECONDS_PER_PARAM_SAMPLE = 1.3e-7
EVAL_FRACTION = 0.35
LIGHTNING_SECONDS_PER_BATCH = {"cpu": 10e-3, "gpu": 3e-3}  # Lightning's per-step overhead dominates
LIGHTNING_EPOCH_OVERHEAD_S = 0.5
FULL_TRAIN_SIZE = 50_000  # MNIST's 60,000 minus the validation split a full run carves out


@dataclass
class Estimator:
    """Per-epoch estimates, recalibrated from the throughput real runs report."""

    scalar_cost: float = SCALAR_SECONDS_PER_PARAM_SAMPLE
    lightning_sample_s: dict[str, float] = field(default_factory=dict)  # device kind -> s/sample measured
    known_train_size: int = 0  # from the last RunStarted with train_subset = 0

    def train_size(self, config: TrainConfig) -> int:
        if config.train_subset:
            return config.train_subset
        return self.known_train_size or FULL_TRAIN_SIZE

    def epoch_seconds(self, config: TrainConfig, device_kind: str = "cpu") -> float:
        """Estimated wall time of one epoch (training plus validation) for this config."""
        n = self.train_size(config)
        val = config.val_subset or 10_000
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
        """Recalibrate from a measured training throughput."""
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
