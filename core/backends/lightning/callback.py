"""The Callback that turns a Lightning fit into mnist-dash events, keeps the run book and publishes snapshots.

MnistModule calls gate() before and after_step() after every optimiser step (a Lightning batch holds several);
before_update() runs after backward and before the update (Lightning's on_before_optimizer_step, or the
captured CUDA graph's copies). Device syncs happen at a bounded rate (see the REPORT_ constants): per-step
loss, accuracy and watched values stay on the device until a report reads them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch
from lightning.pytorch.callbacks import Callback

from core.backends.control import STOP_REASONS
from core.backends.gradstats import dead_fraction, layer_grad_stats
from core.backends.lightning.batches import split_on_device
from core.backends.lightning.checkpoint import save_checkpoint
from core.backends.lightning.network import linears
from core.backends.lightning.probe import take_snapshot
from core.backends.lightning.watch import WatchBuffer
from core.evaluation import evaluate_predictions
from core.events import EpochEnded, StepEnded

if TYPE_CHECKING:
    from core.backends import RunControl
    from core.backends.lightning.batches import DeviceBatches
    from core.backends.runbook import RunBook
    from core.backends.snapshots import SnapshotBox
    from core.config import TrainConfig
    from core.data import MnistData
    from core.events import Evaluation, Event

REPORTS_PER_EPOCH = 20  # StepEnded every 1/20 of an epoch...
MIN_REPORT_SECONDS = 0.1  # ...but at most 10 per second (each report is a device sync)...
REPORT_SECONDS = 0.5  # ...and at least every half second, so slow epochs still move the curves
STATS_SECONDS = 1.0  # LayerGradStats at most once a second: they copy every weight gradient to the CPU


class EventsCallback(Callback):
    """Emits StepEnded, ScalarWatch, LayerGradStats, EpochEnded and Evaluation; validates, stops, checkpoints."""

    def __init__(self, *, config: TrainConfig, data: MnistData, train: DeviceBatches, emit: Callable[[Event], None],
                 control: RunControl, book: RunBook, checkpoint_path: Path | None, box: SnapshotBox) -> None:
        self.config, self.data, self.train, self.emit, self.control = config, data, train, emit, control
        self.book, self.checkpoint_path, self.box = book, checkpoint_path, box
        self.run_id = book.run_id
        self.stop_wanted = False
        self.test: tuple[float, float] | None = None
        self.trainer = self.module = None
        self.rank_zero, self.world, self.report_every = True, 1, 1
        self.report_now = self.stats_now = False
        self.t_stats = -float("inf")
        # A new run saves a checkpoint after its first step too, as the handmade engine does: a dashboard following
        # the run from another process reads its model from there before the first epoch ends.
        self.first_save_due = checkpoint_path is not None and book.position.step == 0

    # ---- setup ------------------------------------------------------------------------------------
    def on_fit_start(self, trainer, pl_module) -> None:
        self.trainer, self.module = trainer, pl_module
        self.rank_zero, self.world = trainer.is_global_zero, trainer.world_size
        self.train.to(pl_module.device, trainer.global_rank, trainer.world_size)
        self.val = split_on_device(self.data.val, pl_module.device)
        self.linears = linears(pl_module.net)
        self.params = [p for lin in self.linears for p in (lin.weight, lin.bias)]
        self.watches = WatchBuffer(self.params, self.config.layer_sizes, self.emit, self.run_id)
        self.report_every = max(1, self.train.steps_per_epoch // REPORTS_PER_EPOCH)
        if not self.rank_zero:  # every rank keeps the books; rank zero records
            self.book.emit = lambda event: None
        if self.control.lr_pending:  # asked before training began (a resume's --lr): the same on every rank
            self.book.take_requested()
        self.book.requests_allowed = self.world == 1  # later ones: ranks could disagree on when they arrived
        self.lr = self.book.lr  # the schedule's rate at this point of the run (a resume's too)
        for group in trainer.optimizers[0].param_groups:
            group["lr"] = self.lr
        self._publish(self.book.position.step, sample=False)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.book.start_epoch()
        self.epoch = self.book.position.epoch + 1
        self.epoch_samples = self.since_n = 0  # samples trained in this epoch by this process, since a report
        self.paused = 0.0
        self.t_epoch = self.t_report = time.perf_counter()
        self.reported_at = self.book.position.batch_in_epoch

    # ---- per step ---------------------------------------------------------------------------------
    def gate(self) -> bool:
        """Called before each mini-batch: hold while paused, True when the run must stop now."""
        if self.control.paused:
            if self.control.applied_pending:  # a pause obeyed here: the curve and the record end at this step
                if self.since_n:
                    self._report()
                self.book.settle()
            # Paused between steps: the probe answers from the weights as they are now (after the last update,
            # with that step's gradients), not from a snapshot taken before it.
            latest = self.box.latest()
            if self.rank_zero and (latest is None or latest.step != self.book.position.step):
                self._publish(self.book.position.step)
            t = time.perf_counter()
            self.control.wait_while_paused()
            self.paused += time.perf_counter() - t
        if self.control.stop_requested:
            self._stop()
        if self.world > 1:  # every rank must leave at the same batch, or the others hang in an all-reduce
            if self.trainer.strategy.reduce_boolean_decision(self.stop_wanted, all=False):
                self._stop(now=True)
        if self.trainer.should_stop:
            return True
        if self.book.position.batch_in_epoch == 0 or self.control.lr_pending:  # past the stop check
            lr = self.book.next_lr()  # the schedule at an epoch's first update, a requested rate: the book's
            if lr is not None:
                self._set_lr(lr)
        if self.control.applied_pending:
            self.book.settle(obeyed_only=True)  # a resume (the pause was recorded where it held)
        following = self.book.position.batch_in_epoch + 1
        since = time.perf_counter() - self.t_report
        self.report_now = (
            (following - self.reported_at >= self.report_every and since >= MIN_REPORT_SECONDS)
            or since >= REPORT_SECONDS
            or following >= self.train.steps_per_epoch
        )
        self.stats_now = self.report_now and self.rank_zero and time.perf_counter() - self.t_stats >= STATS_SECONDS
        self.module.record = self.stats_now and self.config.activation == "relu"
        return False

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.before_update(None)

    def before_update(self, values: list[torch.Tensor] | None) -> None:
        """After backward, before the update: watches and the probe's snapshot (values None = live parameters)."""
        if not self.rank_zero:
            return
        step = self.book.position.step + 1
        watched = self.control.watched
        if watched:
            self.watches.gather(watched, step, values)
        if self.box.due() or self.control.paused or self.control.stop_requested:
            self._publish(step, values)

    def after_step(self, n: int) -> None:
        """Called by the module after each optimiser step of n samples (this process's share)."""
        p = self.book.position
        self.book.record_step(n, 0.0, 0)  # the loss and accuracy sums arrive with the next report (one sync)
        p.samples_seen += n * (self.world - 1)  # samples_seen counts every rank's samples
        self.epoch_samples += n
        self.since_n += n
        if self.report_now or self.first_save_due:  # the first save: the step's loss sums first (a sync on all ranks)
            self._report()
        if self.first_save_due:
            self.first_save_due = False
            self._checkpoint(self.trainer)
        if self.control.stop_requested:
            self._stop()

    # ---- epoch end --------------------------------------------------------------------------------
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.since_n:
            self._report()
        p = self.book.position
        if p.batch_in_epoch < self.train.steps_per_epoch or self.book.reason == "diverged":
            return  # a stopped epoch is not a finished one: no EpochEnded, the stop checkpoint covers it
        seconds = time.perf_counter() - self.t_epoch - self.paused
        val_loss, val_accuracy, evaluation = self.evaluate_split("val", self.val, p.step, self.epoch)
        if self.rank_zero:
            self.emit(EpochEnded(
                run_id=self.run_id, epoch=self.epoch, step=p.step, train_loss=self.book.train_loss,
                train_accuracy=self.book.train_accuracy, val_loss=val_loss, val_accuracy=val_accuracy,
                epoch_seconds=seconds, samples_per_s=self.epoch_samples * self.world / seconds if seconds > 0 else 0.0,
            ))
            if evaluation is not None:
                self.emit(evaluation)
        reason = self.book.end_epoch(self.epoch, val_loss if len(self.data.val) else None)
        if reason is not None:
            self._stop(now=True)
        if reason != "diverged":
            self._checkpoint(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.since_n:
            self._report()
        self.watches.flush()
        if self.book.reason is None or self.book.reason in STOP_REASONS:  # stopped, or pruned by a sweep
            self._checkpoint(trainer)
        self._publish(self.book.position.step)
        if self.rank_zero and self.book.reason in ("completed", "early_stopped"):  # stopped, diverged: no test
            self.test = self.test_split()

    def test_split(self) -> tuple[float, float]:
        """(loss, accuracy) on the test split; emits its Evaluation (rank zero)."""
        test = split_on_device(self.data.test, self.module.device)
        p = self.book.position
        loss, accuracy, evaluation = self.evaluate_split("test", test, p.step, p.epoch)
        if evaluation is not None and self.rank_zero:
            self.emit(evaluation)
        return loss, accuracy

    # ---- helpers ----------------------------------------------------------------------------------
    def evaluate_split(self, split: str, tensors: tuple[torch.Tensor, torch.Tensor], step: int,
                       epoch: int) -> tuple[float, float, Evaluation | None]:
        """(loss, accuracy, its Evaluation event) of a split from one forward pass (no event for an empty split)."""
        loss, probs = self.module.evaluate(*tensors)
        if not len(tensors[1]):
            return loss, float("nan"), None
        result = evaluate_predictions(probs.numpy(), tensors[1].cpu().numpy())
        return loss, result.accuracy, result.to_event(self.run_id, step, epoch, split, loss)

    def _set_lr(self, lr: float) -> None:
        for group in self.trainer.optimizers[0].param_groups:
            group["lr"] = lr
        self.lr = lr
        self.module.drop_graph()  # a captured step holds the old rate; it is captured again at the next chunk

    def _stop(self, *, now: bool = False) -> None:
        """End the run: single-device runs stop at once, multi-device ones at the next gate (all ranks together)."""
        if self.book.reason is None:
            if self.since_n:  # the curve ends at the step the run stopped at
                self._report()
            self.book.stop()
        self.stop_wanted = True
        if self.trainer is not None and (now or self.world == 1):
            self.trainer.should_stop = True

    def _publish(self, step: int, params: list[torch.Tensor] | None = None, *, sample: bool = True) -> None:
        """The probe's snapshot of `step`: `params` (default the live ones) with the live gradients."""
        self.box.publish(take_snapshot(step, self.params if params is None else params,
                                       [p.grad for p in self.params], self.module.current if sample else None))

    def _report(self) -> None:
        """One device sync: StepEnded, then grad statistics and buffered watches."""
        loss_sum, correct = self.module.take_sums()
        n, self.since_n = self.since_n, 0
        p = self.book.position
        p.epoch_loss_sum += loss_sum
        p.epoch_correct += correct
        self.reported_at = p.batch_in_epoch
        now = time.perf_counter()
        elapsed, self.t_report = now - self.t_report, now
        loss = loss_sum / max(1, n)
        if self.book.check_train_loss(loss) is not None:
            self._stop()
        if not self.rank_zero:
            return
        self.emit(StepEnded(
            run_id=self.run_id, step=p.step, epoch=self.epoch, loss=loss, accuracy=self.book.train_accuracy,
            samples_per_s=n * self.world / elapsed if elapsed > 0 else 0.0, samples_seen=p.samples_seen,
            progress=self.book.progress, total_steps=self.book.total_steps,
        ))
        if self.stats_now:
            self.stats_now = False
            self.t_stats = now
            self._grad_stats()
        self.watches.flush()

    def _grad_stats(self) -> None:
        alive = self.module.alive if self.module.record else []
        if any(lin.weight.grad is None for lin in self.linears):
            return
        grads = [lin.weight.grad.detach().cpu().numpy() for lin in self.linears]
        weights = [lin.weight.detach().cpu().numpy() for lin in self.linears]
        for i, (g, w) in enumerate(zip(grads, weights, strict=True)):
            dead = dead_fraction(alive[i].cpu().numpy()) if i < len(alive) else 0.0
            self.emit(layer_grad_stats(self.run_id, self.book.position.step, i, g, w, self.lr, dead))

    def _checkpoint(self, trainer) -> None:
        if self.checkpoint_path is None or not self.rank_zero:
            return
        save_checkpoint(self.checkpoint_path, self.config, self.module.net, trainer.optimizers[0], self.book.position)
