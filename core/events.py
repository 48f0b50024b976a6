"""The vocabulary between a running backend and whoever watches it.

Every event is a frozen, keyword-only dataclass of numbers, strings and tuples (RunStarted also holds the
config as a plain dict). Each serialises to one JSON object with a "type" key naming its class; that JSONL
stream is the metrics file, the headless `--jsonl` output and what a past run is replayed from.
"""

from __future__ import annotations

import functools
import time
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Callable

# How a run ends, the one list (RunFinished.reason, summary.json's "reason"; "failed" is RunFailed's ending,
# "pruned" a sweep's pruner stopping a trial).
REASONS = ("completed", "early_stopped", "diverged", "stopped", "failed", "pruned")
# A run folder's status (core.records.status.run_status decides it): an ending, or killed (died without a
# summary), paused / live (its lock is held), stale (no lock to ask, quiet too long), incomplete (no events).
STATUSES = (*REASONS, "killed", "paused", "live", "stale", "incomplete")
# The endings a command line reports as success (exit 0): the run did what it was asked to.
OK_REASONS = ("completed", "early_stopped", "stopped", "pruned")


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
    threads: int = 0  # CPU threads the backend uses (0 = not reported)


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
    """Gradient statistics of one layer's weights (and how alive its units are); built by
    core.backends.gradstats.layer_grad_stats on both backends.

    histogram: counts of log10|grad| over every finite weight gradient of the layer, in the bins of
    `histogram_edges` (core.backends.gradstats.HISTOGRAM_EDGES: half decades from -10 to 2, 24 bins, each
    [lo, hi)); values below 1e-10, exact zeros included, count in the first bin, values above 1e2 in the
    last; NaN and inf count in none (they show in max_abs). So sum(histogram) = finite gradients.
    dead_fraction: the share of the layer's units whose activation was <= 0 on every training sample the
    backend observed since this layer's previous LayerGradStats (handmade engine: every sample; Lightning:
    every sample of the steps it records); 0.0 for the output layer, for tanh/sigmoid and when no sample was
    observed.
    """

    step: int
    layer: int  # 0-based layer index, as in addresses (L0 = first linear layer)
    mean: float  # mean gradient of the layer's weights
    std: float  # population standard deviation of those gradients
    max_abs: float  # largest |grad|
    histogram: tuple[int, ...] = ()  # see above
    histogram_edges: tuple[float, ...] = ()  # len(histogram) + 1 edges, log10(|grad|)
    dead_fraction: float = 0.0  # see above
    update_ratio: float = 0.0  # lr * RMS(grad) / RMS(weight) over the layer (0 when RMS(weight) = 0)


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


@dataclass(frozen=True, kw_only=True)
class Evaluation(Event):
    """A full evaluation of one split: loss, accuracy, confusion matrix, per-class figures and worst mistakes."""

    step: int
    epoch: int
    split: str  # "val" or "test"
    loss: float
    accuracy: float
    confusion: tuple[tuple[int, ...], ...] = ()  # 10x10, rows = true digit, columns = predicted digit
    precision: tuple[float, ...] = ()  # per predicted class, 0..1 (NaN when never predicted)
    recall: tuple[float, ...] = ()  # per true class, 0..1
    # (index into the split, true, predicted, confidence); most confident mistakes first, at most 200
    mistakes: tuple[tuple[int, int, int, float], ...] = ()


@dataclass(frozen=True, kw_only=True)
class LearningRateChanged(Event):
    """The learning rate changed from the next optimiser step on."""

    step: int  # steps taken when the change took effect
    lr: float
    previous: float
    source: str = ""  # "schedule", or who asked: one of core.backends.control.SOURCES ("key", "cli", ...)


@dataclass(frozen=True, kw_only=True)
class ControlApplied(Event):
    """A run obeyed a command (a learning-rate change is a LearningRateChanged); recorded by the run book only."""

    step: int  # the steps taken where the run obeyed it: where it held for a pause, where it stopped
    command: str  # "stop", "pause" or "resume"
    source: str = ""  # who asked: one of core.backends.control.SOURCES (wave 2 wrote "dashboard", "folder")


@dataclass(frozen=True, kw_only=True)
class SystemStats(Event):
    """A low-rate sample of the training process and its GPU (None where there is no GPU)."""

    cpu_percent: float  # of one core, as psutil reports it (200.0 = two cores busy)
    rss_bytes: int
    gpu_util: float | None = None  # percent
    gpu_memory_bytes: int | None = None  # used on the device
    gpu_temperature_c: float | None = None
    gpu_memory_total_bytes: int | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        RunStarted, StepEnded, EpochEnded, ScalarWatch, LayerGradStats, LogLine, RunFinished, RunFailed,
        Evaluation, LearningRateChanged, ControlApplied, SystemStats,
    )
}


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


def to_dict(event: Event) -> dict[str, Any]:
    """{"type": "StepEnded", "run_id": ..., ...}; tuples (nested too) become lists."""
    out: dict[str, Any] = {"type": type(event).__name__}
    for f in fields(event):
        out[f.name] = _plain(getattr(event, f.name))
    return out


def _converter(hint: Any) -> Callable[[Any], Any] | None:
    """How to turn the JSON list of a tuple-typed field back into (nested) tuples; None if not a tuple."""
    if typing.get_origin(hint) is not tuple:
        return None
    args = typing.get_args(hint)
    elements = args[:1] if len(args) == 2 and args[1] is Ellipsis else args
    inner = [_converter(a) for a in elements]
    if not any(inner):
        return tuple
    convert = next(c for c in inner if c is not None)
    return lambda value: tuple(convert(v) if isinstance(v, list) else v for v in value)


@dataclass(frozen=True)
class _Spec:
    """What from_dict needs of an event class, worked out once per class (get_type_hints is slow)."""

    names: frozenset[str]  # field names plus "type"
    required: frozenset[str]
    defaults: dict[str, Any]
    factories: tuple[tuple[str, Callable[[], Any]], ...]
    converters: tuple[tuple[str, Callable[[Any], Any]], ...]
    types: tuple[tuple[str, tuple[type, ...]], ...]  # what each field may hold once loaded
    well_typed: Callable[[dict], bool]  # all of `types` checked in one expression
    plain_init: bool  # no __post_init__: the instance dict may be filled directly


def _runtime_types(hint: Any) -> tuple[type, ...]:
    """The types a loaded field may hold (a float field takes an int: JSON may write 1.0 as 1)."""
    if typing.get_origin(hint) is tuple:
        return (tuple,)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(t for arg in typing.get_args(hint) for t in _runtime_types(arg))
    if hint is float:
        return (float, int)
    return (hint,) if isinstance(hint, type) else (object,)


def _type_check(types: tuple[tuple[str, tuple[type, ...]], ...]) -> Callable[[dict], bool]:
    """One generated `isinstance(...) and ...` expression: a loop over fields cost most of loading a record."""
    namespace: dict[str, Any] = {}
    terms = []
    for i, (key, allowed) in enumerate(types):
        namespace[f"t{i}"] = allowed
        terms.append(f"isinstance(v[{key!r}], t{i})")  # field names come from our classes, never from input
    return eval("lambda v: " + (" and ".join(terms) or "True"), namespace)  # noqa: S307


@functools.cache
def _spec(cls: type[Event]) -> _Spec:
    hints = typing.get_type_hints(cls)
    fs = fields(cls)
    checked = tuple((f.name, _runtime_types(hints[f.name])) for f in fs)
    return _Spec(
        names=frozenset(f.name for f in fs) | {"type"},
        required=frozenset(f.name for f in fs if f.default is MISSING and f.default_factory is MISSING),
        defaults={f.name: f.default for f in fs if f.default is not MISSING},
        factories=tuple((f.name, f.default_factory) for f in fs if f.default_factory is not MISSING),
        converters=tuple((f.name, c) for f in fs if (c := _converter(hints[f.name])) is not None),
        types=checked,
        well_typed=_type_check(checked),
        plain_init=not hasattr(cls, "__post_init__"),
    )


def from_dict(data: dict[str, Any]) -> Event:
    """Inverse of to_dict (nested tuples restored); unknown types, unknown or missing fields raise ValueError."""
    return build_event(data, owned=False)


def build_event(data: Any, *, owned: bool) -> Event:
    """from_dict; with owned=True the dict is the caller's to give away (the readers' fresh ones)."""
    if not isinstance(data, dict):
        raise ValueError(f"an event is a JSON object, not {type(data).__name__}")
    name = data.get("type")
    cls = EVENT_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown event type {name!r}")
    spec = _spec(cls)
    keys = data.keys()
    if keys == spec.names:  # every field present: the usual line
        values = data if owned else dict(data)
    else:
        if not keys <= spec.names:
            raise ValueError(f"{name}: unknown fields {sorted(keys - spec.names)}")
        if not spec.required <= keys:
            raise ValueError(f"{name}: missing fields {sorted(spec.required - keys)}")
        values = {**spec.defaults, **data}
        for key, factory in spec.factories:
            if key not in values:
                values[key] = factory()
    del values["type"]
    for key, convert in spec.converters:
        value = values[key]
        if isinstance(value, list):
            values[key] = convert(value)
    # Type-checked here, once, so a damaged line is skipped rather than crashing a plot later.
    if not spec.well_typed(values):
        key, allowed = next((k, t) for k, t in spec.types if not isinstance(values[k], t))
        raise ValueError(f"{name}.{key}: {type(values[key]).__name__} is not {allowed[0].__name__}")
    if not spec.plain_init:
        return cls(**values)
    # The frozen __init__ costs a setattr call per field; filling the fresh instance dict gives the same
    # object (every field set, nothing else) in a fraction of the time, which is most of opening a long
    # record. update() (not assigning __dict__) keeps the class's key-sharing dict: half the memory.
    event = object.__new__(cls)
    event.__dict__.update(values)
    return event
