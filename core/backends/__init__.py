"""The seam between backends and front ends: the Trainer protocol, RunControl, RunSummary, a lazy registry.

Both front ends (the TUI and the headless logger) drive every backend through `Trainer.fit`. A backend
reports through `emit` (events from core.events) and polls `control` (core.backends.control: the one command
path) between steps; it never imports a front end. Backends are looked up by name and imported lazily, so the
scalar path never imports torch.
"""

from __future__ import annotations

import importlib
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

from core.backends.control import Command, RunControl

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.data import MnistData
    from core.events import Event

Emit = Callable[["Event"], None]

# name -> "module:Class"; imported only when asked for.
BACKENDS: dict[str, str] = {
    "scalar": "core.backends.scalar:ScalarTrainer",
    "lightning": "core.backends.lightning:LightningTrainer",
}
__all__ = ["BACKENDS", "Command", "Emit", "Probe", "RunControl", "RunSummary", "Trainer", "get_trainer",
           "load_probe", "new_run_id"]


@dataclass(frozen=True)
class RunSummary:
    """What `fit` returns; the same facts as the final RunFinished (or RunFailed) event."""

    run_id: str
    reason: str  # completed | stopped | early_stopped | diverged | failed
    steps: int
    epochs_completed: int
    seconds: float
    test_loss: float | None = None
    test_accuracy: float | None = None
    best_val_loss: float | None = None
    message: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class Probe(Protocol):
    """A read-only look inside a model, safe from any thread: every answer comes from one consistent snapshot
    the training thread published between optimiser steps (after backward, before the update)."""

    backend: str
    layer_sizes: tuple[int, ...]  # (inputs, hidden..., 10)
    input_side: int  # 28, 14 or 7
    graph_nodes: bool  # True on the handmade engine (z, a, loss addresses)

    def step(self) -> int: ...  # the optimiser step the snapshot belongs to
    def value(self, address: str) -> tuple[float, float]: ...  # (data, grad)
    def values(self, addresses: Sequence[str]) -> dict[str, tuple[float, float]]: ...
    def incoming(self, layer: int, neuron: int) -> tuple[list[float], list[float]]: ...  # weights, grads
    def layer_weights(self, layer: int) -> tuple[list[list[float]], list[float]]: ...  # W rows, b
    def predict(self, images: Sequence[Sequence[float]]) -> list[list[float]]: ...  # softmax rows
    def input_gradient(self, image: Sequence[float], *, target: int | None = None,
                       label: int | None = None) -> tuple[list[float], list[float]]: ...  # (probs, d/d pixel)
    def grad_check(self, address: str) -> Any: ...  # core.gradcheck.GradCheck
    def graph(self) -> Any: ...  # core.backends.scalar.graph.GraphView on the handmade engine, else None


class Trainer(Protocol):
    """A backend. `fit` runs one training run to its end and reports through `emit`.

    Keyword extras every backend accepts: `run_id` (else one is made), `checkpoint_dir` (where to save
    checkpoints; None = none), `resume_from` (a checkpoint file written by the same backend).
    """

    name: str

    def fit(
        self,
        config: TrainConfig,
        data: MnistData,
        emit: Emit,
        control: RunControl,
        *,
        run_id: str | None = None,
        checkpoint_dir: Path | None = None,
        resume_from: Path | None = None,
    ) -> RunSummary: ...

    def probe(self) -> Probe | None:
        """A Probe of the current (or last) run's model; None before a model exists."""
        ...


def new_run_id(backend: str = "run") -> str:
    """Sortable and unique: 20261128-215300-scalar-1a2b3c."""
    import time

    return time.strftime("%Y%m%d-%H%M%S") + f"-{backend}-{uuid.uuid4().hex[:6]}"


def get_trainer(name: str) -> Trainer:
    """Instantiate the backend called `name`, importing its module only now."""
    try:
        target = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)()


def load_probe(run_dir: str | Path) -> Probe:
    """A Probe over a recorded run's latest checkpoint, from the backend that wrote it; ValueError if none."""
    from core.records.runs import open_run

    record = open_run(run_dir)
    checkpoint = record.latest_checkpoint()
    if checkpoint is None:
        raise ValueError(f"{run_dir}: the run has no checkpoint to look inside")
    module_name = BACKENDS[record.config.backend].split(":")[0]
    return importlib.import_module(module_name).probe_from_checkpoint(checkpoint, record.config)
