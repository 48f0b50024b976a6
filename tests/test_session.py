"""run_training with scripted trainers: records, fan-out, failures that never raise, resume."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.backends import RunControl, RunSummary
from core.config import TrainConfig
from core.events import EpochEnded, RunFailed, RunFinished, RunStarted, StepEnded
from core.records.runs import open_run
from core.session import global_rank, is_rank_zero, run_training

CFG = TrainConfig(epochs=2, train_subset=64, val_subset=32, test_subset=32, input_size=7)
FAKE_DATA = SimpleNamespace(is_sample=True, source="embedded sample")  # the scripted trainers never read it


class ScriptedTrainer:
    """Emits a fixed, protocol-abiding stream and writes one checkpoint per epoch."""

    name = "scalar"

    def __init__(self, stop_after_epoch: int | None = None, emit_final: bool = True):
        self.stop_after_epoch = stop_after_epoch
        self.emit_final = emit_final
        self.calls: list[dict] = []

    def fit(self, config, data, emit, control, *, run_id=None, checkpoint_dir=None, resume_from=None):
        self.calls.append({"run_id": run_id, "checkpoint_dir": checkpoint_dir, "resume_from": resume_from})
        start = int(json.loads(Path(resume_from).read_text())["epoch"]) if resume_from else 0
        emit(RunStarted(run_id=run_id, backend="scalar", device="cpu", data_source="scripted",
                        config=config.to_dict(), train_size=64, val_size=32, test_size=32,
                        resumed_from_step=start * 8))
        epoch = start
        for epoch in range(start + 1, config.epochs + 1):
            emit(StepEnded(run_id=run_id, step=epoch * 8, epoch=epoch, loss=0.5, accuracy=0.5, samples_per_s=1.0,
                           samples_seen=epoch * 64, progress=epoch / config.epochs))
            emit(EpochEnded(run_id=run_id, epoch=epoch, step=epoch * 8, train_loss=0.5, train_accuracy=0.5,
                            val_loss=0.5, val_accuracy=0.5, epoch_seconds=0.1))
            (Path(checkpoint_dir) / "last.json").write_text(json.dumps({"epoch": epoch}))
            if epoch == self.stop_after_epoch:
                break
        reason = "stopped" if epoch == self.stop_after_epoch else "completed"
        test = None if reason == "stopped" else 0.75
        if self.emit_final:
            emit(RunFinished(run_id=run_id, reason=reason, steps=epoch * 8, epochs_completed=epoch,
                             seconds=0.2, test_accuracy=test, test_loss=0.6 if test else None))
        return RunSummary(run_id=run_id, reason=reason, steps=epoch * 8, epochs_completed=epoch, seconds=0.2,
                          test_accuracy=test, test_loss=0.6 if test else None)


class ExplodingTrainer:
    name = "scalar"

    def fit(self, *args, **kwargs):
        raise RuntimeError("backend bug")


def test_records_and_fans_out(tmp_path):
    seen = []
    dirs = []
    summary = run_training(CFG, seen.append, RunControl(), runs_dir=tmp_path, data=FAKE_DATA,
                           trainer=ScriptedTrainer(), on_run_dir=dirs.append)
    assert summary.reason == "completed"
    run = open_run(dirs[0])
    assert run.path.parent == tmp_path and run.config == CFG
    assert [type(e) for e in run.events] == [type(e) for e in seen]
    assert seen[0].run_dir == str(run.path)  # RunStarted learns where it is recorded
    assert run.summary["reason"] == "completed" and run.summary["test_accuracy"] == 0.75
    assert run.summary["run_dir"] == str(run.path) and run.summary["checkpoint"] == "checkpoints/last.json"
    assert run.summary["device"] == "cpu" and run.summary["backend"] == "scalar"


def test_backend_exception_becomes_failed_record(tmp_path):
    seen = []
    summary = run_training(CFG, seen.append, RunControl(), runs_dir=tmp_path, data=FAKE_DATA,
                           trainer=ExplodingTrainer())
    assert summary.reason == "failed" and "backend bug" in summary.message
    assert type(seen[-1]).__name__ == "RunFailed"
    (run_dir,) = tmp_path.iterdir()
    summary_json = json.loads((run_dir / "summary.json").read_text())
    assert summary_json["reason"] == "failed" and summary_json["error"] == "backend bug"


def test_data_error_is_a_failed_run(tmp_path):
    seen = []
    summary = run_training(CFG, seen.append, RunControl(), runs_dir=tmp_path / "runs",
                           data_dir=tmp_path / "no-such-dir", trainer=ScriptedTrainer())
    assert summary.reason == "failed"
    assert type(seen[-1]).__name__ == "RunFailed" and seen[-1].error_type == "DataError"
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "summary.json").read_text())["reason"] == "failed"


def test_missing_final_event_is_supplied(tmp_path):
    seen = []
    run_training(CFG, seen.append, RunControl(), runs_dir=tmp_path, data=FAKE_DATA,
                 trainer=ScriptedTrainer(emit_final=False))
    assert isinstance(seen[-1], RunFinished) and seen[-1].reason == "completed"


def test_resume_continues_the_same_record(tmp_path):
    dirs = []
    first = run_training(CFG, lambda e: None, RunControl(), runs_dir=tmp_path, data=FAKE_DATA,
                         trainer=ScriptedTrainer(stop_after_epoch=1), on_run_dir=dirs.append)
    assert first.reason == "stopped"
    assert open_run(dirs[0]).summary["reason"] == "stopped"
    trainer = ScriptedTrainer()
    second = run_training(None, lambda e: None, RunControl(), resume=dirs[0], data=FAKE_DATA, trainer=trainer)
    assert second.reason == "completed" and second.run_id == first.run_id
    assert trainer.calls[0]["resume_from"] == dirs[0] / "checkpoints" / "last.json"
    run = open_run(dirs[0])
    kinds = [type(e).__name__ for e in run.events]
    assert kinds.count("RunStarted") == 2 and kinds[-1] == "RunFinished"
    assert run.events[kinds.index("RunStarted", 1)].resumed_from_step == 8
    assert run.summary["reason"] == "completed" and list(tmp_path.iterdir()) == [dirs[0]]


def test_resume_keeps_backend_and_reports_missing_checkpoint(tmp_path):
    dirs = []
    run_training(CFG, lambda e: None, RunControl(), runs_dir=tmp_path, data=FAKE_DATA,
                 trainer=ScriptedTrainer(stop_after_epoch=1), on_run_dir=dirs.append)
    for p in (dirs[0] / "checkpoints").iterdir():
        p.unlink()
    seen = []
    summary = run_training(CFG.replace(backend="lightning"), seen.append, RunControl(), resume=dirs[0],
                           data=FAKE_DATA, trainer=ScriptedTrainer())
    assert summary.reason == "failed" and "no scalar checkpoint" in summary.message
    record = open_run(dirs[0])
    assert record.config.backend == "scalar" and record.summary["reason"] == "stopped"  # untouched
    assert type(seen[-1]).__name__ == "RunFailed" and seen[-1].run_id == record.run_id


def test_resume_refuses_a_new_network_shape(tmp_path):
    dirs = []
    run_training(CFG, lambda e: None, RunControl(), runs_dir=tmp_path, data=FAKE_DATA,
                 trainer=ScriptedTrainer(stop_after_epoch=1), on_run_dir=dirs.append)
    before = (dirs[0] / "events.jsonl").read_text()
    summary = run_training(CFG.replace(hidden=(16,)), lambda e: None, RunControl(), resume=dirs[0],
                           data=FAKE_DATA, trainer=ScriptedTrainer())
    assert summary.reason == "failed" and "keeps its network (49-64-32-10)" in summary.message
    assert open_run(dirs[0]).config == CFG and (dirs[0] / "events.jsonl").read_text() == before


def test_resume_of_a_non_run_fails_cleanly(tmp_path):
    seen = []
    summary = run_training(None, seen.append, RunControl(), resume=tmp_path, data=FAKE_DATA)
    assert summary.reason == "failed" and "not a run directory" in summary.message
    assert type(seen[-1]).__name__ == "RunFailed"


def test_record_false_writes_nothing(tmp_path):
    summary = run_training(CFG, lambda e: None, RunControl(), runs_dir=tmp_path / "runs", data=FAKE_DATA,
                           trainer=_NoCheckpoint(), record=False)
    assert summary.reason == "completed" and not (tmp_path / "runs").exists()


class _NoCheckpoint(ScriptedTrainer):
    def fit(self, config, data, emit, control, *, run_id=None, checkpoint_dir=None, resume_from=None):
        assert checkpoint_dir is None
        emit(RunFinished(run_id=run_id, reason="completed", steps=1, epochs_completed=1, seconds=0.1))
        return RunSummary(run_id=run_id, reason="completed", steps=1, epochs_completed=1, seconds=0.1)


class _FailsOnCheckpoint(ScriptedTrainer):
    """A backend that finds the checkpoint corrupt: it fails before announcing the run, as backends must."""

    def fit(self, config, data, emit, control, *, run_id=None, checkpoint_dir=None, resume_from=None):
        emit(RunFailed(run_id=run_id, error=f"{resume_from}: corrupt checkpoint", error_type="CheckpointError"))
        return RunSummary(run_id=run_id, reason="failed", steps=0, epochs_completed=0, seconds=0.0)


def _stopped_run(tmp_path) -> Path:
    dirs = []
    run_training(CFG, lambda e: None, RunControl(), runs_dir=tmp_path, data=FAKE_DATA,
                 trainer=ScriptedTrainer(stop_after_epoch=1), on_run_dir=dirs.append)
    return dirs[0]


def _files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file() and p.name != "run.lock"}


def test_failed_resume_leaves_the_record_untouched(tmp_path):
    run_dir = _stopped_run(tmp_path)
    before = _files(run_dir)
    seen = []
    summary = run_training(CFG.replace(epochs=5), seen.append, RunControl(), resume=run_dir, data=FAKE_DATA,
                           trainer=_FailsOnCheckpoint())
    assert summary.reason == "failed" and type(seen[-1]).__name__ == "RunFailed"
    assert _files(run_dir) == before  # summary still "stopped, 8 steps", config still epochs=2, no new events
    assert json.loads(before["summary.json"])["reason"] == "stopped"


def test_resume_with_bad_data_dir_leaves_the_record_untouched(tmp_path):
    run_dir = _stopped_run(tmp_path)
    before = _files(run_dir)
    summary = run_training(None, lambda e: None, RunControl(), resume=run_dir, data_dir=tmp_path / "nowhere",
                           trainer=ScriptedTrainer())
    assert summary.reason == "failed" and "nowhere" in summary.message
    assert _files(run_dir) == before


def test_resume_dot_from_inside_the_run_folder(tmp_path, monkeypatch):
    run_dir = _stopped_run(tmp_path)
    monkeypatch.chdir(run_dir)
    summary = run_training(None, lambda e: None, RunControl(), resume=".", data=FAKE_DATA, trainer=ScriptedTrainer())
    assert summary.run_id == run_dir.name and summary.reason == "completed"
    record = open_run(run_dir)
    assert {e.run_id for e in record.events} == {run_dir.name} and record.summary["reason"] == "completed"


@pytest.mark.parametrize("env", [{"RANK": "1"}, {"SLURM_PROCID": "3"}, {"LOCAL_RANK": "2", "NODE_RANK": "1"}])
def test_stray_rank_variables_do_not_silence_a_single_process_run(tmp_path, monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert global_rank() == 0
    dirs = []
    summary = run_training(CFG, lambda e: None, RunControl(), runs_dir=tmp_path, data=FAKE_DATA,
                           trainer=ScriptedTrainer(), on_run_dir=dirs.append)
    assert summary.reason == "completed" and open_run(dirs[0]).summary["reason"] == "completed"


def test_a_real_multi_process_launch_sets_the_rank(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert global_rank() == 1
    multi = CFG.replace(backend="lightning", devices=2)
    assert not is_rank_zero(multi) and is_rank_zero(CFG)  # a handmade run is always its own rank zero
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert global_rank() == 0
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_PROCID", "3")
    assert global_rank() == 3


class _RisingAccuracy(ScriptedTrainer):
    """Validation accuracy 0.25 in epoch 1, 0.75 in epoch 2, 0.5 in epoch 3."""

    def fit(self, config, data, emit, control, *, run_id=None, checkpoint_dir=None, resume_from=None):
        start = int(json.loads(Path(resume_from).read_text())["epoch"]) if resume_from else 0
        emit(RunStarted(run_id=run_id, backend="scalar", device="cpu", data_source="scripted",
                        config=config.to_dict(), train_size=64, val_size=32, test_size=32))
        for epoch in range(start + 1, config.epochs + 1):
            emit(EpochEnded(run_id=run_id, epoch=epoch, step=epoch * 8, train_loss=0.5, train_accuracy=0.5,
                            val_loss=0.5, val_accuracy=(0.25, 0.75, 0.5)[epoch - 1], epoch_seconds=0.1))
            (Path(checkpoint_dir) / "last.json").write_text(json.dumps({"epoch": epoch}))
        emit(RunFinished(run_id=run_id, reason="completed", steps=8 * config.epochs, epochs_completed=config.epochs,
                         seconds=0.1))
        return RunSummary(run_id=run_id, reason="completed", steps=8 * config.epochs,
                          epochs_completed=config.epochs, seconds=0.1)


def test_summary_keeps_the_best_validation_accuracy_across_a_resume(tmp_path):
    dirs = []
    run_training(CFG, lambda e: None, RunControl(), runs_dir=tmp_path, data=FAKE_DATA, trainer=_RisingAccuracy(),
                 on_run_dir=dirs.append)
    assert open_run(dirs[0]).summary["best_val_accuracy"] == 0.75
    run_training(CFG.replace(epochs=3), lambda e: None, RunControl(), resume=dirs[0], data=FAKE_DATA,
                 trainer=_RisingAccuracy())
    assert open_run(dirs[0]).summary["best_val_accuracy"] == 0.75  # epoch 3's 0.5 does not replace it
