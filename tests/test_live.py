"""A recorded run steered through its folder (core.records.live via core.session): real runs of the handmade engine."""

from __future__ import annotations

import json
import threading
import time

import pytest

from core.backends import RunControl
from core.events import ControlApplied, LearningRateChanged, StepEnded, SystemStats
from core.records import live
from core.records.runlock import RunLock
from core.records.runs import open_run
from core.records.steer import send
from core.session import run_training


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_run_obeys_its_folder_and_records_each_command(tmp_path, tiny_config, tiny_data, monkeypatch):
    monkeypatch.setattr(live, "SYSTEM_EVERY_S", 0.05)
    config = tiny_config.replace(epochs=2000, batch_size=1, optimizer="sgd", lr=0.1)  # far longer than the test
    events, dirs, result = [], [], []
    control = RunControl()
    worker = threading.Thread(target=lambda: result.append(run_training(
        config, events.append, control, runs_dir=tmp_path, data=tiny_data, on_run_dir=dirs.append)))
    worker.start()
    _wait_for(lambda: any(isinstance(e, StepEnded) for e in events))
    run_dir = dirs[0]
    send(run_dir, "set_lr", 0.02)
    _wait_for(lambda: any(isinstance(e, LearningRateChanged) for e in events))
    send(run_dir, "pause")
    _wait_for(lambda: any(isinstance(e, ControlApplied) for e in events))  # recorded where the run holds
    send(run_dir, "resume", source="follower")
    _wait_for(lambda: not control.paused)
    send(run_dir, "stop")
    worker.join(30)
    assert result[0].reason == "stopped"
    (change,) = [e for e in events if isinstance(e, LearningRateChanged)]
    assert (change.lr, change.previous, change.source) == (0.02, 0.1, "cli")
    applied = [(e.command, e.source) for e in events if isinstance(e, ControlApplied)]
    assert applied == [("pause", "cli"), ("resume", "follower"), ("stop", "cli")]
    # Each at the step the run obeyed it: its StepEnded events stop there (and none comes while paused).
    marks = [i for i, e in enumerate(events) if isinstance(e, ControlApplied)]
    pause, resume, stop = (events[i] for i in marks)
    steps_before = [e.step for e in events[:marks[0]] if isinstance(e, StepEnded)]
    assert pause.step > 0 and steps_before[-1] == pause.step
    assert not any(isinstance(e, StepEnded) for e in events[marks[0]:marks[1]]) and resume.step == pause.step
    assert [e.step for e in events[:marks[2]] if isinstance(e, StepEnded)][-1] == stop.step == result[0].steps
    record = open_run(run_dir)
    assert record.summary["reason"] == "stopped" and record.config.lr == 0.1  # config.json: the configured rate
    checkpoint = json.loads((run_dir / "checkpoints" / "scalar.json").read_text())
    assert checkpoint["progress"]["lr"] == 0.02  # a resume goes on at the rate changed before the checkpoint
    assert [type(e) for e in record.events if isinstance(e, (ControlApplied, LearningRateChanged))] == [
        LearningRateChanged, ControlApplied, ControlApplied, ControlApplied]
    assert any(isinstance(e, SystemStats) and e.rss_bytes > 0 for e in record.events)
    assert list((run_dir / "control").iterdir()) == []  # every command consumed


def test_a_second_resume_of_a_run_being_written_is_refused(tmp_path, tiny_config, tiny_data):
    dirs = []
    first = run_training(tiny_config, lambda e: None, RunControl(), runs_dir=tmp_path, data=tiny_data,
                         on_run_dir=dirs.append)
    assert first.reason == "completed"
    before = (dirs[0] / "events.jsonl").read_bytes()
    with RunLock(dirs[0], first.run_id):  # another process is writing it
        second = run_training(tiny_config.replace(epochs=3), lambda e: None, RunControl(), resume=dirs[0],
                              data=tiny_data)
    assert second.reason == "failed" and "is being written by" in second.message
    assert (dirs[0] / "events.jsonl").read_bytes() == before
    assert json.loads((dirs[0] / "summary.json").read_text())["reason"] == "completed"


def test_commands_left_by_a_crashed_run_are_not_obeyed(tmp_path, tiny_config, tiny_data):
    dirs = []
    run_training(tiny_config, lambda e: None, RunControl(), runs_dir=tmp_path, data=tiny_data, on_run_dir=dirs.append)
    send(dirs[0], "stop", require_live=False)  # nobody runs it: the file stays behind, stale
    summary = run_training(tiny_config.replace(epochs=3), lambda e: None, RunControl(), resume=dirs[0],
                           data=tiny_data)
    assert summary.reason == "completed"


def test_every_refused_command_file_is_logged_at_once(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    logged: list = []
    run = live.LiveRun(tmp_path, "r", RunControl(), logged.append, system=False)
    for name in ("1-bad.json", "2-bad.json"):
        (tmp_path / "control" / name).write_text('{"command": "stop", "value": 3, "run_id": "r"}')
    (tmp_path / "control" / "3-junk.json").write_text("not json")
    run.serve_once()  # one look at the inbox logs all three (not one per poll)
    assert [(e.level, e.source) for e in logged] == [("warning", "control")] * 3
    assert "1-bad.json: stop takes no value" in logged[0].message and "3-junk.json" in logged[2].message
    assert not run.control.stop_requested


def test_live_apply_is_the_command_path_with_its_source(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    control = RunControl()
    run = live.LiveRun(tmp_path, "r", control, lambda e: None, system=False)
    run.apply(live.Command("stop"), "signal")
    assert control.stop_requested and control.take_applied() == [("stop", "signal")]
    assert live.command_of("set_lr", 0.5) == live.Command("lr", 0.5)
    with pytest.raises(ValueError):
        live.command_of("jump", None)


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "11"])
def test_bad_learning_rates_are_refused_at_the_sender(tmp_path, bad):
    from core.records.steer import SteerError

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(SteerError, match="learning rate"):
        send(tmp_path, "set_lr", bad, require_live=False)
