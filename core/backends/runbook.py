"""The one set of books both backends keep: position in the run, the patience rule, stop reasons, final events,
the learning rate (the schedule and requested changes) and the record of every command the run obeyed.

A backend records each optimiser step (`RunBook.record_step`), asks `next_lr` right before each update (past its
stop checks), `settle` where it obeys a pause and `stop` where it stops, `end_epoch` after each validation and
`check_train_loss` whenever it reads a training loss, and builds its last event and `RunSummary` with
`finished` or `failed`. `Position.to_dict()` is the `"progress"` part of both checkpoint formats.

The schedule is a function of the epoch: the rate of epoch e is `scheduled_rate(lr, lr_epoch, e, drops)`, where
(lr, lr_epoch) is the position's anchor, the rate of epoch lr_epoch with every drop up to it applied. A live
change moves the anchor; the anchor is saved in every checkpoint, so a resume from any point of an epoch (after
SIGKILL too) trains each later epoch at the rate the schedule and the changes before the checkpoint give.
"""

from __future__ import annotations

import math
import time
import traceback as tb
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from core.backends import RunSummary
from core.events import REASONS, ControlApplied, LearningRateChanged, LogLine, RunFailed, RunFinished

if TYPE_CHECKING:
    from core.backends.control import RunControl
    from core.config import TrainConfig
    from core.events import Event

# Why a run ended: core.events.REASONS. "failed" is RunFailed's, never RunFinished's.
# What a user can do about each ending (front ends may show it under the message); words, never CLI flags.
HINTS: dict[str, str] = {
    "completed": "",
    "stopped": "resume the run from its record to continue from this step",
    "early_stopped": "raise the patience (0 turns early stopping off) to train longer",
    "diverged": "lower the learning rate",
    "pruned": "",
}
SCALED_INIT_HINT = " or use scaled initialisation"
LR_DROP = 0.1  # the step schedule's factor (TrainConfig.lr_drop_epochs)

_INTS = ("epoch", "step", "samples_seen", "batch_in_epoch", "epoch_correct", "epoch_count", "bad_epochs")
_OPTIONAL = ("best_val_loss", "lr", "lr_epoch")  # checkpoints written before the rate anchor lack the last two


def scheduled_rate(lr: float, since: int, epoch: int, drops: Sequence[int]) -> float:
    """The rate epoch `epoch` trains with when `lr` was the rate of epoch `since` (its drops already in it)."""
    for d in drops:
        if since < d <= epoch:
            lr *= LR_DROP
    return lr


@dataclass
class Position:
    """Where a run stands; the shared checkpoint "progress" schema (same names on both backends)."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimiser steps taken in the whole run
    samples_seen: int = 0  # training samples consumed in the whole run
    batch_in_epoch: int = 0  # steps already done in epoch `epoch + 1` (> 0 only when saved mid-epoch)
    epoch_loss_sum: float = 0.0  # that partial epoch's summed per-sample training loss ...
    epoch_correct: int = 0  # ... correct predictions ...
    epoch_count: int = 0  # ... and samples
    best_val_loss: float | None = None  # lowest finite validation loss so far
    bad_epochs: int = 0  # epochs since best_val_loss last improved
    lr: float | None = None  # the rate anchor: the rate of epoch `lr_epoch` (None: config.lr, set by RunBook)
    lr_epoch: int = 0  # ... with every scheduled drop up to that epoch applied

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict with the field names above."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], config: TrainConfig) -> Position:
        """Read and check a saved position; ValueError says what is wrong (NaN, negative, epoch 99 of 1)."""
        if not isinstance(d, Mapping):
            raise ValueError(f"checkpoint progress must be an object, not {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        extra = sorted(set(d) - known)
        if extra:
            raise ValueError(f"checkpoint progress has unknown fields: {', '.join(map(str, extra))}")
        missing = sorted(known - set(d) - set(_OPTIONAL))
        if missing:
            raise ValueError(f"checkpoint progress lacks {', '.join(missing)}")
        values: dict[str, Any] = {}
        for name in _INTS:
            v = d[name]
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"checkpoint progress: {name} must be a whole number, not {v!r}")
            if v < 0:
                raise ValueError(f"checkpoint progress: {name} is {v}; a counter cannot be negative")
            values[name] = v
        lr_epoch = d.get("lr_epoch", 0)
        if isinstance(lr_epoch, bool) or not isinstance(lr_epoch, int) or lr_epoch < 0:
            raise ValueError(f"checkpoint progress: lr_epoch must be a whole number, not {lr_epoch!r}")
        values["lr_epoch"] = lr_epoch
        lr = d.get("lr")
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr)
                               or lr <= 0):
            raise ValueError(f"checkpoint progress: lr must be a positive number, not {lr!r}")
        values["lr"] = None if lr is None else float(lr)
        for name in ("epoch_loss_sum", "best_val_loss"):
            v = d.get(name)
            if v is None and name == "best_val_loss":
                values[name] = None
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"checkpoint progress: {name} must be a finite number, not {v!r}")
            values[name] = float(v)
        p = cls(**values)
        if p.epoch > config.epochs:
            raise ValueError(f"checkpoint progress: epoch {p.epoch} of {config.epochs}; the checkpoint is past "
                             "the end of this run (resume with at least as many epochs as it trained)")
        if p.epoch == config.epochs and p.batch_in_epoch:
            raise ValueError(f"checkpoint progress: {p.batch_in_epoch} steps into epoch {p.epoch + 1} of "
                             f"{config.epochs}")
        if p.epoch_correct > p.epoch_count or p.epoch_count > p.samples_seen or p.batch_in_epoch > p.step:
            raise ValueError("checkpoint progress: impossible counters (correct > count, count > samples_seen "
                             "or batch_in_epoch > step)")
        if p.epoch_loss_sum < 0:
            raise ValueError(f"checkpoint progress: epoch_loss_sum is {p.epoch_loss_sum}; a loss sum cannot be "
                             "negative")
        return p


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def run_failed(run_id: str, error: BaseException | str, *, kind: str = "", steps: int = 0,
               epochs_completed: int = 0, seconds: float = 0.0) -> tuple[RunFailed, RunSummary]:
    """The one RunFailed format: `error` is one line (the exception's message), `error_type` its class name."""
    if isinstance(error, BaseException):
        message = _first_line(str(error)) or type(error).__name__
        kind = kind or type(error).__name__
        trace = "".join(tb.format_exception(type(error), error, error.__traceback__)) if error.__traceback__ else ""
    else:
        message, trace = _first_line(error) or "the run failed", ""
    event = RunFailed(run_id=run_id, error=message, error_type=kind, traceback=trace)
    summary = RunSummary(run_id=run_id, reason="failed", steps=steps, epochs_completed=epochs_completed,
                         seconds=seconds, message=message)
    return event, summary


def final_event(summary: RunSummary) -> RunFinished | RunFailed:
    """The last event a summary stands for (for a backend that returned without emitting one)."""
    if summary.reason == "failed":
        return RunFailed(run_id=summary.run_id, error=summary.message or "the run failed")
    return RunFinished(run_id=summary.run_id, reason=summary.reason, steps=summary.steps,
                       epochs_completed=summary.epochs_completed, seconds=summary.seconds,
                       test_loss=summary.test_loss, test_accuracy=summary.test_accuracy,
                       best_val_loss=summary.best_val_loss, message=summary.message)


class RunBook:
    """Epoch-end bookkeeping, the patience rule, the learning rate, commands obeyed, stop reasons, final events.

    `emit` receives the events the book records itself (LearningRateChanged, ControlApplied, a LogLine);
    `control` is the run's RunControl (None: no commands, no requested rates).
    """

    def __init__(self, config: TrainConfig, run_id: str, *, total_steps: int, position: Position | None = None,
                 emit: Callable[[Event], None] | None = None, control: RunControl | None = None) -> None:
        self.config, self.run_id, self.total_steps = config, run_id, total_steps
        self.position = position if position is not None else Position()
        self.emit: Callable[[Event], None] = emit or (lambda event: None)
        self.control = control
        self.requests_allowed = True  # False: requested rates are refused with a warning (multi-device runs)
        self.reason: str | None = None  # set once the run's ending is known
        self.message = ""
        self.t0 = time.perf_counter()
        p = self.position
        if p.lr is None:  # a new run, or a checkpoint older than the anchor: its config.lr was the rate then
            p.lr, p.lr_epoch = float(config.lr), p.epoch + (1 if p.batch_in_epoch else 0)

    # ---- the learning rate -------------------------------------------------------------------------
    @property
    def lr(self) -> float:
        """The rate the optimiser holds now (set it from this when a run starts or resumes)."""
        p = self.position
        assert p.lr is not None
        return scheduled_rate(p.lr, p.lr_epoch, p.epoch + (1 if p.batch_in_epoch else 0), self.config.lr_drop_epochs)

    def next_lr(self) -> float | None:
        """Called right before each optimiser update, past the stop checks: the new rate when it changes now
        (the schedule at an epoch's first update, then a requested change), recorded as LearningRateChanged
        at the steps taken so far; None when the rate stays."""
        p = self.position
        new = None
        if p.batch_in_epoch == 0:  # the epoch's first update: a checkpoint never has a drop without its epoch
            epoch = p.epoch + 1
            if any(p.lr_epoch < d <= epoch for d in self.config.lr_drop_epochs):
                new = self._set_lr(scheduled_rate(p.lr, p.lr_epoch, epoch, self.config.lr_drop_epochs), "schedule")
        control = self.control
        if control is not None and control.lr_pending:
            new = self.take_requested() or new
        return new

    def take_requested(self) -> float | None:
        """A requested rate, applied and recorded now (None: none pending, or refused with a warning)."""
        change = self.control.take_lr() if self.control is not None else None
        if change is None:
            return None
        if not self.requests_allowed:
            self.emit(LogLine(run_id=self.run_id, level="warning", source="control",
                              message="learning-rate changes apply to single-device runs only; ignored"))
            return None
        return self._set_lr(*change)

    def _set_lr(self, lr: float, source: str) -> float:
        p = self.position
        previous = self.lr
        # The rate of the epoch the next update belongs to; later drops multiply it.
        p.lr, p.lr_epoch = lr, p.epoch + 1
        self.emit(LearningRateChanged(run_id=self.run_id, step=p.step, lr=lr, previous=previous, source=source))
        return lr

    # ---- commands obeyed ---------------------------------------------------------------------------
    def settle(self, *, obeyed_only: bool = False) -> None:
        """Record the commands the run has carried out, as ControlApplied at the steps taken so far.

        Call where the run holds for a pause (before waiting) and, cheaply, once a step; `obeyed_only` leaves a
        pause or stop that arrived after this step's checks for the check that obeys it.
        """
        control = self.control
        if control is None or not control.applied_pending:
            return
        for kind, source in control.take_applied(obeyed_only=obeyed_only):
            self.emit(ControlApplied(run_id=self.run_id, step=self.position.step, command=kind, source=source))

    # ---- per step --------------------------------------------------------------------------------
    def record_step(self, samples: int, loss_sum: float, correct: int) -> None:
        """One optimiser step of `samples` samples whose per-sample losses add to `loss_sum`."""
        p = self.position
        p.step += 1
        p.batch_in_epoch += 1
        p.samples_seen += samples
        p.epoch_loss_sum += loss_sum
        p.epoch_correct += correct
        p.epoch_count += samples

    def start_epoch(self) -> None:
        """Clear the running epoch sums unless resuming inside this epoch."""
        p = self.position
        if p.batch_in_epoch == 0:
            p.epoch_loss_sum, p.epoch_correct, p.epoch_count = 0.0, 0, 0

    @property
    def train_loss(self) -> float:
        """Sample-weighted mean training loss of the epoch so far (NaN before any sample)."""
        p = self.position
        return p.epoch_loss_sum / p.epoch_count if p.epoch_count else math.nan

    @property
    def train_accuracy(self) -> float:
        p = self.position
        return p.epoch_correct / p.epoch_count if p.epoch_count else 0.0

    @property
    def progress(self) -> float:
        """Fraction of the run's optimiser steps done, 0..1."""
        return min(1.0, self.position.step / self.total_steps) if self.total_steps > 0 else 0.0

    # ---- judgements ------------------------------------------------------------------------------
    def check_train_loss(self, loss: float) -> str | None:
        """'diverged' (and the message with its hint) when a training loss is not finite, else None."""
        if math.isfinite(loss):
            return None
        return self._end("diverged", f"the training loss became {loss} after {self.position.step} steps; "
                         f"{self.hint('diverged')}")

    def end_epoch(self, epoch: int, val_loss: float | None) -> str | None:
        """Close epoch `epoch` (1-based) with its validation loss; the reason the run ends now, or None.

        Sets position.epoch and zeroes batch_in_epoch and the epoch sums (read train_loss before calling).

        The rule: a non-finite validation loss is `diverged`; patience counts epochs without a new best and
        gives `early_stopped` only before the last epoch; the last epoch gives `completed`. `val_loss=None`
        (no validation split) judges nothing.
        """
        p = self.position
        p.epoch, p.batch_in_epoch = epoch, 0
        p.epoch_loss_sum, p.epoch_correct, p.epoch_count = 0.0, 0, 0  # read train_loss before this
        if val_loss is not None:
            if not math.isfinite(val_loss):
                return self._end("diverged", f"the validation loss became {val_loss} after epoch {epoch}; "
                                 f"{self.hint('diverged')}")
            if p.best_val_loss is None or val_loss < p.best_val_loss:
                p.best_val_loss, p.bad_epochs = val_loss, 0
            else:
                p.bad_epochs += 1
        if epoch >= self.config.epochs:
            return self._end("completed", "")
        patience = self.config.patience
        if patience and p.bad_epochs >= patience:
            return self._end("early_stopped", f"the validation loss did not improve for {p.bad_epochs} "
                             f"epoch{'s' if p.bad_epochs != 1 else ''} (patience {patience})")
        return None

    def stop(self) -> str:
        """A requested stop, obeyed now: records it (and a rate sent just before it, which the checkpoint keeps);
        'stopped' (or the stop's reason, e.g. 'pruned'), with the message naming the step."""
        control = self.control
        if control is not None and control.lr_pending:
            self.take_requested()
        self.settle()
        reason = control.stop_reason if control is not None else "stopped"
        return self._end(reason, f"{reason} at step {self.position.step} (epoch {self.position.epoch + 1})")

    def hint(self, reason: str) -> str:
        """What a user can do about `reason`."""
        text = HINTS.get(reason, "")
        if reason == "diverged" and getattr(self.config, "init", "") == "uniform":
            text += SCALED_INIT_HINT
        return text

    def _end(self, reason: str, message: str) -> str:
        if self.reason is None:  # the first ending wins (a stop during a diverging step stays diverged)
            self.reason, self.message = reason, message
        return self.reason

    # ---- final events ----------------------------------------------------------------------------
    def seconds(self) -> float:
        return time.perf_counter() - self.t0

    def finished(self, reason: str | None = None, *, seconds: float | None = None, test_loss: float | None = None,
                 test_accuracy: float | None = None, message: str | None = None) -> tuple[RunFinished, RunSummary]:
        """The RunFinished event and the RunSummary of a run that ended without an error."""
        reason = reason or self.reason or "completed"
        if reason not in REASONS or reason == "failed":
            raise ValueError(f"unknown run end {reason!r} (one of {', '.join(REASONS)})")
        message = self.message if message is None else message
        seconds = self.seconds() if seconds is None else seconds
        p = self.position
        common = dict(run_id=self.run_id, reason=reason, steps=p.step, epochs_completed=p.epoch, seconds=seconds,
                      test_loss=test_loss, test_accuracy=test_accuracy, best_val_loss=p.best_val_loss,
                      message=message)
        return RunFinished(**common), RunSummary(**common)

    def failed(self, error: BaseException | str, *, kind: str = "",
               seconds: float | None = None) -> tuple[RunFailed, RunSummary]:
        """The RunFailed event and the RunSummary of a run that ended with an error."""
        return run_failed(self.run_id, error, kind=kind, steps=self.position.step,
                          epochs_completed=self.position.epoch,
                          seconds=self.seconds() if seconds is None else seconds)
