"""The one set of books both backends keep: position in the run, the patience rule, stop reasons, final events.

A backend records each optimiser step (`RunBook.record_step`), asks `end_epoch` after each validation and
`check_train_loss` whenever it reads a training loss, and builds its last event and `RunSummary` with
`finished` or `failed`. `Position.to_dict()` is the `"progress"` part of both checkpoint formats.
"""

from __future__ import annotations

import math
import time
import traceback as tb
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Mapping

from core.backends import RunSummary
from core.events import REASONS, RunFailed, RunFinished

if TYPE_CHECKING:
    from core.config import TrainConfig

# Why a run ended: core.events.REASONS. "failed" is RunFailed's, never RunFinished's.
# What a user can do about each ending (front ends may show it under the message); words, never CLI flags.
HINTS: dict[str, str] = {
    "completed": "",
    "stopped": "resume the run from its record to continue from this step",
    "early_stopped": "raise the patience (0 turns early stopping off) to train longer",
    "diverged": "lower the learning rate",
}
SCALED_INIT_HINT = " or use scaled initialisation"
LR_DROP = 0.1  # the step schedule's factor (TrainConfig.lr_drop_epochs)

_INTS = ("epoch", "step", "samples_seen", "batch_in_epoch", "epoch_correct", "epoch_count", "bad_epochs")


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
        missing = sorted(known - set(d) - {"best_val_loss"})
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
    """Epoch-end bookkeeping, the patience rule, stop reasons and final events of one run."""

    def __init__(self, config: TrainConfig, run_id: str, *, total_steps: int,
                 position: Position | None = None) -> None:
        self.config, self.run_id, self.total_steps = config, run_id, total_steps
        self.position = position if position is not None else Position()
        self.reason: str | None = None  # set once the run's ending is known
        self.message = ""
        self.t0 = time.perf_counter()
        p = self.position
        # The configured lr is the rate the run goes on with (session.py keeps config.json's lr in step with
        # every LearningRateChanged), so it already holds the drops of every epoch started before a resume.
        self.lr_epoch = p.epoch + (1 if p.batch_in_epoch else 0)

    # ---- the learning-rate schedule ----------------------------------------------------------------
    def scheduled_lr(self, epoch: int, lr: float) -> float | None:
        """The rate epoch `epoch` (1-based) trains with when the schedule changes `lr` now, else None.

        Called before the epoch's first update: `lr` is multiplied by LR_DROP once for each epoch in
        config.lr_drop_epochs that is <= `epoch` and was not applied yet (an epoch started before a resume
        counts as applied). The backend sets its optimiser's rate and emits LearningRateChanged(source=
        "schedule", step=steps taken so far).
        """
        due = [d for d in self.config.lr_drop_epochs if self.lr_epoch < d <= epoch]
        self.lr_epoch = max(self.lr_epoch, epoch)
        if not due:
            return None
        for _ in due:
            lr = lr * LR_DROP
        return lr

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
        """A requested stop: 'stopped', with the message naming the step."""
        return self._end("stopped", f"stopped at step {self.position.step} (epoch {self.position.epoch + 1})")

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
