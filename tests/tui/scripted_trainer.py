"""A test-only Trainer that emits a deterministic, scripted run (no engine, no clock in the values)."""

from __future__ import annotations

import threading
import time

from core.backends import RunControl, RunSummary
from core.backends.runbook import RunBook
from core.config import TrainConfig
from core.events import EpochEnded, LayerGradStats, LogLine, RunFailed, RunFinished, RunStarted, ScalarWatch, StepEnded


class ScriptedTrainer:
    """Emits RunStarted, `steps` StepEnded (EpochEnded per epoch), then RunFinished; honours the control.

    `gate` (a threading.Event), when given, must be set before each step: tests use it to hold the run
    in a known state. `fail_at` makes the run fail with a RunFailed at that step.
    """

    name = "scripted"

    def __init__(self, steps_per_epoch: int = 20, delay: float = 0.0, gate: threading.Event | None = None,
                 fail_at: int | None = None, backend: str = "scalar") -> None:
        self.steps_per_epoch = steps_per_epoch
        self.delay = delay
        self.gate = gate
        self.fail_at = fail_at
        self.backend = backend
        self.started = threading.Event()
        self.finished = threading.Event()

    def probe(self) -> None:
        """No model to look inside."""
        return None

    def fit(self, config, data, emit, control: RunControl, *, run_id=None, checkpoint_dir=None,
            resume_from=None) -> RunSummary:
        try:
            return self._fit(config, emit, control, run_id)
        finally:
            self.finished.set()

    def _fit(self, config, emit, control: RunControl, run_id) -> RunSummary:
        run_id = run_id or "scripted-run"
        total = self.steps_per_epoch * config.epochs
        emit(RunStarted(run_id=run_id, time=0.0, backend=config.backend, device="cpu",
                        data_source="scripted data", config=config.to_dict(), train_size=160, val_size=40,
                        test_size=40, total_steps=total, parameter_count=config.parameter_count()))
        emit(LogLine(run_id=run_id, time=0.0, level="info", message="scripted run begins", source="scripted"))
        self.started.set()
        book = RunBook(config, run_id, total_steps=total, emit=emit, control=control)  # records commands obeyed
        step = 0
        reason = "completed"
        for epoch in range(1, config.epochs + 1):
            for _ in range(self.steps_per_epoch):
                book.position.step = step
                book.settle()  # a pause is obeyed here, at the steps taken so far
                control.wait_while_paused(0.01)
                book.settle()  # a resume, a stop
                if control.stop_requested:
                    reason = "stopped"
                    break
                if self.gate is not None:
                    while not self.gate.wait(0.01):
                        if control.stop_requested:
                            break
                if self.delay:
                    time.sleep(self.delay)
                step += 1
                if self.fail_at is not None and step >= self.fail_at:
                    emit(RunFailed(run_id=run_id, time=0.0, error="scripted failure: the loss became NaN"))
                    return RunSummary(run_id=run_id, reason="failed", steps=step, epochs_completed=epoch - 1,
                                      seconds=0.0, message="scripted failure")
                loss, acc = scripted_curve(step, total)
                emit(StepEnded(run_id=run_id, time=0.0, step=step, epoch=epoch, loss=loss, accuracy=acc,
                               samples_per_s=100.0, samples_seen=step * config.batch_size,
                               progress=step / total, total_steps=total))
                for address in control.watched:
                    emit(ScalarWatch(run_id=run_id, time=0.0, step=step, address=address,
                                     data=step / 128, grad=wobble(step) / 1024))
                emit(LayerGradStats(run_id=run_id, time=0.0, step=step, layer=0, mean=0.0, std=0.01,
                                    max_abs=0.05, histogram=(1, 4, 9, 4, 1),
                                    histogram_edges=(-6, -5, -4, -3, -2, -1)))
            if reason == "stopped":
                break
            emit(EpochEnded(run_id=run_id, time=0.0, epoch=epoch, step=step, train_loss=loss, train_accuracy=acc,
                            val_loss=loss * 1.1, val_accuracy=acc * 0.97, epoch_seconds=1.5,
                            samples_per_s=100.0))
        epochs_done = epoch if reason == "completed" else epoch - 1
        test = (loss * 1.1, acc * 0.96) if reason == "completed" else (None, None)
        emit(RunFinished(run_id=run_id, time=0.0, reason=reason, steps=step, epochs_completed=epochs_done,
                         seconds=1.0, test_loss=test[0], test_accuracy=test[1]))
        return RunSummary(run_id=run_id, reason=reason, steps=step, epochs_completed=epochs_done, seconds=1.0,
                          test_loss=test[0], test_accuracy=test[1])


def wobble(step: int) -> float:
    """A repeatable zig-zag in [-1, 1] in steps of 1/8: exact in binary, the same on every machine's libm."""
    return ((step * 37) % 17 - 8) / 8


def scripted_curve(step: int, total: int) -> tuple[float, float]:
    """A falling loss and rising accuracy from +, -, * and / only (IEEE rounds those the same everywhere;
    exp/sin/cos differ by an ULP between libms, which moved a plot dot or a colour in a snapshot)."""
    loss = 2.25 * (0.6 * total) / (0.6 * total + 2 * step) + 0.05 + wobble(step) / 32
    acc = min(0.98, 0.1 + 0.85 * step / (step + 0.4 * total))
    return loss, acc


def feed(app, events: list, reason: str) -> None:
    """Run the app's controller through a whole run of these events (no thread), then redraw."""
    app.controller.start(TrainConfig.from_dict(events[0].config))
    for event in events:
        app.controller.pump.emit(event)
    app.show(app.controller.fold())
    app.show(app.controller.ended(reason))
    app.redraw(force=True)
