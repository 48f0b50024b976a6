"""The body of the training thread, and an event pump that batches events into few UI messages.

Model code never sees Textual: it gets a plain `emit` and a RunControl. Events are buffered and the UI is
woken at most once per drain, so a fast backend (Lightning on a GPU, many watched scalars) cannot flood
the message queue.
"""

from __future__ import annotations

import gc
import threading
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from core.backends import RunControl, Trainer, get_trainer
from core.config import TrainConfig
from core.events import Event

if TYPE_CHECKING:  # numpy: the dashboard's first frame must not wait for it (a run loads its data in a thread)
    from core.data import MnistData

TrainerFactory = Callable[[str], Trainer]
UI_YIELD_MAX_S = 0.25  # a UI that forgets to say it is idle again cannot stall training for longer


class UiControl(RunControl):
    """A RunControl through which the UI makes the trainer step aside while it handles a key press.

    The handmade engine holds the GIL; the UI thread then gets about half of it and a key press takes
    twice as long to show. Backends poll `paused` between samples/batches: while the UI is busy it reads
    True for a moment and `wait_while_paused` blocks until the frame is drawn, so the UI runs alone.
    """

    def __init__(self, watched=()) -> None:
        super().__init__(watched)
        self._ui_idle = threading.Event()
        self._ui_idle.set()
        self._busy_since = 0.0
        self.live: Any = None  # the run folder's LiveRun once the run records (the hang-up policy notes through it)
        self.ended = threading.Event()  # set once `train` returned: the run is over and its record closed

    def ui_busy(self) -> None:
        """The UI has work that should not share the GIL (a key press, a plot rebuild)."""
        self._busy_since = time.monotonic()
        self._ui_idle.clear()
        self.step_aside_wanted = True

    def ui_idle(self) -> None:
        self.step_aside_wanted = False
        self._ui_idle.set()

    def step_aside(self) -> float:
        """Between samples: wait until the UI is idle again (at most what is left of UI_YIELD_MAX_S)."""
        if not self._yielding():
            return 0.0
        started = time.perf_counter()
        self._ui_idle.wait(max(0.0, UI_YIELD_MAX_S - (time.monotonic() - self._busy_since)))
        return time.perf_counter() - started

    def _yielding(self) -> bool:
        return not self._ui_idle.is_set() and time.monotonic() - self._busy_since < UI_YIELD_MAX_S

    @property
    def paused(self) -> bool:
        return super().paused or self._yielding()

    @property
    def user_paused(self) -> bool:
        """Paused by the user (not merely yielding to the UI)."""
        return RunControl.paused.fget(self)  # type: ignore[attr-defined]

    def wait_while_paused(self, poll: float = 0.1) -> None:
        self.step_aside()  # the UI's moment first, then a user's pause
        super().wait_while_paused(poll)


class GcFreeze:
    """While a run goes: what is alive once the model exists is exempt from the cyclic GC, and full collections
    happen when the UI says so, not when the interpreter's counters say.

    A full collection holds the GIL for as long as it walks every tracked object. Freezing took the handmade
    model's Scalars out of that walk (wave 2); what stayed was Textual's own churn (strips and their caches,
    messages, coroutines: ~100k objects), collected in full every ~1.7 s for ~50 ms, which was the tail of the key
    latency (bench/tui_latency.py, with gc.callbacks timed). So during a run the third generation's threshold is
    out of reach and `collect_if_due` runs a full collection every FULL_COLLECT_EVERY_S, called by the UI when no
    key is being handled; the young generations are collected as usual. Headless runs are untouched. The
    collections cannot simply be fewer: Textual's strips cache themselves (a cycle each), ~2-8k objects a second
    that only a full collection frees (deferred for 72 s, one took 404 ms for 486k objects).
    """

    FULL_COLLECT_EVERY_S = 2.0  # about the interpreter's own rhythm here: the same work, at better moments
    NEVER = 1 << 30  # a third-generation threshold (counts of second-generation collections) never reached

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.frozen = False
        self.clock = clock
        self.thresholds: tuple[int, int, int] | None = None
        self.last_full = 0.0

    def freeze(self) -> None:
        if not self.frozen:
            self.frozen = True
            gc.collect()
            gc.freeze()
            self.thresholds = gc.get_threshold()
            young, middle, _ = self.thresholds
            gc.set_threshold(young, middle, self.NEVER)
            self.last_full = self.clock()

    def collect_if_due(self) -> bool:
        """A full collection if one is due during a run; True if it ran."""
        if not self.frozen or self.clock() - self.last_full < self.FULL_COLLECT_EVERY_S:
            return False
        gc.collect()
        self.last_full = self.clock()
        return True

    def thaw(self) -> None:
        if self.frozen:
            self.frozen = False
            gc.unfreeze()
            if self.thresholds is not None:
                gc.set_threshold(*self.thresholds)


class EventPump:
    """Thread-safe buffer: `emit` from the trainer, `drain` on the UI thread after `wake` fired."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._lock = threading.Lock()
        self._buffer: list[Event] = []
        self._pending = False

    def emit(self, event: Event) -> None:
        with self._lock:
            self._buffer.append(event)
            if self._pending:
                return
            self._pending = True
        self._wake()

    def drain(self) -> list[Event]:
        with self._lock:
            out, self._buffer = self._buffer, []
            self._pending = False
        return out


def train(
    config: TrainConfig,
    control: RunControl,
    emit: Callable[[Event], None],
    *,
    announce: Callable[[str], None],
    on_trainer: Callable[[Trainer], None],
    data_dir: str | Path | None = None,
    runs_dir: str | Path = "runs",
    trainer_factory: TrainerFactory | None = None,
    on_data: Callable[[MnistData], None] | None = None,
) -> tuple[str, str]:
    """Run one recorded run to its end (in a worker thread); returns (reason, message). Never raises."""
    try:
        if config.backend == "lightning":
            from core.backends.lightning import ensure_single_device

            ensure_single_device(config)
        trainer = trainer_factory(config.backend) if trainer_factory else get_trainer(config.backend)
        on_trainer(trainer)
        from core.session import run_training

        data = load_run_data(config, data_dir, announce)
        if data is not None and on_data is not None:
            on_data(data)
        summary = run_training(config, emit, control, data_dir=data_dir, runs_dir=runs_dir, trainer=trainer,
                               announce=announce, data=data, on_live=partial(setattr, control, "live"))
        return summary.reason, summary.message
    except BaseException as exc:  # the UI must survive anything the backend or its imports throw
        return "failed", f"{type(exc).__name__}: {exc}"
    finally:
        if isinstance(control, UiControl):
            control.ended.set()


def load_run_data(config: TrainConfig, data_dir: str | Path | None,
                  announce: Callable[[str], None]) -> MnistData | None:
    """The run's digits, loaded before the run so the dashboard can show them; None: let the run report why."""
    from core.data import DataError, load_data

    try:
        return load_data(config, data_dir, announce=announce)
    except DataError:  # run_training loads again and records the failure in the run's folder
        return None


def describe(backend: str, device: str) -> str:
    """The device a backend would use, e.g. 'cpu' or 'NVIDIA H200' (imports torch for Lightning)."""
    if backend == "scalar":
        return "cpu"
    try:
        from core.backends.lightning import describe_device

        return describe_device(device)
    except Exception as exc:  # a missing GPU or torch is information, not a crash
        return f"unavailable ({exc})"
