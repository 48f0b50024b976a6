"""The handmade backend's training loop: core.nn.MLP trained by the pure-Python scalar engine.

One step = one optimiser update. With batch_size 1 that is the seed's per-sample SGD; with batch_size B the
gradients of B samples are accumulated, each sample's loss scaled by 1/B (an epoch's last, shorter batch by its
own size). So a parameter's `grad` is the batch *mean* gradient, the `loss` node of a sample reports grad 1/B,
and under plain SGD a weight moves by exactly -lr * grad, the grad that ScalarWatch reports.

A stop is obeyed before the next sample (the unfinished batch is dropped); a pause waits after a step's backward
pass and before its update, so a probe snapshot taken there has weights and grads that belong together. Where it
obeys one, the run reports the steps taken (a last StepEnded) and its run book records the command at that step.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING

from core.backends import Emit, RunControl, RunSummary, new_run_id
from core.backends.control import STOP_REASONS
from core.backends.runbook import RunBook
from core.backends.scalar.checkpoint import read_checkpoint, read_position, restore, save_checkpoint
from core.backends.scalar.evaluation import evaluate_split
from core.backends.scalar.observe import LayerStats, Watcher
from core.backends.scalar.probe import ScalarProbe, take_snapshot
from core.backends.snapshots import SnapshotBox
from core.events import EpochEnded, LogLine, RunStarted, StepEnded
from core.nn import MLP, cross_entropy, mse_loss
from core.optim import SGD, Adam

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.data import MnistData, Split

DEVICE = "cpu (pure Python)"
STEP_EVERY_S = 0.1  # StepEnded at most ~10/s ...
STEP_POINTS = 100  # ... but at least every total_steps/100 steps, so a tiny run still draws a curve
STATS_EVERY_S = 0.75  # LayerGradStats ~1.3/s (and at each epoch end)
ROWS_CACHE_MAX = 4_000_000  # floats held as Python lists (~32 bytes each); beyond it, convert rows lazily


class _End(Exception):
    """Internal: leave the training loops because the run book says the run ends."""


class ScalarTrainer:
    """Trainer for the handmade engine; look inside a live run only through `probe()`."""

    name = "scalar"

    def __init__(self) -> None:
        self.box = SnapshotBox()
        # Deprecated, for the wave-1 inspector until it uses probe(): the live model and sample in flight.
        self.model: MLP | None = None
        self.current_sample: tuple[list[float], int] | None = None

    def fit(self, config: TrainConfig, data: MnistData, emit: Emit, control: RunControl, *, run_id: str | None = None,
            checkpoint_dir: Path | None = None, resume_from: Path | None = None) -> RunSummary:
        """Train to the end (or stop/divergence); never raises for run errors."""
        self.box = SnapshotBox()
        return ScalarRun(self, config, data, emit, control, run_id or new_run_id(self.name),
                         checkpoint_dir, resume_from).execute()

    def probe(self) -> ScalarProbe | None:
        """A read-only view of the network at its latest snapshot; None before the model exists."""
        box = self.box
        return ScalarProbe(box) if box.latest() is not None else None


class ScalarRun:
    """One call of fit: its state and its loops."""

    def __init__(self, owner: ScalarTrainer, config: TrainConfig, data: MnistData, emit: Emit, control: RunControl,
                 run_id: str, checkpoint_dir: Path | None, resume_from: Path | None) -> None:
        self.owner, self.config, self.data, self.emit, self.control = owner, config, data, emit, control
        self.run_id, self.checkpoint_dir, self.resume_from = run_id, checkpoint_dir, resume_from
        # A new run saves a checkpoint after its first step too, not only at its first epoch end: a dashboard that
        # follows the run from another process reads its model from there (the digits screen, the inspector).
        self.first_save_due = checkpoint_dir is not None and resume_from is None
        self.book: RunBook | None = None
        self.box = owner.box
        self.resume_notes: list[tuple[str, str]] = []
        self.window: tuple[float, int, float] = (0.0, 0, 0.0)  # loss sum, samples, seconds not yet in a StepEnded
        self.last_sample: tuple[list[float], int, float] | None = None

    def execute(self) -> RunSummary:
        try:
            return self._run()
        except Exception as exc:  # noqa: BLE001 - a run error is reported, never raised out of fit
            event, summary = (self.book.failed(exc) if self.book is not None
                              else RunBook(self.config, self.run_id, total_steps=0).failed(exc))
            try:
                self.emit(event)
            except Exception:  # noqa: BLE001 - the consumer itself is broken; still return a summary
                pass
            return summary

    def log(self, level: str, message: str) -> None:
        self.emit(LogLine(run_id=self.run_id, level=level, message=message, source="scalar"))

    # ---- setup ----------------------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg, data = self.config.validate(), self.data
        if data.side != cfg.input_size or data.train.images.shape[1] != cfg.n_inputs:
            raise ValueError(f"the data was prepared at {data.side}x{data.side} but the config asks for input "
                             f"size {cfg.input_size}; load the data with the same config")
        if len(data.train) == 0:
            raise ValueError("the training split is empty")
        self.model = model = MLP(cfg.n_inputs, [*cfg.hidden, 10], activation=cfg.activation, init=cfg.init,
                                 seed=cfg.seed)
        self.named = model.named_parameters()
        self.params = [p for _, p in self.named]
        if cfg.optimizer == "adam":
            self.opt: SGD | Adam = Adam(self.params, lr=cfg.lr)
        else:
            self.opt = SGD(self.params, lr=cfg.lr, momentum=cfg.momentum if cfg.optimizer == "momentum" else 0.0)
        self.loss_fn = cross_entropy if cfg.loss == "cross_entropy" else mse_loss
        self.watcher = Watcher(model, self.named, cfg.layer_sizes, self.emit, self.run_id)
        self.stats = LayerStats(model, cfg.activation == "relu")
        self.n_train = len(data.train)
        self.steps_per_epoch = -(-self.n_train // cfg.batch_size)
        total_steps = cfg.epochs * self.steps_per_epoch
        self.emit_every = max(1, total_steps // STEP_POINTS)
        images = data.train.images
        self.rows = images.tolist() if images.size <= ROWS_CACHE_MAX else None
        self.labels = data.train.labels.tolist()
        position = self._resume() if self.resume_from is not None else None
        self.book = RunBook(cfg, self.run_id, total_steps=total_steps, position=position, emit=self.emit,
                            control=self.control)
        self.opt.lr = self.book.lr  # the schedule's rate at this point of the run (a resume's too)
        self.owner.model = model
        self._publish(None)

    def _resume(self):
        doc = read_checkpoint(Path(self.resume_from), self.config.layer_sizes)
        position = read_position(doc, self.config)
        if position.batch_in_epoch > self.steps_per_epoch:
            raise ValueError(f"the checkpoint is {position.batch_in_epoch} steps into an epoch of "
                             f"{self.steps_per_epoch}; resume with the same data and batch size")
        notes = restore(doc, self.named, self.opt, self.config.optimizer)
        saved = doc.get("config") if isinstance(doc.get("config"), dict) else {}
        changed = [f"{k} {saved[k]} -> {v}" for k, v in self.config.to_dict().items() if k in saved and saved[k] != v]
        self.resume_notes = [("warning", n) for n in notes]
        if changed:
            self.resume_notes.append(("info", f"resuming with changed settings: {', '.join(changed)}"))
        return position

    def _publish(self, sample: tuple[list[float], int, float] | None, step: int | None = None) -> None:
        """Hand a probe the current weights and grads (`step`: the step whose grads they are)."""
        step = self.book.position.step if step is None else step
        self.box.publish(take_snapshot(step, self.config, self.params, sample))

    # ---- the run --------------------------------------------------------------------------------------
    def _run(self) -> RunSummary:
        self._setup()
        cfg, data, book = self.config, self.data, self.book
        pos = book.position
        self.emit(RunStarted(run_id=self.run_id, backend="scalar", device=DEVICE, data_source=data.source,
                             config=cfg.to_dict(), train_size=self.n_train, val_size=len(data.val),
                             test_size=len(data.test), total_steps=book.total_steps,
                             parameter_count=len(self.named), resumed_from_step=pos.step, threads=1))
        if self.resume_from is not None:
            self.log("info", f"resumed from {self.resume_from} at step {pos.step} (epoch {pos.epoch})")
            for level, note in self.resume_notes:
                self.log(level, note)
        if self.control.lr_pending:  # asked before training began (a resume's --lr): in force from the first step
            self.opt.lr = book.take_requested() or self.opt.lr
        try:
            for epoch in range(pos.epoch + 1, cfg.epochs + 1):
                self._epoch(epoch)
                if book.reason is not None:
                    break
        except _End:
            pass
        reason = book.reason or "completed"
        if reason == "early_stopped":
            self.log("info", f"early stop: {book.message}")
        test_loss = test_acc = None
        if reason in ("completed", "early_stopped"):
            test_loss, test_acc = self._evaluate(data.test, "test", pos.epoch)
        self._publish(self.last_sample)  # the final weights (after the last update) and the last step's grads
        event, summary = book.finished(reason, test_loss=test_loss, test_accuracy=test_acc)
        self.emit(event)
        return summary

    def _evaluate(self, split: Split, name: str, epoch: int) -> tuple[float, float]:
        """Loss and accuracy of a split, and its Evaluation event, from one forward pass."""
        loss, result = evaluate_split(self.model, split.images, split.labels, self.loss_fn,
                                      between_rows=self.control.step_aside)
        self.emit(result.to_event(self.run_id, self.book.position.step, epoch, name, loss))
        return loss, result.accuracy

    def _epoch(self, epoch: int) -> None:
        """Train one epoch (from batch_in_epoch when resuming mid-epoch), then validate and checkpoint."""
        cfg, control, model, opt, loss_fn, book = self.config, self.control, self.model, self.opt, self.loss_fn, \
            self.book
        rows, images, labels, emit, owner, stats = self.rows, self.data.train.images, self.labels, self.emit, \
            self.owner, self.stats
        box, pos, observe = self.box, book.position, stats.observe if stats.hidden else None
        isfinite, perf = math.isfinite, time.perf_counter
        order = list(range(self.n_train))
        random.Random(cfg.seed + epoch).shuffle(order)
        bsz, last_b = cfg.batch_size, self.steps_per_epoch - 1
        book.start_epoch()
        win_loss, win_n, win_paused, last_step = 0.0, 0, 0.0, pos.step
        paused_s = 0.0
        train_start = last_emit = last_stats = perf()
        for b in range(pos.batch_in_epoch, self.steps_per_epoch):
            batch = order[b * bsz:(b + 1) * bsz]
            scale = 1.0 / len(batch)
            batch_loss, batch_correct = 0.0, 0
            opt.zero_grad()
            for i in batch:
                if control.stop_requested:
                    self._stopped(epoch)  # the unfinished batch is dropped
                if control.step_aside_wanted:  # a key on the dashboard: let its frame be drawn first
                    t = control.step_aside()
                    paused_s, win_paused = paused_s + t, win_paused + t
                x = rows[i] if rows is not None else images[i].tolist()
                label = labels[i]
                owner.current_sample = (x, label)
                try:
                    out = model(x)
                    loss = loss_fn(out, label)
                    lv = loss.data
                    if not isfinite(lv):
                        raise OverflowError
                    model.last_loss = loss
                    (loss * scale if scale != 1.0 else loss).backward()
                except OverflowError:
                    # Python floats raise OverflowError (e.g. in x ** 2) where numpy would give inf.
                    book.check_train_loss(math.inf)
                    self.log("error", book.message)
                    raise _End from None
                batch_loss += lv
                values = [o.data for o in out]
                batch_correct += values.index(max(values)) == label
                if observe is not None:
                    observe()
            # After backward, before the update: the moment a probe snapshot and a pause belong to.
            now = perf()
            if box.active and box.due():
                self._publish((x, label, scale), pos.step + 1)
            if control.paused:
                if control.applied_pending:  # a pause obeyed here: the curve and the record end at this step
                    if win_n:
                        self._step_ended(epoch, win_loss, win_n, now - last_emit - win_paused)
                        win_loss, win_n, win_paused, last_step, last_emit = 0.0, 0, 0.0, pos.step, now
                    book.settle()
                self._publish((x, label, scale), pos.step + 1)
                control.wait_while_paused()
                t = perf() - now
                paused_s, win_paused, now = paused_s + t, win_paused + t, perf()
            if control.stop_requested:
                self._stopped(epoch)  # a stop during the pause drops this step's update
            if pos.batch_in_epoch == 0 or control.lr_pending:  # the schedule, a requested rate: the book's
                lr = book.next_lr()  # before this step is counted: event.step = steps taken with the old rate
                if lr is not None:
                    opt.lr = lr
            if control.applied_pending:
                book.settle(obeyed_only=True)  # a resume (the pause was recorded where it held)
            book.record_step(len(batch), batch_loss, batch_correct)
            self.last_sample = (x, label, scale)
            win_loss += batch_loss
            win_n += len(batch)
            if control.watched:
                self.watcher(control.watched, pos.step)
            opt.step()
            if self.first_save_due:
                self.first_save_due = False
                self._save()
            if now - last_stats >= STATS_EVERY_S:
                stats.emit(emit, self.run_id, pos.step, opt.lr)
                last_stats = now
            if now - last_emit >= STEP_EVERY_S or pos.step - last_step >= self.emit_every or b == last_b:
                self._step_ended(epoch, win_loss, win_n, now - last_emit - win_paused)
                win_loss, win_n, win_paused, last_step, last_emit = 0.0, 0, 0.0, pos.step, now
            else:
                self.window = (win_loss, win_n, now - last_emit - win_paused)  # what a stop reports
            if control.stop_requested:
                self._stopped(epoch)
        self._end_epoch(epoch, perf() - train_start - paused_s)

    def _step_ended(self, epoch: int, loss_sum: float, n: int, seconds: float) -> None:
        """StepEnded for the `n` samples (summed loss `loss_sum`) trained in `seconds` since the last one."""
        book = self.book
        pos = book.position
        self.window = (0.0, 0, 0.0)
        self.emit(StepEnded(run_id=self.run_id, step=pos.step, epoch=epoch, loss=loss_sum / n,
                            accuracy=book.train_accuracy, samples_per_s=n / max(seconds, 1e-9),
                            samples_seen=pos.samples_seen, progress=book.progress, total_steps=book.total_steps))

    def _stopped(self, epoch: int) -> None:
        book = self.book
        loss_sum, n, seconds = self.window
        if n:  # the curve ends at the step the run stopped at
            self._step_ended(epoch, loss_sum, n, seconds)
        self._publish(self.last_sample)
        book.stop()
        if self.checkpoint_dir is not None and book.reason in STOP_REASONS:  # stopped, or pruned by a sweep
            path = self._save()
            self.log("info", f"stopped at step {book.position.step} (epoch {epoch}); checkpoint saved to {path}")
        raise _End

    def _end_epoch(self, epoch: int, epoch_seconds: float) -> None:
        book = self.book
        train_loss, train_acc, count = book.train_loss, book.train_accuracy, book.position.epoch_count
        val_loss, val_acc = evaluate_split(self.model, self.data.val.images, self.data.val.labels, self.loss_fn,
                                           between_rows=self.control.step_aside)
        self.stats.emit(self.emit, self.run_id, book.position.step, self.opt.lr)
        self.emit(EpochEnded(run_id=self.run_id, epoch=epoch, step=book.position.step, train_loss=train_loss,
                             train_accuracy=train_acc, val_loss=val_loss, val_accuracy=val_acc.accuracy,
                             epoch_seconds=epoch_seconds, samples_per_s=count / max(epoch_seconds, 1e-9)))
        self.emit(val_acc.to_event(self.run_id, book.position.step, epoch, "val", val_loss))
        reason = book.end_epoch(epoch, val_loss if len(self.data.val) else None)
        if reason == "diverged":
            self.log("error", book.message)
        elif self.checkpoint_dir is not None:
            self._save()

    def _save(self) -> Path:
        self.control.step_aside()  # the save holds the interpreter for tens of ms: not while a key is handled
        return save_checkpoint(Path(self.checkpoint_dir), self.config, self.book.position, self.named, self.opt)
