"""The vocabulary between a running backend and whoever watches it.

Every event is a frozen, keyword-only dataclass of numbers, strings and tuples (RunStarted also holds the
config as a plain dict). Each serialises to one JSON object with a "type" key naming its class; that JSONL
stream is the metrics file, the headless `--jsonl` output and what a past run is replayed from.
"""

from __future__ import annotations

import json
import time
import typing
from dataclasses import dataclass, field, fields
from typing import Any

# Why a run ended (RunFinished.reason).
REASONS = ("completed", "stopped", "early_stopped", "diverged")


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of all events: which run, and when (Unix seconds)."""

    run_id: str
    time: float = field(default_factory=time.time)


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """A run began: what trains, where, on which data."""

    backend: str
    device: str  # "cpu", or the GPU's name, e.g. "NVIDIA H200"
    data_source: str  # "embedded MNIST sample (10,000 train / 2,000 test)" or a directory
    config: dict  # TrainConfig.to_dict()
    train_size: int
    val_size: int
    test_size: int
    total_steps: int = 0  # optimiser steps the run will take if it completes
    parameter_count: int = 0
    run_dir: str = ""  # where the record lives, "" when not recorded
    resumed_from_step: int = 0  # > 0 when this run continues a checkpoint


@dataclass(frozen=True, kw_only=True)
class StepEnded(Event):
    """Progress after an optimiser step, emitted at a bounded rate (not every step)."""

    step: int  # optimiser steps taken so far in the run (1-based)
    epoch: int  # 1-based epoch the step belongs to
    loss: float  # mean training loss over the samples since the previous StepEnded
    accuracy: float  # running training accuracy over the epoch so far, 0..1
    samples_per_s: float
    samples_seen: int  # training samples consumed so far in the run
    progress: float  # fraction of the whole run done, 0..1
    total_steps: int = 0


@dataclass(frozen=True, kw_only=True)
class EpochEnded(Event):
    """An epoch finished and the validation split was evaluated."""

    epoch: int  # 1-based
    step: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    epoch_seconds: float  # wall time of this epoch's training steps alone (no validation)
    samples_per_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ScalarWatch(Event):
    """The value and gradient of one watched scalar after the backward pass of a step."""

    step: int
    address: str  # e.g. "L0.N12.w345", "L1.N3.b", "L0.N12.z", "loss"
    data: float
    grad: float


@dataclass(frozen=True, kw_only=True)
class LayerGradStats(Event):
    """Gradient statistics of one layer's weights (and how alive its units are)."""

    step: int
    layer: int  # 0-based layer index, as in addresses (L0 = first linear layer)
    mean: float  # mean gradient of the layer's weights
    std: float
    max_abs: float  # largest |grad|
    histogram: tuple[int, ...] = ()  # counts of |grad| in log10 bins given by histogram_edges
    histogram_edges: tuple[float, ...] = ()  # len(histogram) + 1 edges, log10(|grad|)
    dead_fraction: float = 0.0  # fraction of the layer's ReLU units that were 0 on every recent sample
    update_ratio: float = 0.0  # |lr * grad| / |weight| (RMS over the layer): ~1e-3 is healthy


@dataclass(frozen=True, kw_only=True)
class LogLine(Event):
    """A human-readable message from a backend or from a library it drives."""

    level: str  # "debug", "info", "warning" or "error"
    message: str
    source: str = ""  # e.g. "scalar", "lightning", "data"


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    """A run ended without an error (RunFailed covers errors)."""

    reason: str  # one of REASONS
    steps: int
    epochs_completed: int
    seconds: float
    test_loss: float | None = None  # None when the run stopped before testing
    test_accuracy: float | None = None
    best_val_loss: float | None = None
    message: str = ""  # e.g. the hint after divergence


@dataclass(frozen=True, kw_only=True)
class RunFailed(Event):
    """A run ended with an error."""

    error: str  # one line a user can act on
    error_type: str = ""
    traceback: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (RunStarted, StepEnded, EpochEnded, ScalarWatch, LayerGradStats, LogLine, RunFinished, RunFailed)
}


def to_dict(event: Event) -> dict[str, Any]:
    """{"type": "StepEnded", "run_id": ..., ...}."""
    out: dict[str, Any] = {"type": type(event).__name__}
    for f in fields(event):
        value = getattr(event, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def to_json(event: Event) -> str:
    """One line of JSON (NaN and Infinity kept as Python's json writes them)."""
    return json.dumps(to_dict(event), separators=(",", ":"))


def from_dict(data: dict[str, Any]) -> Event:
    """Inverse of to_dict; unknown types and fields raise ValueError."""
    data = dict(data)
    name = data.pop("type", None)
    cls = EVENT_TYPES.get(name)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown event type {name!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    extra = set(data) - known
    if extra:
        raise ValueError(f"{name}: unknown fields {sorted(extra)}")
    for key, value in data.items():
        if isinstance(value, list) and typing.get_origin(hints[key]) is tuple:
            data[key] = tuple(value)
    return cls(**data)


def from_json(line: str) -> Event:
    return from_dict(json.loads(line))


def read_jsonl(path) -> list[Event]:
    """Every event in a JSONL file; a torn last line (a crash mid-write) is skipped."""
    events: list[Event] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                events.append(from_json(line))
            except (ValueError, TypeError):
                continue
    return events
