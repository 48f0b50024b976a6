"""The dashboard's run lifecycle as a plain class: the run state machine, event folding, the probe in use.

No Textual here: the app owns one RunController, calls it from its actions and message handlers, shows the
Notes it returns, and mirrors `state` into a reactive (via `on_state`) whose watcher enables the widgets.

    idle ──start──▶ starting ──first event──▶ running ⇄ paused
                       │                        │        │
                       └──────────stop──────────┴────────┴──▶ stopping ──run ends──▶ completed, stopped,
    (any state that is not active) ──open a past run──▶ viewing             early_stopped, diverged, failed
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from core.backends.control import Command
from core.config import TrainConfig
from core.events import (
    REASONS,
    ControlApplied,
    EpochEnded,
    Evaluation,
    Event,
    LearningRateChanged,
    LogLine,
    RunFailed,
    RunFinished,
    RunStarted,
    StepEnded,
)
from core.records.fold import RunFold
from tui.compared import ComparedRuns
from tui.estimate import Estimator
from tui.history import History
from tui.runner import EventPump, UiControl

IDLE, STARTING, RUNNING, PAUSED, STOPPING, VIEWING, FAILED = (
    "idle", "starting", "running", "paused", "stopping", "viewing", "failed")
ACTIVE = (STARTING, RUNNING, PAUSED, STOPPING)  # a run goes: the form and the backend are locked
STATES = (IDLE, *ACTIVE, *REASONS, VIEWING)  # a run ends in one of core.events.REASONS ("failed" among them)


# Who sent a command (core.backends.control.SOURCES, and the run's own schedule), as a log line says it.
SOURCE_WORDS = {"key": "a key", "cli": "the command line", "signal": "a signal", "follower": "a following dashboard",
                "hangup": "the hang-up policy", "sweep": "the sweep", "serve": "the browser",
                "schedule": "the schedule"}


def whose(source: str) -> str:
    """'a key', 'the command line', ...; an older record's source as it is ('the folder')."""
    return SOURCE_WORDS.get(source, f"the {source or 'run'}")


class Refused(Exception):
    """An action the current state does not allow; the message says why and what to do instead."""


@dataclass(frozen=True)
class Note:
    """Something the user should read: a log line, and a notification too when `title` is set."""

    text: str
    level: str = "info"  # debug, info, warning, error
    source: str = ""
    title: str = ""
    log: bool = True  # False: a notification only


class RunController:
    """One dashboard's runs: what state they are in, what they reported, and how to look inside the model."""

    def __init__(self, watched: Iterable[str] = (), *, on_state: Callable[[str], None] | None = None,
                 wake: Callable[[], None] | None = None) -> None:
        self.history = History()
        self.compared = ComparedRuns()  # the runs of the last comparison (the inspector reads them)
        self.estimator = Estimator()
        self.pump = EventPump(wake or (lambda: None))
        self.on_state = on_state or (lambda state: None)
        self.state = IDLE
        self.watched: list[str] = list(dict.fromkeys(watched))
        self.config: TrainConfig | None = None  # the config in force: the running run's, else the form's
        self.run_config: TrainConfig | None = None  # of the current (or last, or viewed) run
        self.control: UiControl | None = None
        self.trainer: Any = None  # set from the training thread once the backend exists
        self.run_dir: Path | None = None  # the past run being viewed
        self.viewed_probe: Any = None  # its probe, loaded off the UI thread (load_viewed_probe)
        self.data: Any = None  # the MnistData of the run shown (its digits), set off the UI thread
        self.evaluations: list[Evaluation] = []  # every Evaluation of the run shown, oldest first
        self.stepped = False  # a StepEnded arrived: the model exists
        self._failure_noted = False

    # ---- state ------------------------------------------------------------------------------------

    @property
    def marks(self) -> RunFold:
        """The current run's fold: its learning-rate changes, commands obeyed and system samples."""
        return self.history.marks

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def _go(self, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}")
        if state != self.state:
            self.state = state
            self.on_state(state)

    # ---- what the user does ----------------------------------------------------------------------

    def start(self, config: TrainConfig) -> UiControl:
        """A new run of `config`: returns the control to hand to the training thread."""
        if self.active:
            raise Refused("A run is already going: stop it first (x).")
        self.config = self.run_config = config
        self.control = UiControl(self.watched)
        self.trainer = self.viewed_probe = self.run_dir = self.data = None
        self.evaluations = []
        self.stepped = self._failure_noted = False
        self._go(STARTING)
        return self.control

    def set_trainer(self, trainer: Any) -> None:
        """Called from the training thread once the backend exists (a plain attribute store)."""
        self.trainer = trainer

    def set_data(self, data: Any) -> None:
        """Called from the training thread once the run's digits are loaded (a plain attribute store)."""
        self.data = data

    # Every command goes the one command path, control.apply(Command, source): the run's book records it
    # (ControlApplied, or LearningRateChanged for a rate) at the step where the run obeys it.

    def toggle_pause(self, source: str = "key") -> str:
        """Pause a going run, or resume a paused one; returns the new state."""
        if self.state == STOPPING:
            raise Refused("The run is stopping.")
        if self.control is None or self.state not in (STARTING, RUNNING, PAUSED):
            raise Refused("Nothing to pause: start a run first (s).")
        if self.control.user_paused:
            self.control.apply(Command("resume"), source)
            self._go(RUNNING)
        else:
            self.control.apply(Command("pause"), source)
            self._go(PAUSED)
        return self.state

    def stop(self, source: str = "key") -> Note | None:
        """Ask the run to stop after its current step (None when it is already stopping); `source` asked."""
        if not self.active or self.control is None:
            raise Refused("No run is going.")
        if self.state == STOPPING:
            return None
        self.control.apply(Command("stop"), source)
        self._go(STOPPING)
        return Note("stop requested: the run ends after the current step")

    def set_lr(self, lr: float, source: str = "key") -> Note:
        """A new learning rate for the own run from its next step on (the run book records the change)."""
        if self.control is None or self.state not in (STARTING, RUNNING, PAUSED):
            raise Refused("No run is going: the learning rate of the next run is in the form.")
        self.control.apply(Command("lr", lr), source)
        return Note(f"learning rate {lr:g} requested: the run applies it at its next step", log=False,
                    title="Learning rate")

    def quit(self, source: str = "key") -> None:
        """Ask a training thread to stop (thread workers are not killed when the app exits)."""
        if self.control is not None:
            self.control.apply(Command("stop"), source)

    def form_changed(self, config: TrainConfig | None) -> None:
        """The form now describes `config` (None: not valid); it is the config in force unless a run goes."""
        if config is not None and not self.active:
            self.config = config

    def set_watched(self, addresses: Sequence[str]) -> None:
        """Replace the watched addresses for this run and the next ones."""
        self.watched = list(dict.fromkeys(addresses))
        if self.control is not None:
            self.control.set_watched(self.watched)

    def view(self, events: Sequence[Event], config: TrainConfig, run_dir: Path, status: str) -> Note:
        """Show a recorded run (its curves; the run shown before stays dimmed)."""
        if self.active:
            raise Refused("Stop the run before opening another one.")
        self.history.load(events)
        self.config = self.run_config = config
        self.run_dir, self.viewed_probe, self.trainer, self.control = Path(run_dir), None, None, None
        self.data, self.evaluations = None, [e for e in events if isinstance(e, Evaluation)]
        self._go(VIEWING)
        return Note(f"opened {run_dir} ({status}, {len(events):,} events)", source="runs")

    # ---- what the training thread reports ----------------------------------------------------------

    def fold(self, events: Iterable[Event] | None = None) -> list[Note]:
        """Fold events (default: whatever the pump holds) into the history; what the user should read."""
        notes: list[Note] = []
        for event in self.pump.drain() if events is None else events:
            self.history.add(event)
            if isinstance(event, RunStarted):
                notes.append(self._started(event))
            elif isinstance(event, StepEnded):
                self.stepped = True
                if self.state == STARTING:
                    self._go(RUNNING)
            elif isinstance(event, LogLine):
                notes.append(Note(event.message, event.level, event.source,
                                  "Backend error" if event.level == "error" else ""))
            elif isinstance(event, EpochEnded):
                notes.append(self._epoch(event))
            elif isinstance(event, RunFinished):
                text = f"run {event.reason.replace('_', ' ')} after {event.steps:,} steps in {event.seconds:.1f} s"
                if event.test_accuracy is not None:
                    text += f": test accuracy {event.test_accuracy:.1%}"
                notes.append(Note(text + (f" ({event.message})" if event.message else "")))
            elif isinstance(event, RunFailed):
                notes.append(self._failure(event.error))
            elif isinstance(event, Evaluation):
                self.evaluations.append(event)
            elif isinstance(event, LearningRateChanged):
                notes.append(Note(f"learning rate {event.previous:g} -> {event.lr:g} at step {event.step:,} "
                                  f"(from {whose(event.source)})", source="control"))
            elif isinstance(event, ControlApplied):
                notes.append(Note(f"{event.command} at step {event.step:,} (from {whose(event.source)})",
                                  source="control"))
        return notes

    def reload(self, events: Sequence[Event]) -> None:
        """A followed record was rewritten (a resume into its folder): these events are all of it now."""
        previous = self.history.previous
        self.history.clear()
        self.history.previous = previous
        self.history.extend(events)
        self.evaluations = [e for e in events if isinstance(e, Evaluation)]

    def ended(self, reason: str, error: str = "") -> list[Note]:
        """The training thread returned with `reason` (a RunFinished reason or 'failed')."""
        notes = self.fold()  # anything still buffered belongs before the final state
        if reason not in REASONS:
            error, reason = error or f"the run ended with an unknown reason {reason!r}", FAILED
        if reason == FAILED and not self._failure_noted:
            notes.append(self._failure(error or "the run failed"))
        self._failure_noted = False
        self._go(reason)
        if reason != FAILED:
            notes.append(Note(f"Run {reason.replace('_', ' ')}.", title="Run ended", log=False))
        return notes

    def _started(self, event: RunStarted) -> Note:
        if self.state == STARTING:
            self._go(RUNNING)
        if event.config.get("train_subset") == 0:
            self.estimator.known_train_size = event.train_size
        where = event.run_dir or "(not recorded)"
        return Note(f"run {event.run_id} started on {event.device}: {event.parameter_count:,} parameters, "
                    f"{event.train_size:,} training digits from {event.data_source}; recording to {where}")

    def _epoch(self, event: EpochEnded) -> Note:
        run = self.history.current
        if self.run_config is not None and run is not None and run.started is not None and event.samples_per_s > 0:
            kind = "cpu" if run.started.device.startswith("cpu") else "gpu"
            self.estimator.observe(run.started.backend, self.run_config, event.samples_per_s, kind)
        return Note(f"epoch {event.epoch}: train loss {event.train_loss:.4f} acc {event.train_accuracy:.1%} · "
                    f"val loss {event.val_loss:.4f} acc {event.val_accuracy:.1%} · {event.epoch_seconds:.1f} s")

    def _failure(self, error: str) -> Note:
        self._failure_noted = True
        return Note(error, "error", title="The run failed")

    # ---- looking inside the model ------------------------------------------------------------------

    def probe(self) -> Any:
        """The probe of the model shown: the run's (live or finished), or the viewed run's; None before."""
        if self.state == VIEWING:
            return self.viewed_probe
        trainer = self.trainer
        return trainer.probe() if trainer is not None else None

    def load_viewed_probe(self) -> str:
        """Load the viewed run's probe from its checkpoint (slow: call off the UI thread); '' or why not."""
        run_dir = self.run_dir
        if run_dir is None:
            return "no run is being viewed"
        try:
            from core.backends import load_probe

            probe = load_probe(run_dir)
        except Exception as exc:  # a run without a usable checkpoint still shows its curves
            return f"cannot look inside {run_dir.name}: {type(exc).__name__}: {exc}"
        if self.run_dir == run_dir:
            self.viewed_probe = probe
        return ""

    def load_viewed_data(self, data_dir: str | Path | None = None) -> str:
        """Load the viewed run's digits from its config (slow: call off the UI thread); '' or why not."""
        run_dir, config = self.run_dir, self.run_config
        if run_dir is None or config is None:
            return "no run is being viewed"
        try:
            from core.data import load_data

            data = load_data(config, data_dir, allow_download=False)
        except Exception as exc:  # the curves stay; only the digits screen has nothing to show
            return f"cannot load the digits of {run_dir.name}: {type(exc).__name__}: {exc}"
        if self.run_dir == run_dir:
            self.data = data
        return ""
