"""One Lightning run: build the module, the Trainer and the events callback, fit, test, report.

Imported lazily by LightningTrainer.fit (it imports torch and lightning).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import lightning as L

from core.backends.lightning.batches import STEPS_PER_CHUNK, DeviceBatches
from core.backends.lightning.callback import EventsCallback
from core.backends.lightning.checkpoint import CHECKPOINT_NAME, load_checkpoint
from core.backends.lightning.device import describe_device, resolve_accelerator
from core.backends.lightning.graphs import graphs_problem
from core.backends.lightning.module import MnistModule
from core.backends.lightning.peers import StoppedWhileWaiting, peer_timeout, process_group_timeout, wait_for_peers
from core.backends.lightning.probe import LightningProbe, take_snapshot
from core.backends.lightning.threads import choose_threads, torch_threads
from core.backends.runbook import Position, RunBook
from core.backends.snapshots import SnapshotBox
from core.events import LogLine, RunStarted

if TYPE_CHECKING:
    from core.backends import RunControl, RunSummary
    from core.config import TrainConfig
    from core.data import MnistData
    from core.events import Event


def make_strategy(config: TrainConfig):
    """Lightning's strategy: DDP with our peer timeout for multi-process runs on auto/ddp, else the name."""
    world = config.devices * config.num_nodes
    if world > 1 and config.strategy in ("auto", "ddp"):
        from lightning.pytorch.strategies import DDPStrategy

        return DDPStrategy(timeout=process_group_timeout())
    return config.strategy


def run_fit(owner, config: TrainConfig, data: MnistData, emit: Callable[[Event], None], control: RunControl, *,
            run_id: str, checkpoint_dir: Path | None, resume_from: Path | None) -> RunSummary:
    """Build everything, run Lightning's fit, test, and report; exceptions propagate to the caller."""
    accelerator = resolve_accelerator(config.device)
    problem = graphs_problem(config, accelerator)
    if problem:
        raise ValueError(problem)
    threads = choose_threads(config)
    with torch_threads(threads):
        return _run(owner, config, data, emit, control, run_id=run_id, checkpoint_dir=checkpoint_dir,
                    resume_from=resume_from, accelerator=accelerator, threads=threads)


def _run(owner, config, data, emit, control, *, run_id, checkpoint_dir, resume_from, accelerator,
         threads) -> RunSummary:
    module = MnistModule(config)
    module.want_graph = bool(getattr(config, "cuda_graphs", False))
    position = Position()
    if resume_from is not None:
        state, position = load_checkpoint(resume_from, config)
        module.net.load_state_dict(state["model"])
        module.optimizer_state = state["optimizer"]
    world = config.devices * config.num_nodes
    # DDP must see each step's forward through its wrapper, which calls training_step: one step per batch.
    chunk = STEPS_PER_CHUNK if world == 1 else 1
    train = DeviceBatches(data.train, config.batch_size, config.seed, epoch_offset=position.epoch, chunk=chunk)
    train.skip = position.batch_in_epoch
    total_steps = config.epochs * math.ceil(len(data.train) // world / config.batch_size)
    book = RunBook(config, run_id, total_steps=total_steps, position=position, emit=emit, control=control)
    box = SnapshotBox()
    owner.module, owner.book, owner.box, owner._probe = module, book, box, LightningProbe(box, config)
    device = describe_device(config.device)
    if world > 1:
        device = f"{device} x{world} ({config.strategy})"
    extra = {"threads": threads} if "threads" in RunStarted.__dataclass_fields__ else {}
    emit(RunStarted(
        run_id=run_id, backend="lightning", device=device, data_source=data.source, config=config.to_dict(),
        train_size=len(data.train), val_size=len(data.val), test_size=len(data.test), total_steps=total_steps,
        parameter_count=config.parameter_count(), resumed_from_step=position.step, **extra,
    ))
    graphs = ", CUDA graphs" if module.want_graph else ""
    emit(LogLine(run_id=run_id, level="info", source="lightning",
                 message=f"training on {device}, {threads} CPU thread{'s' if threads != 1 else ''}{graphs}"))
    callback = EventsCallback(
        config=config, data=data, train=train, emit=emit, control=control, book=book,
        checkpoint_path=None if checkpoint_dir is None else checkpoint_dir / CHECKPOINT_NAME, box=box,
    )
    module.gate, module.after_step, module.before_update = callback.gate, callback.after_step, callback.before_update
    owner.callback = callback
    epochs_left = config.epochs - position.epoch
    try:
        if epochs_left > 0 and not control.stop_requested and config.num_nodes > 1:
            emit(LogLine(run_id=run_id, level="info", source="lightning",
                         message=f"waiting up to {peer_timeout():.0f} s for all {config.num_nodes} nodes"))
            wait_for_peers(config, control)
    except StoppedWhileWaiting:
        pass  # control.stop_requested: the branch below ends the run as stopped, untrained
    test = None
    if epochs_left > 0 and not control.stop_requested:
        trainer = L.Trainer(
            accelerator=accelerator, devices=config.devices, strategy=make_strategy(config),
            num_nodes=config.num_nodes, max_epochs=epochs_left, callbacks=[callback], logger=False,
            enable_checkpointing=False,  # we checkpoint ourselves, atomically, into the run directory
            enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
            limit_val_batches=0,  # validation is one device-resident pass in the callback, not a loop
            use_distributed_sampler=False,  # DeviceBatches shards by rank itself
            default_root_dir=str(checkpoint_dir) if checkpoint_dir else None,
        )
        train.epoch_fn = lambda: trainer.current_epoch
        trainer.fit(module, train_dataloaders=train)
        if not trainer.is_global_zero:
            return book.finished(seconds=book.seconds())[1]
        test = callback.test
    else:  # nothing left to train: a stop before the start, or a resume of a finished run
        module.to("cuda" if accelerator == "gpu" else "cpu")
        params = list(module.net.parameters())
        box.publish(take_snapshot(position.step, params, [None] * len(params)))
        if control.stop_requested:
            book.stop()
        else:
            callback.module = module
            test = callback.test_split()
    event, summary = book.finished(test_loss=None if test is None else test[0],
                                   test_accuracy=None if test is None else test[1])
    emit(event)
    return summary
