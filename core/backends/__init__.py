"""The seam between backends and front ends: the Trainer protocol, RunControl, RunSummary, a lazy registry.

Both front ends (the TUI and the headless logger) drive every backend through `Trainer.fit`. A backend
reports through `emit` (events from core.events) and polls `control` between steps; it never imports a
front end. Backends are looked up by name and imported lazily, so the scalar path never imports torch.
"""

from __future__ import annotations

import importlib
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, Sequence

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


class RunControl:
    """What flows from a front end to a running backend: stop, pause/resume, watched addresses.

    Plain threading objects; the backend polls between steps and never blocks the front end.
    """

    def __init__(self, watched: Iterable[str] = ()) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()  # set = not paused
        self._running.set()
        self._lock = threading.Lock()
        self._watched: tuple[str, ...] = tuple(dict.fromkeys(watched))
        self._lr_change: tuple[float, str] | None = None

    # stop -------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the run to stop after the current step (also releases a pause)."""
        self._stop.set()
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # pause ------------------------------------------------------------------------------------------
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, poll: float = 0.1) -> None:
        """Block while paused; return at once when running or when a stop is requested."""
        while not self._running.wait(poll):
            if self._stop.is_set():
                return

    # learning rate ----------------------------------------------------------------------------------
    def set_lr(self, lr: float, source: str = "dashboard") -> None:
        """Ask for a new learning rate from the next optimiser step on (the last request wins)."""
        with self._lock:
            self._lr_change = (float(lr), source)

    @property
    def lr_pending(self) -> bool:
        """Cheap to poll between steps: one attribute read."""
        return self._lr_change is not None

    def take_lr(self) -> tuple[float, str] | None:
        """The pending (lr, source), cleared; None when nothing is pending. The backend applies it and emits
        LearningRateChanged."""
        with self._lock:
            change, self._lr_change = self._lr_change, None
        return change

    # watched addresses ------------------------------------------------------------------------------
    @property
    def watched(self) -> tuple[str, ...]:
        """A snapshot of the watched addresses (safe to read from the training thread)."""
        return self._watched

    def set_watched(self, addresses: Iterable[str]) -> None:
        with self._lock:
            self._watched = tuple(dict.fromkeys(addresses))

    def watch(self, address: str) -> None:
        with self._lock:
            if address not in self._watched:
                self._watched = (*self._watched, address)

    def unwatch(self, address: str) -> None:
        with self._lock:
            self._watched = tuple(a for a in self._watched if a != address)


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
