"""The handmade backend: trains core.nn.MLP with the pure-Python scalar engine behind the Trainer protocol.

One step = one optimiser update. With batch_size 1 that is the seed's per-sample SGD; with batch_size B the
gradients of B samples are accumulated, each sample's loss scaled by 1/B (an epoch's last, shorter batch by its
own size). So a parameter's `grad` is the batch *mean* gradient, the `loss` node of a sample reports grad 1/B,
and under plain SGD a weight moves by exactly -lr * grad, the grad that ScalarWatch reports.

Checkpoints are JSON, never pickle; the format is documented in core/backends/scalar_tools.py.
"""

from __future__ import annotations

import math
import random
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.backends import Emit, RunControl, RunSummary, new_run_id
from core.backends.scalar_tools import evaluate, grad_stats, read_checkpoint, restore, save_checkpoint
from core.events import EpochEnded, LayerGradStats, LogLine, RunFailed, RunFinished, RunStarted, ScalarWatch, StepEnded
from core.nn import MLP, cross_entropy, mse_loss
from core.optim import SGD, Adam

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.data import MnistData

DEVICE = "cpu (pure Python)"
DIVERGED_HINT = "lower the learning rate (--lr) or use scaled init (--init scaled)"
STEP_EVERY_S = 0.1  # StepEnded at most ~10/s ...
STEP_POINTS = 100  # ... but at least every total_steps/100 steps, so a tiny run still draws a curve
STATS_EVERY_S = 0.75  # LayerGradStats ~1.3/s (and at each epoch end)
ROWS_CACHE_MAX = 4_000_000  # floats held as Python lists (~32 bytes each); beyond it, convert rows lazily


class _Stop(Exception):
    """Internal: leave the training loops with a reason (not an error)."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(reason)
        self.reason, self.message = reason, message


class ScalarTrainer:
    """Trainer for the handmade engine; `.model` and `.current_sample` are live for the inspector."""

    name = "scalar"

    def __init__(self) -> None:
        self.model: MLP | None = None
        self.current_sample: tuple[list[float], int] | None = None  # (x, label) of the sample in flight
        self.optimizer: SGD | Adam | None = None

    def fit(self, config: TrainConfig, data: MnistData, emit: Emit, control: RunControl, *, run_id: str | None = None,
            checkpoint_dir: Path | None = None, resume_from: Path | None = None) -> RunSummary:
        """Train to the end (or stop/divergence); never raises for run errors."""
        return _Run(self, config, data, emit, control, run_id or new_run_id(self.name),
                    checkpoint_dir, resume_from).execute()


class _Run:
    """One call of fit: its state and its loops."""

    def __init__(self, owner: ScalarTrainer, config: TrainConfig, data: MnistData, emit: Emit, control: RunControl,
                 run_id: str, checkpoint_dir: Path | None, resume_from: Path | None) -> None:
        self.owner, self.config, self.data, self.emit, self.control = owner, config, data, emit, control
        self.run_id, self.checkpoint_dir, self.resume_from = run_id, checkpoint_dir, resume_from
        self.step = self.samples_seen = self.epochs_done = self.skip_batches = 0
        self.best_val: float | None = None
        self.bad_epochs = 0
        self.ep_loss, self.ep_correct, self.ep_count = 0.0, 0, 0
        self.t0 = time.perf_counter()
        self.watch_key: tuple | None = None
        self.watch_plan: list[tuple[str, str, Any]] = []
        self.warned: set[str] = set()

    # ---- entry ----------------------------------------------------------------------------------------
    def execute(self) -> RunSummary:
        try:
            return self._run()
        except Exception as exc:  # noqa: BLE001 - a run error is reported, never raised out of fit
            text = str(exc).strip().splitlines()
            error = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
            try:
                self.emit(RunFailed(run_id=self.run_id, error=error, error_type=type(exc).__name__,
                                    traceback=traceback.format_exc()))
            except Exception:  # noqa: BLE001 - the consumer itself is broken; still return a summary
                pass
            return RunSummary(run_id=self.run_id, reason="failed", steps=self.step,
                              epochs_completed=self.epochs_done, seconds=time.perf_counter() - self.t0,
                              message=error)

    def log(self, level: str, message: str) -> None:
        self.emit(LogLine(run_id=self.run_id, level=level, message=message, source="scalar"))

    # ---- setup ----------------------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg, data = self.config.validate(), self.data
        if data.side != cfg.input_size or data.train.images.shape[1] != cfg.n_inputs:
            raise ValueError(f"the data was prepared at {data.side}x{data.side} but the config asks for "
                             f"--input-size {cfg.input_size}; load the data with the same config")
        if len(data.train) == 0:
            raise ValueError("the training split is empty; raise --train-subset")
        self.model = model = MLP(cfg.n_inputs, [*cfg.hidden, 10], activation=cfg.activation, init=cfg.init,
                                 seed=cfg.seed)
        self.owner.model = model
        self.named = model.named_parameters()
        params = [p for _, p in self.named]
        if cfg.optimizer == "adam":
            self.opt = Adam(params, lr=cfg.lr)
        else:
            self.opt = SGD(params, lr=cfg.lr, momentum=cfg.momentum if cfg.optimizer == "momentum" else 0.0)
        self.owner.optimizer = self.opt
        self.loss_fn = cross_entropy if cfg.loss == "cross_entropy" else mse_loss
        self.layer_weights = [[w for nrn in layer.neurons for w in nrn.w] for layer in model.layers]
        self.hidden_layers = model.layers[:-1] if cfg.activation == "relu" else []
        self.alive = [[False] * len(layer.neurons) for layer in self.hidden_layers]
        self.alive_samples = 0  # steps whose last sample fed `alive`
        self.n_train = len(data.train)
        self.steps_per_epoch = -(-self.n_train // cfg.batch_size)
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.emit_every = max(1, self.total_steps // STEP_POINTS)
        images = data.train.images
        self.rows = images.tolist() if images.size <= ROWS_CACHE_MAX else None
        self.labels = data.train.labels.tolist()
        if self.resume_from is not None:
            self._resume()

    def _resume(self) -> None:
        doc = read_checkpoint(Path(self.resume_from), self.config.layer_sizes)
        notes = restore(doc, self.named, self.opt, self.config.optimizer)
        self.step, self.epochs_done = int(doc["step"]), int(doc["epoch"])
        self.samples_seen = int(doc.get("samples_seen", 0))
        self.skip_batches = int(doc.get("batches_into_epoch", 0))
        totals = doc.get("epoch_totals") or {}
        self.ep_loss, self.ep_correct = float(totals.get("loss_sum", 0.0)), int(totals.get("correct", 0))
        self.ep_count = int(totals.get("count", 0))
        self.best_val = doc.get("best_val_loss")
        self.bad_epochs = int(doc.get("epochs_without_improvement", 0))
        saved = doc.get("config") or {}
        changed = [f"{k} {saved[k]} -> {v}" for k, v in self.config.to_dict().items() if k in saved and saved[k] != v]
        self.resume_notes = [("warning", n) for n in notes]
        if changed:
            self.resume_notes.append(("info", f"resuming with changed settings: {', '.join(changed)}"))

    # ---- the run --------------------------------------------------------------------------------------
    def _run(self) -> RunSummary:
        self._setup()
        cfg, data = self.config, self.data
        self.emit(RunStarted(run_id=self.run_id, backend="scalar", device=DEVICE, data_source=data.source,
                             config=cfg.to_dict(), train_size=self.n_train, val_size=len(data.val),
                             test_size=len(data.test), total_steps=self.total_steps,
                             parameter_count=len(self.named), resumed_from_step=self.step))
        if self.resume_from is not None:
            self.log("info", f"resumed from {self.resume_from} at step {self.step} (epoch {self.epochs_done})")
            for level, note in self.resume_notes:
                self.log(level, note)
        reason, message = "completed", ""
        try:
            for epoch in range(self.epochs_done + 1, cfg.epochs + 1):
                self._epoch(epoch)
        except _Stop as stop:
            reason, message = stop.reason, stop.message
        test_loss = test_acc = None
        if reason in ("completed", "early_stopped"):
            test_loss, test_acc = evaluate(self.model, data.test.images, data.test.labels, self.loss_fn)
        seconds = time.perf_counter() - self.t0
        self.emit(RunFinished(run_id=self.run_id, reason=reason, steps=self.step, epochs_completed=self.epochs_done,
                              seconds=seconds, test_loss=test_loss, test_accuracy=test_acc,
                              best_val_loss=self.best_val, message=message))
        return RunSummary(run_id=self.run_id, reason=reason, steps=self.step, epochs_completed=self.epochs_done,
                          seconds=seconds, test_loss=test_loss, test_accuracy=test_acc,
                          best_val_loss=self.best_val, message=message)

    def _epoch(self, epoch: int) -> None:
        """Train one epoch (from `skip_batches` when resuming mid-epoch), then validate and checkpoint."""
        cfg, control, model, opt, loss_fn = self.config, self.control, self.model, self.opt, self.loss_fn
        rows, images, labels, emit, owner = self.rows, self.data.train.images, self.labels, self.emit, self.owner
        isfinite, perf = math.isfinite, time.perf_counter
        order = list(range(self.n_train))
        random.Random(cfg.seed + epoch).shuffle(order)
        bsz, last_b = cfg.batch_size, self.steps_per_epoch - 1
        if self.skip_batches == 0:
            self.ep_loss, self.ep_correct, self.ep_count = 0.0, 0, 0
        first, self.skip_batches = self.skip_batches, 0
        win_loss, win_n, win_paused, last_step = 0.0, 0, 0.0, self.step
        paused_s = 0.0
        train_start = last_emit = last_stats = perf()
        for b in range(first, self.steps_per_epoch):
            batch = order[b * bsz:(b + 1) * bsz]
            scale = 1.0 / len(batch)
            batch_loss, batch_correct = 0.0, 0
            opt.zero_grad()
            for i in batch:
                if control.stop_requested:
                    raise self._stopped(epoch, b)
                if control.paused:
                    t = perf()
                    control.wait_while_paused()
                    t = perf() - t
                    paused_s, win_paused = paused_s + t, win_paused + t
                    if control.stop_requested:
                        raise self._stopped(epoch, b)
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
                    self.log("error", f"the loss became infinite or NaN at step {self.step + 1}")
                    raise _Stop("diverged", f"training diverged at step {self.step + 1}: {DIVERGED_HINT}") from None
                batch_loss += lv
                values = [o.data for o in out]
                batch_correct += values.index(max(values)) == label
            self.step += 1
            self.samples_seen += len(batch)
            self.ep_loss += batch_loss
            self.ep_correct += batch_correct
            self.ep_count += len(batch)
            win_loss += batch_loss
            win_n += len(batch)
            if control.watched:
                self._watch()
            if self.hidden_layers:
                self.alive_samples += 1
                for alive, layer in zip(self.alive, self.hidden_layers, strict=False):
                    for j, nrn in enumerate(layer.neurons):
                        if nrn.a.data > 0.0:
                            alive[j] = True
            opt.step()
            now = perf()
            if now - last_stats >= STATS_EVERY_S:
                self._layer_stats()
                last_stats = now
            if now - last_emit >= STEP_EVERY_S or self.step - last_step >= self.emit_every or b == last_b:
                emit(StepEnded(run_id=self.run_id, step=self.step, epoch=epoch, loss=win_loss / win_n,
                               accuracy=self.ep_correct / self.ep_count,
                               samples_per_s=win_n / max(now - last_emit - win_paused, 1e-9),
                               samples_seen=self.samples_seen, progress=self.step / self.total_steps,
                               total_steps=self.total_steps))
                win_loss, win_n, win_paused, last_step, last_emit = 0.0, 0, 0.0, self.step, now
        epoch_seconds = perf() - train_start - paused_s
        if control.stop_requested:
            raise self._stopped(epoch, self.steps_per_epoch)
        self._end_epoch(epoch, epoch_seconds)

    def _stopped(self, epoch: int, batches_done: int) -> _Stop:
        if self.checkpoint_dir is not None:
            path = self._save(batches_done)
            self.log("info", f"stopped at step {self.step} (epoch {epoch}); checkpoint saved to {path}")
        return _Stop("stopped", f"stopped at step {self.step}")

    def _end_epoch(self, epoch: int, epoch_seconds: float) -> None:
        cfg = self.config
        val_loss, val_acc = evaluate(self.model, self.data.val.images, self.data.val.labels, self.loss_fn)
        self._layer_stats()
        count = max(self.ep_count, 1)
        self.emit(EpochEnded(run_id=self.run_id, epoch=epoch, step=self.step, train_loss=self.ep_loss / count,
                             train_accuracy=self.ep_correct / count, val_loss=val_loss, val_accuracy=val_acc,
                             epoch_seconds=epoch_seconds, samples_per_s=self.ep_count / max(epoch_seconds, 1e-9)))
        self.epochs_done = epoch
        if math.isfinite(val_loss) and (self.best_val is None or val_loss < self.best_val):
            self.best_val, self.bad_epochs = val_loss, 0
        else:
            self.bad_epochs += 1
        if self.checkpoint_dir is not None:
            self._save(0)
        if cfg.patience and self.bad_epochs >= cfg.patience and epoch < cfg.epochs:
            self.log("info", f"early stop: validation loss has not improved for {self.bad_epochs} epoch(s)")
            raise _Stop("early_stopped", f"validation loss did not improve for {self.bad_epochs} epoch(s)")

    # ---- observation ----------------------------------------------------------------------------------
    def _watch(self) -> None:
        """ScalarWatch for every watched address: after backward, before the optimiser step."""
        watched = self.control.watched
        if watched is not self.watch_key:
            self._plan_watch(watched)
        model, emit, run_id, step, now = self.model, self.emit, self.run_id, self.step, time.time()
        for address, kind, obj in self.watch_plan:
            node = obj if kind == "p" else model.last_loss if kind == "loss" else getattr(obj, kind)
            if node is not None:
                emit(ScalarWatch(run_id=run_id, time=now, step=step, address=address, data=node.data,
                                 grad=node.grad))

    def _plan_watch(self, watched: tuple[str, ...]) -> None:
        """Resolve addresses once per change of the watch list; bad ones get one warning each."""
        plan = []
        for address in watched:
            try:
                node = self.model.resolve(address)
            except (KeyError, ValueError, IndexError) as exc:
                if address not in self.warned:
                    self.warned.add(address)
                    reason = str(exc.args[0] if exc.args else exc)
                    self.log("warning", f"cannot watch {reason if address in reason else f'{address!r}: {reason}'}")
                continue
            kind = address.rsplit(".", 1)[-1]
            if address == "loss":
                plan.append((address, "loss", None))
            elif kind in ("z", "a"):
                layer, neuron = (int(part[1:]) for part in address.split(".")[:2])
                plan.append((address, kind, self.model.layers[layer].neurons[neuron]))
            else:
                plan.append((address, "p", node))
        self.watch_key, self.watch_plan = watched, plan

    def _layer_stats(self) -> None:
        """LayerGradStats for every layer from the current grads; dead units over the steps since last time."""
        seen = self.alive_samples
        for i, weights in enumerate(self.layer_weights):
            stats = grad_stats(weights, self.config.lr)
            alive = self.alive[i] if i < len(self.alive) else None
            dead = alive.count(False) / len(alive) if alive and seen else 0.0
            self.emit(LayerGradStats(run_id=self.run_id, step=self.step, layer=i, dead_fraction=dead, **stats))
        self.alive = [[False] * len(a) for a in self.alive]
        self.alive_samples = 0

    def _save(self, batches_done: int) -> Path:
        cfg = self.config
        state = {"config": cfg.to_dict(), "layer_sizes": list(cfg.layer_sizes), "epoch": self.epochs_done,
                 "step": self.step, "samples_seen": self.samples_seen, "batches_into_epoch": batches_done,
                 "epoch_totals": {"loss_sum": self.ep_loss if batches_done else 0.0,
                                  "correct": self.ep_correct if batches_done else 0,
                                  "count": self.ep_count if batches_done else 0},
                 "best_val_loss": self.best_val, "epochs_without_improvement": self.bad_epochs}
        return save_checkpoint(Path(self.checkpoint_dir), state, self.named, self.opt, cfg.optimizer)
