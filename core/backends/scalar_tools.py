"""Helpers of the scalar backend kept off its hot path: float evaluation, layer statistics, checkpoints.

Checkpoint format (JSON, never pickle), written atomically to `<checkpoint_dir>/scalar.json`:

    {
      "format": "mnist-dash-scalar-checkpoint", "version": 1,
      "config": {...TrainConfig.to_dict()...},
      "layer_sizes": [196, 64, 32, 10],
      "epoch": 2,                  # epochs completed
      "step": 500,                 # optimiser steps taken in the whole run
      "samples_seen": 4000,
      "batches_into_epoch": 0,     # > 0 when saved mid-epoch (on stop): steps already done in epoch + 1
      "epoch_totals": {"loss_sum": 0.0, "correct": 0, "count": 0},   # that partial epoch's running sums
      "best_val_loss": 0.41, "epochs_without_improvement": 0,
      "parameters": {"L0.N0.w0": 0.013, ..., "L2.N9.b": -0.02},
      "optimizer": {"name": "sgd" | "momentum" | "adam", "lr": 0.05,
                    "velocity": {address: float}          # momentum only
                    "m": {address: float}, "v": {address: float}, "t": 500},   # adam only
      "rng": {"seed": 0, "shuffle": "random.Random(seed + epoch)"}
    }

Floats are written with repr, so parameters round-trip exactly. Initialisation randomness is replaced by the
saved parameters and each epoch's shuffle is derived from the seed, so no generator state needs saving.
"""

from __future__ import annotations

import json
import math
from operator import itemgetter, mul
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from core.engine import ReLU, Scalar, Sigmoid
from core.runs import atomic_write_text

FORMAT = "mnist-dash-scalar-checkpoint"
VERSION = 1
CHECKPOINT_NAME = "scalar.json"
# log10 |grad| bin edges: twelve decades from 1e-10 to 1e2; values outside go to the end bins.
HIST_EDGES = tuple(float(e) for e in range(-10, 3))


# ---------------------------------------------------------------- evaluation


def _activation(name: str) -> Callable[[float], float]:
    # The engine's own forward functions, so the float path gives bit-identical numbers.
    return {"relu": ReLU.forward, "tanh": math.tanh, "sigmoid": Sigmoid.forward}[name]


def evaluate(model: Any, images: np.ndarray, labels: np.ndarray, loss_fn: Callable) -> tuple[float, float]:
    """Mean loss and accuracy of `model` on a split, by a plain float forward pass (no graph, no backward).

    It repeats the engine's arithmetic in the same order (constant zero pixels skipped, the engine's
    activation functions, the loss built from engine ops on the outputs), so the numbers equal
    `loss_fn(model(x), label).data` exactly.
    """
    n = len(labels)
    if n == 0:
        return float("nan"), 0.0
    layers = []
    for i, layer in enumerate(model.layers):
        ws = [[w.data for w in nrn.w] for nrn in layer.neurons]
        bs = [nrn.b.data for nrn in layer.neurons]
        act = _activation(model.activation) if i < len(model.layers) - 1 else None
        layers.append((ws, bs, act))
    (w0, b0, act0), rest = layers[0], layers[1:]
    loss_sum, correct = 0.0, 0
    for row, label in zip(images, labels.tolist(), strict=False):
        nz = np.flatnonzero(row).tolist()
        x = row.tolist()
        if len(nz) > 1:
            pick = itemgetter(*nz)
        elif nz:
            k = nz[0]

            def pick(v: Sequence[float], k: int = k) -> tuple[float, ...]:
                return (v[k],)
        else:

            def pick(v: Sequence[float]) -> tuple[float, ...]:
                return ()
        xs = pick(x)
        h = [b + sum(map(mul, pick(w), xs)) for w, b in zip(w0, b0, strict=False)]
        if act0 is not None:
            h = [act0(z) for z in h]
        for ws, bs, act in rest:
            h = [b + sum(map(mul, w, h)) for w, b in zip(ws, bs, strict=False)]
            if act is not None:
                h = [act(z) for z in h]
        try:
            loss = loss_fn([Scalar(v) for v in h], label).data
        except (OverflowError, ValueError):
            loss = float("inf")
        loss_sum += loss
        correct += max(range(len(h)), key=h.__getitem__) == label
    return loss_sum / n, correct / n


# ---------------------------------------------------------------- layer statistics


def grad_stats(weights: Sequence[Scalar], lr: float) -> dict[str, Any]:
    """Mean, std, max |grad|, a log10 |grad| histogram of the nonzero gradients, and RMS(lr*grad)/RMS(w)."""
    with np.errstate(all="ignore"):  # a diverging run has inf/NaN grads; report them, don't warn
        return _grad_stats(weights, lr)


def _grad_stats(weights: Sequence[Scalar], lr: float) -> dict[str, Any]:
    n = len(weights)
    g = np.fromiter((w.grad for w in weights), float, n)
    d = np.fromiter((w.data for w in weights), float, n)
    a = np.abs(g)
    nz = a[(a > 0) & np.isfinite(a)]
    logs = np.clip(np.log10(nz), HIST_EDGES[0], HIST_EDGES[-1])
    hist, _ = np.histogram(logs, bins=HIST_EDGES)
    rms_w = float(np.sqrt(np.mean(d * d))) if n else 0.0
    rms_g = float(np.sqrt(np.mean(g * g))) if n else 0.0
    return {
        "mean": float(g.mean()) if n else 0.0,
        "std": float(g.std()) if n else 0.0,
        "max_abs": float(a.max()) if n else 0.0,
        "histogram": tuple(int(c) for c in hist),
        "histogram_edges": HIST_EDGES,
        "update_ratio": lr * rms_g / rms_w if rms_w > 0 else 0.0,
    }


# ---------------------------------------------------------------- checkpoints


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


def save_checkpoint(directory: Path, state: dict[str, Any], named: Sequence[tuple[str, Scalar]],
                    optimizer: Any, optimizer_name: str) -> Path:
    """Write `state` plus parameters and optimiser buffers as `directory/scalar.json`, atomically."""
    addresses = [a for a, _ in named]
    doc = {
        "format": FORMAT,
        "version": VERSION,
        **state,
        "parameters": {a: p.data for a, p in named},
        "optimizer": optimizer_state(optimizer, addresses, optimizer_name),
        "rng": {"seed": state["config"]["seed"], "shuffle": "random.Random(seed + epoch)"},
    }
    path = Path(directory) / CHECKPOINT_NAME
    atomic_write_text(path, json.dumps(doc, separators=(",", ":")) + "\n")
    return path


def read_checkpoint(path: Path, layer_sizes: Sequence[int]) -> dict[str, Any]:
    """Read and check a checkpoint for a network of `layer_sizes`; CheckpointError says what is wrong."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a scalar-backend checkpoint (no \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path} has version {doc.get('version')!r}; this build reads {VERSION}")
    saved = list(doc.get("layer_sizes") or [])
    if saved != list(layer_sizes):
        show = "-".join(map(str, saved)) or "?"
        raise CheckpointError(
            f"checkpoint {path} holds a {show} network but this run builds {'-'.join(map(str, layer_sizes))}; "
            "resume with the checkpoint's --input-size and --hidden, or start a new run")
    if not isinstance(doc.get("parameters"), dict):
        raise CheckpointError(f"checkpoint {path} has no \"parameters\" object")
    return doc


def restore(doc: dict[str, Any], named: Sequence[tuple[str, Scalar]], optimizer: Any,
            optimizer_name: str) -> list[str]:
    """Load parameters (and optimiser buffers when the optimiser matches); returns notes worth logging."""
    params = doc["parameters"]
    missing = [a for a, _ in named if a not in params]
    if missing or len(params) != len(named):
        raise CheckpointError(f"checkpoint parameters do not match the network ({len(missing)} missing, "
                              f"{len(params)} saved, {len(named)} expected)")
    for address, p in named:
        p.data = float(params[address])
    notes: list[str] = []
    opt = doc.get("optimizer") or {}
    addresses = [a for a, _ in named]
    if opt.get("name") != optimizer_name:
        notes.append(f"optimizer state not restored: the checkpoint used {opt.get('name')!r}, "
                     f"this run uses {optimizer_name!r}")
        return notes
    try:
        if "velocity" in opt and getattr(optimizer, "velocity", None) is not None:
            optimizer.velocity[:] = [float(opt["velocity"][a]) for a in addresses]
        if "m" in opt and hasattr(optimizer, "m"):
            optimizer.m[:] = [float(opt["m"][a]) for a in addresses]
            optimizer.v[:] = [float(opt["v"][a]) for a in addresses]
            optimizer.t = int(opt["t"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint optimizer state is incomplete ({exc})") from None
    return notes
