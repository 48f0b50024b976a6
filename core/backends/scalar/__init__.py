"""The handmade backend as a package by concern: loop (the trainer), evaluation, checkpoint, observe, probe."""

from __future__ import annotations

from core.backends.scalar.checkpoint import CHECKPOINT_NAME, CheckpointError
from core.backends.scalar.loop import ScalarTrainer
from core.backends.scalar.probe import ScalarProbe, probe_from_checkpoint

__all__ = ["CHECKPOINT_NAME", "CheckpointError", "ScalarProbe", "ScalarTrainer", "probe_from_checkpoint"]
