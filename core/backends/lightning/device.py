"""Where a Lightning run trains: the accelerator, the device's name, single-device checks, this process's rank."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config import TrainConfig

GPU_MISSING = (
    "device=gpu but no CUDA GPU is visible (torch.cuda.is_available() is False); use --device cpu or auto"
)


class DeviceError(RuntimeError):
    """The requested device cannot be used here."""


def resolve_accelerator(device: str) -> str:
    """Map a config device (auto, cpu, gpu) to Lightning's accelerator name ('gpu' or 'cpu')."""
    import torch

    if device == "cpu":
        return "cpu"
    available = torch.cuda.is_available()
    if device == "auto":
        return "gpu" if available else "cpu"
    if device in ("gpu", "cuda") or device.startswith("cuda:"):
        if not available:
            raise DeviceError(GPU_MISSING)
        return "gpu"
    raise DeviceError(f"device={device!r} is not one of auto, cpu, gpu")


def describe_device(device: str = "auto") -> str:
    """'cpu', or the name of the GPU `device` resolves to (e.g. 'NVIDIA H200')."""
    import torch

    if device == "cpu" or resolve_accelerator(device) == "cpu":
        return "cpu"
    index = int(device.split(":", 1)[1]) if device.startswith("cuda:") else 0
    return torch.cuda.get_device_name(index)


def ensure_single_device(config: TrainConfig) -> None:
    """Raise ValueError unless the run uses one device on one node (what the dashboard can host)."""
    if config.devices > 1 or config.num_nodes > 1:
        raise ValueError(
            f"devices={config.devices}, num_nodes={config.num_nodes}: the dashboard trains on one device; "
            "multi-device Lightning (DDP relaunches the program) runs only in headless mode: "
            "mnist-dash --headless --backend lightning --devices N --strategy ddp"
        )


def env_rank_zero() -> bool:
    """Whether this process is global rank zero, from the launcher's environment (True when not distributed)."""
    if "RANK" in os.environ:
        return os.environ["RANK"] == "0"
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"
