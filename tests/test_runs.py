"""Run records: layout, flushing, torn lines, reopening for resume, open_run errors."""

from __future__ import annotations

import json
import os
import time

import pytest

from core.atomic import atomic_write_json
from core.config import TrainConfig
from core.events import EpochEnded, LogLine, RunFinished, RunStarted, StepEnded
from core.records.jsonl import read_jsonl
from core.records.runs import NotARunError, RunRecorder, latest_checkpoint, list_runs, open_run

CFG = TrainConfig(epochs=1, train_subset=64)


def started(run_id: str) -> RunStarted:
    return RunStarted(run_id=run_id, backend="scalar", device="cpu", data_source="test", config=CFG.to_dict(),
                      train_size=64, val_size=32, test_size=32)


def step(run_id: str, n: int) -> StepEnded:
    return StepEnded(run_id=run_id, step=n, epoch=1, loss=1.0 / n, accuracy=0.5, samples_per_s=10.0,
                     samples_seen=n * 8, progress=n / 8)


def test_layout_and_round_trip(tmp_path):
    with RunRecorder(tmp_path, "r1", CFG) as rec:
        rec(started("r1"))
        rec(step("r1", 1))
        rec(RunFinished(run_id="r1", reason="completed", steps=1, epochs_completed=1, seconds=0.1,
                        test_accuracy=0.5, test_loss=float("nan")))
        rec.write_summary({"reason": "completed", "test_loss": float("nan")})
    run = tmp_path / "r1"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.json", "events.jsonl", "summary.json"]
    assert TrainConfig.from_json((run / "config.json").read_text()) == CFG
    summary = json.loads((run / "summary.json").read_text())  # strict JSON: NaN became null
    assert summary == {"reason": "completed", "test_loss": None}
    record = open_run(run)
    assert record.config == CFG and record.status == "completed" and record.run_id == "r1"
    assert [type(e).__name__ for e in record.events] == ["RunStarted", "StepEnded", "RunFinished"]
    assert list_runs(tmp_path) == [run]


def test_flushed_at_epoch_end_before_close(tmp_path):
    rec = RunRecorder(tmp_path, "r2", CFG, flush_interval=3600)
    rec(started("r2"))
    rec(EpochEnded(run_id="r2", epoch=1, step=8, train_loss=1.0, train_accuracy=0.5, val_loss=1.0,
                   val_accuracy=0.5, epoch_seconds=1.0))
    # Another reader sees both lines while the recorder is still open.
    assert len(read_jsonl(tmp_path / "r2" / "events.jsonl")) == 2
    rec(step("r2", 9))
    rec.close()
    assert len(read_jsonl(tmp_path / "r2" / "events.jsonl")) == 3


def test_quiet_spell_is_flushed_by_the_timer(tmp_path):
    rec = RunRecorder(tmp_path, "r5", CFG, flush_interval=0.05)
    rec._last_flush = time.monotonic() + 3600  # so only the background flush can write the line
    rec(started("r5"))
    deadline = time.monotonic() + 10
    while not read_jsonl(tmp_path / "r5" / "events.jsonl") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(read_jsonl(tmp_path / "r5" / "events.jsonl")) == 1
    rec.close()


def test_flushed_at_time_interval(tmp_path):
    rec = RunRecorder(tmp_path, "r3", CFG, flush_interval=0.0)
    rec(started("r3"))
    assert len(read_jsonl(tmp_path / "r3" / "events.jsonl")) == 1
    rec.close()
    rec(step("r3", 1))  # after close: ignored, not an error


def test_torn_last_line_and_reopen(tmp_path):
    with RunRecorder(tmp_path, "r4", CFG) as rec:
        rec(started("r4"))
        rec(step("r4", 1))
    events = tmp_path / "r4" / "events.jsonl"
    with open(events, "a") as fh:
        fh.write('{"type":"StepEnded","run_id":"r4","st')  # killed mid-write
    (tmp_path / "r4" / "summary.json").write_text("{}")
    assert len(open_run(tmp_path / "r4").events) == 2
    with RunRecorder.reopen(tmp_path / "r4", CFG.replace(epochs=2)) as rec:
        assert not (tmp_path / "r4" / "summary.json").exists()  # live again
        rec(LogLine(run_id="r4", level="info", message="resumed"))
    record = open_run(tmp_path / "r4")
    assert [type(e).__name__ for e in record.events] == ["RunStarted", "StepEnded", "LogLine"]
    assert record.config.epochs == 2 and record.summary is None
    assert record.status == "live"  # no lock file to ask (no RunLock here) and written just now


def test_open_run_errors(tmp_path):
    with pytest.raises(NotARunError, match="no such run directory"):
        open_run(tmp_path / "missing")
    with pytest.raises(NotARunError, match="not a run directory"):
        open_run(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{nope")
    with pytest.raises(NotARunError, match="unreadable run config"):
        open_run(tmp_path / "bad")
    with pytest.raises(FileExistsError):
        RunRecorder(tmp_path, "bad", CFG)  # never overwrite another run


def test_latest_checkpoint_prefers_last_and_backend_suffix(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    assert latest_checkpoint(tmp_path, "scalar") is None
    (folder / "epoch-1.json").write_text("{}")
    (folder / "epoch-2.json").write_text("{}")
    os.utime(folder / "epoch-1.json", (1000, 1000))  # newer by its time stamp, not by a sleep between the writes
    os.utime(folder / "epoch-2.json", (2000, 2000))
    (folder / "last.ckpt").write_text("")
    (folder / ".last.json.123.tmp").write_text("")
    assert latest_checkpoint(tmp_path, "scalar").name == "epoch-2.json"
    assert latest_checkpoint(tmp_path, "lightning").name == "last.ckpt"
    (folder / "last.json").write_text("{}")
    os.utime(folder / "last.json", (0, 0))
    assert latest_checkpoint(tmp_path, "scalar").name == "last.json"


def test_atomic_write_json_leaves_no_temporaries(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"a": [1.0, float("inf")]})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": [1.0, None]}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


@pytest.mark.parametrize("content, why", [
    (b"\xff\xfe\x00binary\x9c", "not UTF-8 text"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"[1, 2]", "unreadable run config"),
])
def test_open_run_refuses_hostile_config_files(tmp_path, content, why):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_bytes(content)
    with pytest.raises(NotARunError, match=why):
        open_run(tmp_path / "r")


def test_open_run_of_dot_names_the_folder(tmp_path, monkeypatch):
    with RunRecorder(tmp_path, "20260101-000000-scalar-abcdef", CFG):
        pass
    monkeypatch.chdir(tmp_path / "20260101-000000-scalar-abcdef")
    assert open_run(".").run_id == "20260101-000000-scalar-abcdef"


def test_run_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        with RunRecorder(tmp_path, "run", CFG) as rec:
            rec.write_summary({"reason": "completed"})
        assert (tmp_path / "run" / "config.json").stat().st_mode & 0o777 == 0o640
        assert (tmp_path / "run" / "summary.json").stat().st_mode & 0o777 == 0o640
        os.chmod(tmp_path / "run" / "summary.json", 0o600)
        atomic_write_json(tmp_path / "run" / "summary.json", {"reason": "stopped"})
        assert (tmp_path / "run" / "summary.json").stat().st_mode & 0o777 == 0o600  # a rewrite keeps its mode
    finally:
        os.umask(old)


def test_interrupted_atomic_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    atomic_write_json(target, {"reason": "stopped", "steps": 2021})
    before = target.read_bytes()
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])

    def replace_then_die(src, dst):
        calls.append("replace")
        raise KeyboardInterrupt  # the process is interrupted between fsync and rename

    monkeypatch.setattr(os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_json(target, {"reason": "failed", "steps": 0})
    monkeypatch.setattr(os, "replace", real_replace)
    assert calls == ["fsync", "replace"]  # the data reaches the disk before the name points at it
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_read_events_thins_per_step_events_and_keeps_every_rare_one(tmp_path):
    from core.events import ScalarWatch
    from core.records.scan import read_events

    with RunRecorder(tmp_path, "long", CFG) as rec:
        rec(started("long"))
        for n in range(1, 1001):
            rec(step("long", n))
            for address in ("L0.N0.b", "L0.N1.b", "loss"):
                rec(ScalarWatch(run_id="long", step=n, address=address, data=float(n), grad=0.0))
            if n % 100 == 0:
                rec(EpochEnded(run_id="long", epoch=n // 100, step=n, train_loss=1.0, train_accuracy=0.5,
                               val_loss=1.0, val_accuracy=0.5, epoch_seconds=1.0))
        rec(RunFinished(run_id="long", reason="completed", steps=1000, epochs_completed=10, seconds=1.0))
    events = read_events(tmp_path / "long" / "events.jsonl", capacity=50)
    steps = [e.step for e in events if isinstance(e, StepEnded)]
    assert steps == list(range(1, 1001, 32)) + [1000]  # every 32nd step (stride doubled to fit 50), and the last
    watched = [(e.step, e.address) for e in events if isinstance(e, ScalarWatch)]
    assert watched[:3] == [(32, "L0.N0.b"), (32, "L0.N1.b"), (32, "loss")]  # all watches of a kept step
    assert watched[-3:] == [(1000, "L0.N0.b"), (1000, "L0.N1.b"), (1000, "loss")]
    assert [e.epoch for e in events if isinstance(e, EpochEnded)] == list(range(1, 11))
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    times = [e.time for e in events]
    assert times == sorted(times)  # file order kept


def test_open_run_reads_events_only_when_asked(tmp_path):
    with RunRecorder(tmp_path, "r", CFG) as rec:
        rec(started("r"))
    record = open_run(tmp_path / "r")
    (tmp_path / "r" / "events.jsonl").unlink()  # config and summary were read; the stream not yet
    assert record.config == CFG and record.events == []


def test_stale_temporaries_are_cleaned_when_a_run_is_opened_for_writing(tmp_path):
    with RunRecorder(tmp_path, "r", CFG) as rec:
        rec(started("r"))
    run_dir = tmp_path / "r"
    # SIGKILL during a checkpoint (and a summary) leaves atomic writes' temporaries behind.
    (run_dir / "checkpoints" / ".scalar.json.k3j9x2.tmp").write_bytes(b"\0" * (2 << 20))
    (run_dir / ".summary.json.a1b2c3.tmp").write_text("{")
    (run_dir / "checkpoints" / "scalar.json").write_text("{}")  # the last good checkpoint stays
    (run_dir / "checkpoints" / "notes.tmp").write_text("not ours: no leading dot")
    os.mkfifo(run_dir / "checkpoints" / ".odd.tmp")  # not a regular file: left alone
    assert open_run(run_dir).events  # reading cleans nothing (a live writer may be mid-write)
    assert (run_dir / ".summary.json.a1b2c3.tmp").exists()
    with RunRecorder.reopen(run_dir, CFG) as rec:
        assert rec.cleaned == [".summary.json.a1b2c3.tmp", "checkpoints/.scalar.json.k3j9x2.tmp"]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [".odd.tmp", "notes.tmp", "scalar.json"]
    assert not (run_dir / ".summary.json.a1b2c3.tmp").exists()
