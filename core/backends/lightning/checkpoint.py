"""The Lightning backend's checkpoint: parameters and optimiser state as `weights_only` torch, progress shared.

The "progress" part is the run book's Position.to_dict() (the same schema as the handmade engine's
checkpoint); each backend keeps its own parameter storage. torch is imported inside the functions.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.backends.runbook import Position

if TYPE_CHECKING:
    from core.config import TrainConfig

CHECKPOINT_NAME = "lightning.pt"
CHECKPOINT_FORMAT = "mnist-dash-lightning/2"
OLD_FORMAT = "mnist-dash-lightning/1"  # progress at the top level under older names; still read
_OLD_NAMES = ("epoch", "step", "samples_seen", "batch_in_epoch", "best_val_loss", "bad_epochs")


def save_checkpoint(path: Path, config: TrainConfig, net, optimizer, position: Position) -> None:
    """Parameters, optimiser state, config and progress, written atomically (BytesIO, then atomic rename)."""
    import torch

    from core.atomic import atomic_write_bytes

    state = {
        "format": CHECKPOINT_FORMAT,
        "config": config.to_dict(),
        "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "progress": position.to_dict(),
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path, config: TrainConfig) -> tuple[dict[str, Any], Position]:
    """(the raw state, its Position), read safely (weights_only) and checked against the configured network."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a damaged or foreign file
        raise ValueError(f"{path}: not a readable Lightning-backend checkpoint ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") not in (CHECKPOINT_FORMAT, OLD_FORMAT):
        raise ValueError(f"{path}: not a Lightning-backend checkpoint of mnist-dash")
    saved = state.get("config")
    if not isinstance(saved, dict):
        raise ValueError(f"{path}: the checkpoint has no config")
    side, hidden = saved.get("input_size"), saved.get("hidden", ())
    if (type(side) is not int or not isinstance(hidden, (list, tuple))
            or not all(type(h) is int for h in hidden)):  # a damaged or foreign file, not a TypeError
        raise ValueError(f"{path}: the checkpoint's config does not describe a network")
    saved_sizes = (side**2, *hidden, 10)
    if saved_sizes != config.layer_sizes:
        raise ValueError(
            f"{path}: checkpoint network {'-'.join(map(str, saved_sizes))} does not match the configured "
            f"{'-'.join(map(str, config.layer_sizes))}"
        )
    check_parameters(path, state.get("model"), config.layer_sizes)
    if state["format"] == OLD_FORMAT:
        progress = {name: state.get(name, None if name == "best_val_loss" else 0) for name in _OLD_NAMES}
        progress.update(epoch_loss_sum=0.0, epoch_correct=0, epoch_count=0)
    else:
        progress = state.get("progress")
    try:
        position = Position.from_dict(progress, config)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return state, position


def check_parameters(path: Path, model: object, layer_sizes: tuple[int, ...]) -> None:
    """ValueError unless `model` holds exactly the network's weights and biases, all finite."""
    import torch

    expected = {}
    for i, (fan_in, fan_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:], strict=True)):
        expected[f"{2 * i}.weight"] = (fan_out, fan_in)
        expected[f"{2 * i}.bias"] = (fan_out,)
    if not isinstance(model, dict) or set(model) != set(expected):
        raise ValueError(f"{path}: the checkpoint's parameters are not those of this network")
    for name, shape in expected.items():
        tensor = model[name]
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != shape:
            raise ValueError(f"{path}: parameter {name} has the wrong shape")
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{path}: parameter {name} holds NaN or infinite values; the run had diverged")
