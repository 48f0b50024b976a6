"""One Lightning run: build the module, the Trainer and the events callback, fit, test, report; checkpoints.

Imported lazily by core.backends.lightning.LightningTrainer.fit.
"""

from __future__ import annotations

import io
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import lightning as L
import torch

from core.backends import RunControl, RunSummary
from core.backends._lightning_events import EventsCallback
from core.backends._lightning_impl import STEPS_PER_CHUNK, DeviceBatches, MnistModule
from core.backends.lightning import CHECKPOINT_NAME, describe_device, resolve_accelerator
from core.events import LogLine, RunFinished, RunStarted
from core.runs import atomic_write_bytes

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.data import MnistData
    from core.events import Event

CHECKPOINT_FORMAT = "mnist-dash-lightning/1"


def save_checkpoint(path: Path, module: MnistModule, optimizer, progress: dict) -> None:
    """Model, optimiser state and progress, written atomically (BytesIO, then atomic rename)."""
    state = {
        "format": CHECKPOINT_FORMAT,
        "config": module.config.to_dict(),
        "model": {k: v.detach().cpu() for k, v in module.net.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        **progress,
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path, config: TrainConfig) -> dict:
    """Read a checkpoint safely (weights_only) and check it fits the configured network."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a Lightning-backend checkpoint of mnist-dash")
    saved = tuple(state["config"].get("hidden", ()))
    saved_sizes = (state["config"].get("input_size", 0) ** 2, *saved, 10)
    if saved_sizes != config.layer_sizes:
        raise ValueError(
            f"{path}: checkpoint network {'-'.join(map(str, saved_sizes))} does not match the configured "
            f"{'-'.join(map(str, config.layer_sizes))}"
        )
    return state


def run_fit(
    owner,
    config: TrainConfig,
    data: MnistData,
    emit: Callable[[Event], None],
    control: RunControl,
    *,
    run_id: str,
    checkpoint_dir: Path | None,
    resume_from: Path | None,
) -> RunSummary:
    """Build everything, run Lightning's fit, test, and report; exceptions propagate to the caller."""
    t0 = time.perf_counter()
    accelerator = resolve_accelerator(config.device)
    module = MnistModule(config)
    owner.module = module
    resumed: dict = {}
    if resume_from is not None:
        resumed = load_checkpoint(resume_from, config)
        module.net.load_state_dict(resumed["model"])
        module.optimizer_state = resumed["optimizer"]
    epochs_done = int(resumed.get("epoch", 0))
    world = config.devices * config.num_nodes
    # DDP must see each step's forward through its wrapper, which calls training_step: one step per batch.
    chunk = STEPS_PER_CHUNK if world == 1 else 1
    train = DeviceBatches(data.train, config.batch_size, config.seed, epoch_offset=epochs_done, chunk=chunk)
    train.skip = int(resumed.get("batch_in_epoch", 0))
    device = describe_device(config.device)
    if world > 1:
        device = f"{device} x{world} ({config.strategy})"
    total_steps = config.epochs * math.ceil(len(data.train) // world / config.batch_size)
    emit(
        RunStarted(
            run_id=run_id,
            backend="lightning",
            device=device,
            data_source=data.source,
            config=config.to_dict(),
            train_size=len(data.train),
            val_size=len(data.val),
            test_size=len(data.test),
            total_steps=total_steps,
            parameter_count=config.parameter_count(),
            resumed_from_step=int(resumed.get("step", 0)),
        )
    )
    callback = EventsCallback(
        config=config,
        data=data,
        train=train,
        emit=emit,
        control=control,
        run_id=run_id,
        total_steps=total_steps,
        checkpoint_path=None if checkpoint_dir is None else checkpoint_dir / CHECKPOINT_NAME,
        resumed=resumed,
        save=save_checkpoint,
    )
    module.gate, module.after_step = callback.gate, callback.after_step
    owner.callback = callback
    epochs_left = config.epochs - epochs_done
    if epochs_left > 0 and not control.stop_requested:
        trainer = L.Trainer(
            accelerator=accelerator,
            devices=config.devices,
            strategy=config.strategy,
            num_nodes=config.num_nodes,
            max_epochs=epochs_left,
            callbacks=[callback],
            logger=False,
            enable_checkpointing=False,  # we checkpoint ourselves, atomically, into the run directory
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            limit_val_batches=0,  # validation is one device-resident pass in the callback, not a loop
            use_distributed_sampler=False,  # DeviceBatches shards by rank itself
            default_root_dir=str(checkpoint_dir) if checkpoint_dir else None,
        )
        train.epoch_fn = lambda: trainer.current_epoch
        emit(LogLine(run_id=run_id, level="info", message=f"training on {device}", source="lightning"))
        trainer.fit(module, train_dataloaders=train)
        if not trainer.is_global_zero:
            return callback.summary(time.perf_counter() - t0, None)
    else:  # nothing left to train: a stop before the start, or a resume of a finished run
        if control.stop_requested:
            callback.reason = "stopped"
        module.to("cuda" if accelerator == "gpu" else "cpu")
        callback.test = module.evaluate(*callback.split_on_device(data.test, module.device))
    summary = callback.summary(time.perf_counter() - t0, None)
    emit(
        RunFinished(
            run_id=run_id,
            reason=summary.reason,
            steps=summary.steps,
            epochs_completed=summary.epochs_completed,
            seconds=summary.seconds,
            test_loss=summary.test_loss,
            test_accuracy=summary.test_accuracy,
            best_val_loss=summary.best_val_loss,
            message=summary.message,
        )
    )
    return summary
