"""The Lightning backend: the handmade engine's network shape, trained by PyTorch Lightning.

Importing the package is cheap: torch and lightning load inside LightningTrainer.fit. One module per concern:

- device: accelerator, device name, single-device check, rank;  threads: the CPU thread policy
- network: layers, init, losses, optimisers;  module: the LightningModule;  batches: device-resident batches
- callback: events, run book, snapshots;  watch: watched scalars;  checkpoint: the checkpoint format
- probe: the read-only Probe and probe_from_checkpoint;  graphs: the step as a CUDA graph
- peers: waiting for the other nodes;  logs: Lightning's log lines as events
- fit: one run (Lightning's Trainer);  trainer: LightningTrainer (the Trainer protocol)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.backends.lightning.checkpoint import CHECKPOINT_NAME
from core.backends.lightning.device import (
    GPU_MISSING,
    DeviceError,
    describe_device,
    ensure_single_device,
    resolve_accelerator,
)
from core.backends.lightning.logs import route_lightning_logs
from core.backends.lightning.threads import choose_threads
from core.backends.lightning.trainer import LightningTrainer

if TYPE_CHECKING:
    from pathlib import Path

    from core.backends.lightning.probe import LightningProbe
    from core.config import TrainConfig

def probe_from_checkpoint(path: Path, config: TrainConfig) -> LightningProbe:
    """A probe over a saved Lightning checkpoint (imports torch)."""
    from core.backends.lightning.probe import probe_from_checkpoint as load

    return load(path, config)


__all__ = [
    "CHECKPOINT_NAME", "GPU_MISSING", "DeviceError", "LightningTrainer", "choose_threads", "describe_device",
    "ensure_single_device", "probe_from_checkpoint", "resolve_accelerator", "route_lightning_logs",
]
