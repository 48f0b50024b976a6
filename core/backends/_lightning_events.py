"""The Callback that turns a Lightning fit into mnist-dash events and answers stop/pause between mini-batches.

MnistModule calls gate() before and after_step() after every optimiser step (a Lightning batch holds several);
watched values are read in on_before_optimizer_step. Device syncs happen at a bounded rate (see the REPORT_
constants): per-step loss, accuracy and watched values stay on the device until a report reads them.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from core.backends import RunControl, RunSummary
from core.backends._lightning_watch import WatchBuffer
from core.events import EpochEnded, LayerGradStats, StepEnded

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.data import MnistData, Split
    from core.events import Event

REPORTS_PER_EPOCH = 20  # StepEnded every 1/20 of an epoch...
MIN_REPORT_SECONDS = 0.1  # ...but at most 10 per second (each report is a device sync)...
REPORT_SECONDS = 0.5  # ...and at least every half second, so slow epochs still move the curves
STATS_SECONDS = 1.0  # LayerGradStats at most once a second: they reduce every weight gradient
HIST_LOW, HIST_HIGH, HIST_BINS = -10.0, 0.0, 20  # log10|grad| bins; values outside land in the end bins
HIST_EDGES = tuple(HIST_LOW + i * (HIST_HIGH - HIST_LOW) / HIST_BINS for i in range(HIST_BINS + 1))


class EventsCallback(Callback):
    """Emits StepEnded, ScalarWatch, LayerGradStats and EpochEnded; validates, early-stops, checkpoints."""

    def __init__(
        self,
        *,
        config: TrainConfig,
        data: MnistData,
        train,
        emit: Callable[[Event], None],
        control: RunControl,
        run_id: str,
        total_steps: int,
        checkpoint_path: Path | None,
        resumed: dict,
        save: Callable,
    ) -> None:
        self.config, self.data, self.train, self.emit, self.control = config, data, train, emit, control
        self.run_id, self.total_steps, self.checkpoint_path, self.save = run_id, total_steps, checkpoint_path, save
        self.reason, self.message = "completed", ""
        self.stop_wanted = False
        self.step = int(resumed.get("step", 0))
        self.epochs_done = int(resumed.get("epoch", 0))
        self.samples_seen = int(resumed.get("samples_seen", 0))
        self.best_val = resumed.get("best_val_loss")
        self.bad_epochs = int(resumed.get("bad_epochs", 0))
        self.batch_in_epoch = int(resumed.get("batch_in_epoch", 0))
        self.test: tuple[float, float] | None = None
        self.trainer = self.module = None
        self.rank_zero, self.world, self.report_every = True, 1, 1
        self.report_now = self.stats_now = False
        self.t_stats = -math.inf
        self.watches: WatchBuffer | None = None

    # ---- setup ------------------------------------------------------------------------------------
    def split_on_device(self, split: Split, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(split.images).to(device), torch.from_numpy(split.labels).long().to(device)

    def on_fit_start(self, trainer, pl_module) -> None:
        self.trainer, self.module = trainer, pl_module
        self.rank_zero, self.world = trainer.is_global_zero, trainer.world_size
        self.train.to(pl_module.device, trainer.global_rank, trainer.world_size)
        self.val = self.split_on_device(self.data.val, pl_module.device)
        self.linears = [m for m in pl_module.net if isinstance(m, nn.Linear)]
        self.watches = WatchBuffer(self.linears, self.emit, self.run_id)
        self.report_every = max(1, self.train.steps_per_epoch // REPORTS_PER_EPOCH)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.epoch = self.epochs_done + 1
        self.epoch_loss = 0.0
        self.epoch_correct = self.epoch_n = self.since_n = 0
        self.paused = 0.0
        self.t_epoch = self.t_report = time.perf_counter()
        self.reported_at = self.batch_in_epoch

    # ---- per batch --------------------------------------------------------------------------------
    def gate(self) -> bool:
        """Called before each mini-batch: hold while paused, True when the run must stop now."""
        if self.control.paused:
            t = time.perf_counter()
            self.control.wait_while_paused()
            self.paused += time.perf_counter() - t
        if self.control.stop_requested:
            self._stop("stopped")
        if self.world > 1:  # every rank must leave at the same batch, or the others hang in an all-reduce
            if self.trainer.strategy.reduce_boolean_decision(self.stop_wanted, all=False):
                self._stop("stopped", now=True)
        if self.trainer.should_stop:
            return True
        following = self.batch_in_epoch + 1
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
        watched = self.control.watched
        if watched and self.rank_zero:
            self.watches.gather(watched, self.step + 1)  # params are still as the gradients saw them

    def after_step(self, n: int) -> None:
        """Called by the module after each optimiser step of n samples."""
        self.step += 1
        self.batch_in_epoch += 1
        self.samples_seen += n * self.world
        self.since_n += n
        if self.report_now:
            self._report()
        if self.control.stop_requested:
            self._stop("stopped")

    # ---- epoch end --------------------------------------------------------------------------------
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self.since_n:
            self._report()
        if self.batch_in_epoch < self.train.steps_per_epoch or self.reason == "diverged":
            return  # a stopped epoch is not a finished one: no EpochEnded, the stop checkpoint covers it
        seconds = time.perf_counter() - self.t_epoch - self.paused
        val_loss, val_acc = pl_module.evaluate(*self.val)
        self.epochs_done += 1
        self.batch_in_epoch = 0
        if self.rank_zero:
            self.emit(
                EpochEnded(
                    run_id=self.run_id,
                    epoch=self.epoch,
                    step=self.step,
                    train_loss=self.epoch_loss / max(1, self.epoch_n),
                    train_accuracy=self.epoch_correct / max(1, self.epoch_n),
                    val_loss=val_loss,
                    val_accuracy=val_acc,
                    epoch_seconds=seconds,
                    samples_per_s=self.epoch_n * self.world / seconds if seconds > 0 else 0.0,
                )
            )
        if not len(self.data.val):
            pass  # nothing to judge improvement by
        elif not math.isfinite(val_loss):
            self._stop("diverged", now=True)  # every rank saw the same validation loss
        elif self.best_val is None or val_loss < self.best_val:
            self.best_val, self.bad_epochs = val_loss, 0
        else:
            self.bad_epochs += 1
            if self.config.patience and self.bad_epochs >= self.config.patience:
                self._stop("early_stopped", now=True)
                self.message = f"validation loss did not improve for {self.bad_epochs} epochs"
        if self.reason != "diverged":
            self._checkpoint(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.since_n:
            self._report()
        self.watches.flush()
        if self.reason == "stopped":
            self._checkpoint(trainer, pl_module)
        if self.rank_zero and self.reason != "diverged":
            self.test = pl_module.evaluate(*self.split_on_device(self.data.test, pl_module.device))

    # ---- helpers ----------------------------------------------------------------------------------
    def _stop(self, reason: str, *, now: bool = False) -> None:
        """Record why the run ends; single-device runs stop at once, multi-device ones at the next gate."""
        if self.reason == "completed":
            self.reason = reason
        self.stop_wanted = True
        if self.trainer is not None and (now or self.world == 1):
            self.trainer.should_stop = True

    def _report(self) -> None:
        """One device sync: StepEnded, then grad statistics and buffered watches."""
        loss_sum, correct = self.module.take_sums()
        n, self.since_n = self.since_n, 0
        self.reported_at = self.batch_in_epoch
        self.epoch_loss += loss_sum
        self.epoch_correct += correct
        self.epoch_n += n
        now = time.perf_counter()
        elapsed, self.t_report = now - self.t_report, now
        loss = loss_sum / max(1, n)
        if not math.isfinite(loss):
            self._stop("diverged")
            self.message = (
                f"training loss became {loss} at step {self.step}; try a smaller --lr (now {self.config.lr})"
                + (" or --init scaled" if self.config.init == "uniform" else "")
            )
        if not self.rank_zero:
            return
        self.emit(
            StepEnded(
                run_id=self.run_id,
                step=self.step,
                epoch=self.epoch,
                loss=loss,
                accuracy=self.epoch_correct / max(1, self.epoch_n),
                samples_per_s=n * self.world / elapsed if elapsed > 0 else 0.0,
                samples_seen=self.samples_seen,
                progress=min(1.0, self.step / self.total_steps) if self.total_steps else 0.0,
                total_steps=self.total_steps,
            )
        )
        if self.stats_now:
            self.stats_now = False
            self.t_stats = now
            self._grad_stats()
        self.watches.flush()

    def _grad_stats(self) -> None:
        rows = []
        alive = self.module.alive if self.module.record else []
        for i, lin in enumerate(self.linears):
            g, w = lin.weight.grad, lin.weight.detach()
            if g is None:
                return
            a = g.abs()
            logs = torch.log10(a.clamp_min(1e-30)).clamp(HIST_LOW, HIST_HIGH)
            rms_w = w.pow(2).mean().sqrt().clamp_min(1e-30)
            dead = (1 - alive[i].float().mean()) if i < len(alive) else torch.zeros((), device=g.device)
            head = torch.stack([g.mean(), g.std(correction=0), a.max(), dead, a.pow(2).mean().sqrt() / rms_w])
            rows.append(torch.cat([head, torch.histc(logs, bins=HIST_BINS, min=HIST_LOW, max=HIST_HIGH)]))
        if not rows:
            return
        for i, row in enumerate(torch.stack(rows).tolist()):
            self.emit(
                LayerGradStats(
                    run_id=self.run_id,
                    step=self.step,
                    layer=i,
                    mean=row[0],
                    std=row[1],
                    max_abs=row[2],
                    histogram=tuple(int(c) for c in row[5:]),
                    histogram_edges=HIST_EDGES,
                    dead_fraction=row[3],
                    update_ratio=self.config.lr * row[4],
                )
            )

    def _checkpoint(self, trainer, pl_module) -> None:
        if self.checkpoint_path is None or not self.rank_zero:
            return
        progress = {
            "epoch": self.epochs_done,
            "batch_in_epoch": self.batch_in_epoch if self.batch_in_epoch < self.train.steps_per_epoch else 0,
            "step": self.step,
            "samples_seen": self.samples_seen,
            "best_val_loss": self.best_val,
            "bad_epochs": self.bad_epochs,
        }
        self.save(self.checkpoint_path, pl_module, trainer.optimizers[0], progress)

    def summary(self, seconds: float, test: tuple[float, float] | None) -> RunSummary:
        test = test or self.test
        return RunSummary(
            run_id=self.run_id,
            reason=self.reason,
            steps=self.step,
            epochs_completed=self.epochs_done,
            seconds=seconds,
            test_loss=None if test is None else test[0],
            test_accuracy=None if test is None else test[1],
            best_val_loss=self.best_val,
            message=self.message,
        )
