"""The handmade engine's checkpoint: JSON, never pickle, written atomically to `<checkpoint_dir>/scalar.json`.

    {
      "format": "mnist-dash-scalar-checkpoint", "version": 2,
      "config": {...TrainConfig.to_dict()...},
      "layer_sizes": [196, 64, 32, 10],
      "progress": {...Position.to_dict()...},      # the same schema as the Lightning checkpoint's
      "parameters": {"L0.N0.w0": 0.013, ..., "L2.N9.b": -0.02},
      "optimizer": {"name": "sgd" | "momentum" | "adam", "lr": 0.05,
                    "velocity": {address: float},                         # momentum only
                    "m": {address: float}, "v": {address: float}, "t": 500},   # adam only
      "rng": {"seed": 0, "shuffle": "random.Random(seed + epoch)"}
    }

Floats are written with repr, so parameters round-trip exactly. Initialisation randomness is replaced by the
saved parameters and each epoch's shuffle is derived from the seed, so no generator state needs saving.
Version 1 files (wave 1: progress at the top level under older names) are still read.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from core.atomic import atomic_write_text
from core.backends.runbook import Position

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.engine import Scalar

FORMAT = "mnist-dash-scalar-checkpoint"
VERSION = 2
CHECKPOINT_NAME = "scalar.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used for this run; the message says why and what to do."""


def optimizer_state(optimizer: Any, addresses: Sequence[str], name: str) -> dict[str, Any]:
    """The optimiser's buffers keyed by parameter address."""
    state: dict[str, Any] = {"name": name, "lr": optimizer.lr}
    if getattr(optimizer, "velocity", None) is not None:
        state["velocity"] = dict(zip(addresses, optimizer.velocity, strict=True))
    if hasattr(optimizer, "m") and hasattr(optimizer, "v"):
        state["m"] = dict(zip(addresses, optimizer.m, strict=True))
        state["v"] = dict(zip(addresses, optimizer.v, strict=True))
        state["t"] = optimizer.t
    return state


def save_checkpoint(directory: Path, config: TrainConfig, position: Position, named: Sequence[tuple[str, Scalar]],
                    optimizer: Any) -> Path:
    """Write config, progress, parameters and optimiser buffers as `directory/scalar.json`, atomically."""
    addresses = [a for a, _ in named]
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "config": config.to_dict(),
        "layer_sizes": list(config.layer_sizes),
        "progress": position.to_dict(),
        "parameters": {a: p.data for a, p in named},
        "optimizer": optimizer_state(optimizer, addresses, config.optimizer),
        "rng": {"seed": config.seed, "shuffle": "random.Random(seed + epoch)"},
    }
    path = Path(directory) / CHECKPOINT_NAME
    atomic_write_text(path, json.dumps(doc, separators=(",", ":")) + "\n")
    return path


def _v1_progress(doc: dict[str, Any]) -> dict[str, Any]:
    totals = doc.get("epoch_totals") or {}
    return {"epoch": doc.get("epoch"), "step": doc.get("step"), "samples_seen": doc.get("samples_seen", 0),
            "batch_in_epoch": doc.get("batches_into_epoch", 0), "epoch_loss_sum": totals.get("loss_sum", 0.0),
            "epoch_correct": totals.get("correct", 0), "epoch_count": totals.get("count", 0),
            "best_val_loss": doc.get("best_val_loss"), "bad_epochs": doc.get("epochs_without_improvement", 0)}


def read_checkpoint(path: Path, layer_sizes: Sequence[int]) -> dict[str, Any]:
    """Read and check a checkpoint for a network of `layer_sizes`; CheckpointError says what is wrong."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CheckpointError(f"checkpoint {path} is not a text file (not UTF-8)") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint {path} cannot be read as JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a scalar-backend checkpoint (no \"format\": \"{FORMAT}\")")
    if doc.get("version") == 1:
        doc = {**doc, "progress": _v1_progress(doc)}
    elif doc.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path} has version {doc.get('version')!r}; this build reads 1 and {VERSION}")
    saved = doc.get("layer_sizes")
    if not isinstance(saved, list) or saved != list(layer_sizes):
        show = "-".join(map(str, saved)) if isinstance(saved, list) else "?"
        raise CheckpointError(
            f"checkpoint {path} holds a {show} network but this run builds {'-'.join(map(str, layer_sizes))}; "
            "resume with the checkpoint's input size and hidden layers, or start a new run")
    if not isinstance(doc.get("parameters"), dict):
        raise CheckpointError(f"checkpoint {path} has no \"parameters\" object")
    return doc


def read_position(doc: dict[str, Any], config: TrainConfig) -> Position:
    """The checked progress of a checkpoint read by read_checkpoint."""
    try:
        return Position.from_dict(doc.get("progress"), config)  # type: ignore[arg-type]
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None


def _finite_floats(values: Any, addresses: Sequence[str], what: str) -> list[float]:
    try:
        out = [values[a] for a in addresses]
    except (KeyError, TypeError):
        raise CheckpointError(f"checkpoint {what} do not match the network") from None
    for a, v in zip(addresses, out, strict=True):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise CheckpointError(f"checkpoint {what}: {a} is {v!r}, not a finite number")
    return [float(v) for v in out]


def restore(doc: dict[str, Any], named: Sequence[tuple[str, Scalar]], optimizer: Any | None,
            optimizer_name: str) -> list[str]:
    """Load parameters (and optimiser buffers when the optimiser matches); returns notes worth logging."""
    params = doc["parameters"]
    addresses = [a for a, _ in named]
    missing = [a for a in addresses if a not in params]
    if missing or len(params) != len(named):
        raise CheckpointError(f"checkpoint parameters do not match the network ({len(missing)} missing, "
                              f"{len(params)} saved, {len(named)} expected)")
    for (_, p), value in zip(named, _finite_floats(params, addresses, "parameters"), strict=True):
        p.data = value
    if optimizer is None:
        return []
    opt = doc.get("optimizer") or {}
    if not isinstance(opt, dict) or opt.get("name") != optimizer_name:
        name = opt.get("name") if isinstance(opt, dict) else None
        return [f"optimizer state not restored: the checkpoint used {name!r}, this run uses {optimizer_name!r}"]
    if "velocity" in opt and getattr(optimizer, "velocity", None) is not None:
        optimizer.velocity[:] = _finite_floats(opt["velocity"], addresses, "optimizer velocity")
    if "m" in opt and hasattr(optimizer, "m"):
        optimizer.m[:] = _finite_floats(opt["m"], addresses, "optimizer m")
        optimizer.v[:] = _finite_floats(opt.get("v"), addresses, "optimizer v")
        t = opt.get("t")
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise CheckpointError(f"checkpoint optimizer t is {t!r}, not a step count")
        optimizer.t = t
    return []
