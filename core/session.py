"""One training run end to end, shared by the headless mode and the TUI: data, record, trainer, summary."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from core.backends import Command, RunControl, RunSummary, get_trainer, new_run_id
from core.backends.runbook import final_event, run_failed
from core.config import TrainConfig
from core.events import EpochEnded, Event, LogLine, RunFailed, RunFinished, RunStarted
from core.records.files import CHECKPOINTS_DIR
from core.records.live import LiveRun
from core.records.runlock import RunLock, RunLockedError
from core.records.runs import NotARunError, RunRecorder, latest_checkpoint, open_run

if TYPE_CHECKING:
    from core.backends import Trainer
    from core.data import MnistData

Emit = Callable[[Event], None]
# Set by rank zero before fit so processes re-launched by Lightning's DDP launcher share the run id.
RUN_ID_ENV = "MNIST_DASH_RUN_ID"


def global_rank() -> int:
    """This process's rank in a multi-process launch (0 when not launched as one of several processes).

    A rank variable alone proves nothing: `RANK=1` or `SLURM_PROCID=3` left in the environment of a single
    process would silence it and leave no record. Only a launch that also says it started several processes
    (WORLD_SIZE > 1, as Lightning's launcher and torchrun set, or SLURM_NTASKS > 1) makes a process non-zero.
    """
    world = _env_int("WORLD_SIZE")
    if world is not None and world > 1:
        rank = _env_int("RANK")
        if rank is not None:
            return rank
        return (_env_int("LOCAL_RANK") or 0) + (_env_int("NODE_RANK") or _env_int("GROUP_RANK") or 0)
    tasks = _env_int("SLURM_NTASKS")
    if tasks is not None and tasks > 1:
        return _env_int("SLURM_PROCID") or 0
    return 0


def _env_int(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def is_rank_zero(config: TrainConfig | None = None) -> bool:
    """True for every single-process run; in a multi-device Lightning run, only for the first process."""
    if config is not None and (config.backend != "lightning" or config.devices * config.num_nodes == 1):
        return True
    return global_rank() == 0


def run_training(
    config: TrainConfig | None,
    emit: Emit,
    control: RunControl,
    *,
    data_dir: str | Path | None = None,
    runs_dir: str | Path = "runs",
    resume: str | Path | None = None,
    data: MnistData | None = None,
    trainer: Trainer | None = None,
    announce: Callable[[str], None] | None = None,
    on_run_dir: Callable[[Path], None] | None = None,
    record: bool = True,
    on_live: Callable[[LiveRun], None] | None = None,
) -> RunSummary:
    """Run one training run to its end, recording it under runs_dir; never raises for run errors.

    With `resume` (a run directory) the run continues from its latest checkpoint, appending to the same
    events.jsonl; `config` may then be None (the saved one) and always keeps the saved backend.
    Processes of a multi-device run other than rank zero train without writing a record; record=False
    writes nothing at all (no record, no checkpoints). `on_live` receives the run's LiveRun once it records.
    """
    started = time.time()
    resume_from: Path | None = None
    lock: RunLock | None = None
    if resume is not None:
        try:
            saved = open_run(resume)
        except NotARunError as exc:
            return _fail_unrecorded(config, emit, str(exc), "NotARunError", started)
        config = saved.config if config is None else config.replace(backend=saved.config.backend)
        run_id = saved.run_id
        resume_from = saved.latest_checkpoint()
        # Refused before reopening, so a bad attempt never overwrites the run's config or summary.
        if resume_from is None:
            return _fail_unrecorded(config, emit, f"{saved.path}: no {config.backend} checkpoint in "
                                    "checkpoints/ to resume from", "ResumeError", started, run_id)
        if config.layer_sizes != saved.config.layer_sizes:
            shape = "-".join(map(str, saved.config.layer_sizes))
            return _fail_unrecorded(config, emit, f"{saved.path}: a resumed run keeps its network ({shape}); "
                                    "change only epochs, lr, patience and the like", "ResumeError", started, run_id)
        if record and is_rank_zero(config):
            try:  # two resumes of one run at once would interleave their events: the second is refused
                lock = RunLock(saved.path, run_id).acquire()
            except (RunLockedError, OSError) as exc:
                return _fail_unrecorded(config, emit, str(exc), type(exc).__name__, started, run_id)
        # The rate goes on from the checkpoint (the schedule and the changes before it: core.backends.runbook);
        # a new --lr on resume is a change asked from the command line, recorded at the step it takes effect.
        if config.lr != saved.config.lr:
            control.apply(Command("lr", config.lr), "cli")
    else:
        if config is None:
            config = TrainConfig()
        run_id = os.environ.get(RUN_ID_ENV, "") if not is_rank_zero(config) else ""
        run_id = run_id or new_run_id(config.backend)
    rank_zero = is_rank_zero(config)

    recorder: RunRecorder | None = None
    live: LiveRun | None = None
    # A resumed run's record is reopened only once its backend has started (RunStarted): a resume that fails
    # before (bad data, corrupt checkpoint) must leave the old config, events and summary exactly as they were.
    pending: list[Event] | None = [] if record and rank_zero and resume is not None else None
    if record and rank_zero and resume is None:
        try:
            recorder = RunRecorder(runs_dir, run_id, config)
            lock = RunLock(recorder.path, run_id).acquire()
        except (OSError, NotARunError, RunLockedError) as exc:
            return _fail_unrecorded(config, emit, f"cannot write the run record: {exc}", type(exc).__name__, started)
    if record and rank_zero and on_run_dir is not None:
        on_run_dir(recorder.path if recorder else saved.path)
    run_dir = str(recorder.path if recorder else saved.path) if record and rank_zero else ""
    checkpoint_dir = (Path(run_dir) / CHECKPOINTS_DIR if run_dir
                      else None if rank_zero else _shared_checkpoint_dir(runs_dir, run_id, resume))

    facts: dict[str, Any] = {"run_dir": run_dir, "backend": config.backend}
    earlier = (saved.summary or {}).get("best_val_accuracy") if resume is not None else None
    if isinstance(earlier, float):  # a resumed run's best includes the epochs before the resume
        facts["best_val_accuracy"] = earlier
    final: list[Event] = []

    def reopen_record() -> None:
        nonlocal recorder, pending
        backlog, pending = pending or [], None
        try:
            recorder = RunRecorder.reopen(saved.path, config)
        except (OSError, NotARunError) as exc:
            emit(LogLine(run_id=run_id, level="error", source="runs",
                         message=f"cannot reopen the run record {run_dir}: {exc}; training goes on unrecorded"))
            return
        for early in backlog:
            recorder.record(early)
        go_live()

    def go_live() -> None:
        nonlocal live
        try:
            live = LiveRun(Path(run_dir), run_id, control, fan_out).start()
            if on_live is not None:  # the front end's way to command and annotate the run (signals, hang-up)
                on_live(live)
        except OSError as exc:
            emit(LogLine(run_id=run_id, level="warning", source="control",
                         message=f"the run cannot be steered through its folder: {exc}"))

    def fan_out(event: Event) -> None:
        if live is not None:
            live.observe(event)
        if isinstance(event, RunStarted):
            if not event.run_dir and run_dir:
                event = dataclasses.replace(event, run_dir=run_dir)
            facts.update(device=event.device, data_source=event.data_source,
                         resumed_from_step=event.resumed_from_step)
            if run_dir and data is not None:
                _record_data(run_dir, data)
            if pending is not None:
                reopen_record()
        elif isinstance(event, EpochEnded) and math.isfinite(event.val_accuracy):
            best = facts.get("best_val_accuracy")
            facts["best_val_accuracy"] = event.val_accuracy if best is None else max(best, event.val_accuracy)
        elif isinstance(event, (RunFinished, RunFailed)):
            final.append(event)
        if pending is not None and not isinstance(event, (RunFinished, RunFailed)):
            pending.append(event)
        elif recorder is not None:
            try:
                recorder.record(event)
            except OSError as exc:  # a full disk must not kill the run; say it once
                recorder.closed = True
                emit(LogLine(run_id=run_id, level="error", source="runs",
                             message=f"stopped recording to {run_dir}: {exc}"))
        emit(event)

    if recorder is not None:
        go_live()
    try:
        if data is None:
            from core.data import DataError, load_data

            try:
                data = load_data(config, data_dir, announce=announce)
            except DataError as exc:
                raise _RunError(str(exc), "DataError") from None
        if trainer is None:
            try:
                trainer = get_trainer(config.backend)
            except ImportError as exc:
                raise _RunError(f"the {config.backend} backend cannot be imported: {exc}", "ImportError") from None
        if rank_zero:
            os.environ[RUN_ID_ENV] = run_id
        summary = trainer.fit(config, data, fan_out, control, run_id=run_id,
                              checkpoint_dir=checkpoint_dir, resume_from=resume_from)
        if not final:  # the backend broke the protocol; close the stream for it
            fan_out(final_event(summary))
    except _RunError as exc:
        event, summary = run_failed(run_id, str(exc), kind=exc.kind, seconds=_since(started))
        fan_out(event)
    except Exception as exc:  # a backend bug: report it as a failed run, never raise
        event, summary = run_failed(run_id, exc, seconds=_since(started))
        fan_out(event)
    finally:
        if rank_zero:
            os.environ.pop(RUN_ID_ENV, None)

    if live is not None:
        live.stop()
    if recorder is not None:
        try:
            recorder.write_summary(_summary_dict(summary, facts, final, recorder, started))
        except OSError as exc:
            emit(LogLine(run_id=run_id, level="error", source="runs", message=f"cannot write summary.json: {exc}"))
        recorder.close()
    if lock is not None:
        lock.release()
    return summary


def _record_data(run_dir: str, data: MnistData) -> None:
    """Say in the run folder where its digits came from, so a resume trains on the same ones."""
    from core.datasource import record

    try:
        record(run_dir, data)
    except OSError:
        pass  # a resume without it searches as before, or takes --data-dir


class _RunError(Exception):
    def __init__(self, message: str, kind: str = "RunError") -> None:
        super().__init__(message)
        self.kind = kind


def _since(started: float) -> float:
    return round(time.time() - started, 3)


def _fail_unrecorded(config: TrainConfig | None, emit: Emit, message: str, kind: str, started: float,
                     run_id: str | None = None) -> RunSummary:
    run_id = run_id or new_run_id(config.backend if config else "run")
    event, summary = run_failed(run_id, message, kind=kind, seconds=_since(started))
    emit(event)
    return summary


def _shared_checkpoint_dir(runs_dir: str | Path, run_id: str, resume: str | Path | None) -> Path:
    """Non-zero ranks point at rank zero's folder (Lightning saves from rank zero only)."""
    base = Path(resume) if resume is not None else Path(runs_dir) / run_id
    return base / CHECKPOINTS_DIR


def _summary_dict(summary: RunSummary, facts: dict[str, Any], final: list[Event], recorder: RunRecorder,
                  started: float) -> dict[str, Any]:
    out: dict[str, Any] = summary.to_dict()
    out.update(facts)
    last = final[-1] if final else None
    if isinstance(last, RunFailed):
        out["error"] = last.error
        out["error_type"] = last.error_type
    checkpoint = latest_checkpoint(recorder.path, facts.get("backend", ""))
    out["checkpoint"] = str(checkpoint.relative_to(recorder.path)) if checkpoint else None
    out["started_at"] = _iso(started)
    out["finished_at"] = _iso(time.time())
    return out


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
