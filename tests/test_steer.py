"""Steering through the run folder: command files and the inbox (real files; the lock is in test_runlock.py)."""

from __future__ import annotations

import json
import os

import pytest

from core.records import steer
from core.records.runlock import RunLock
from core.records.steer import ControlInbox, SteerError


@pytest.fixture
def run_dir(tmp_path):
    folder = tmp_path / "run-1"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return folder


def test_validate_learning_rates():
    assert steer.validate("set_lr", 0.01) == 0.01
    assert steer.validate("set_lr", "0.5") == 0.5
    assert steer.validate("set_lr", 10) == 10.0
    for bad in (0, -0.1, 10.5, float("nan"), float("inf"), "fast", True, None, "1e999"):
        with pytest.raises(SteerError):
            steer.validate("set_lr", bad)
    assert steer.validate("stop") is None
    with pytest.raises(SteerError, match="takes no value"):
        steer.validate("pause", 3)
    with pytest.raises(SteerError, match="unknown command"):
        steer.validate("explode")


def test_a_command_reaches_the_live_run_once_and_in_order(run_dir):
    with RunLock(run_dir, "run-1"):
        inbox = ControlInbox(run_dir, "run-1", interval=0.0)
        assert inbox.poll() == []
        steer.send(run_dir, "pause")
        steer.send(run_dir, "set_lr", 0.02)
        steer.send(run_dir, "stop")
        got = inbox.poll()
        assert [(c.command, c.value) for c in got] == [("pause", None), ("set_lr", 0.02), ("stop", None)]
        assert got[0].sender_pid == os.getpid()
        assert inbox.poll(force=True) == []
        assert os.listdir(run_dir / "control") == []  # consumed


def test_sending_to_a_run_that_is_not_running_is_refused(run_dir, tmp_path):
    with pytest.raises(SteerError, match="not running"):
        steer.send(run_dir, "stop")
    with pytest.raises(SteerError, match="not a run folder"):
        steer.send(tmp_path, "stop", require_live=False)


def test_stale_commands_of_a_crashed_run_are_dropped(run_dir):
    folder = steer.control_dir(run_dir)
    old = {"command": "stop", "value": None, "sent": 1.0, "sender_pid": 1, "target_pid": 999_999_999,
           "run_id": "run-1"}
    (folder / "00000000000000000001-1-aaaa-stop.json").write_text(json.dumps(old))
    inbox = ControlInbox(run_dir, "run-1", interval=0.0)
    assert inbox.poll(force=True) == []
    assert os.listdir(folder) == []
    # A file arriving later for another pid (the crashed process) is ignored too, not obeyed.
    (folder / "00000000000000000002-1-bbbb-stop.json").write_text(json.dumps(old))
    assert inbox.poll(force=True) == []


def test_invalid_files_are_reported_not_obeyed(run_dir):
    inbox = ControlInbox(run_dir, "run-1", interval=0.0)
    folder = run_dir / "control"
    bad_lr = {"command": "set_lr", "value": 1e9, "sent": 1.0, "sender_pid": 1, "target_pid": os.getpid()}
    (folder / "1-x-set_lr.json").write_text(json.dumps(bad_lr))
    (folder / "2-x-stop.json").write_bytes(b"\xff\xfe not json")
    os.symlink("/etc/passwd", folder / "3-x-stop.json")
    assert inbox.poll(force=True) == []
    assert len(inbox.rejected) == 3
    assert "at most 10" in inbox.rejected[0]


def test_the_control_folder_has_the_run_folders_permissions(run_dir):
    os.chmod(run_dir, 0o750)
    assert steer.control_dir(run_dir).stat().st_mode & 0o777 == 0o750


def test_permission_denied_is_a_clear_error(run_dir):
    if os.geteuid() == 0:
        pytest.skip("root may write anywhere")
    with RunLock(run_dir):
        steer.control_dir(run_dir).chmod(0o500)
        try:
            with pytest.raises(SteerError, match="permission denied"):
                steer.send(run_dir, "stop")
        finally:
            (run_dir / "control").chmod(0o700)


def test_polling_is_rate_limited(run_dir):
    with RunLock(run_dir):
        inbox = ControlInbox(run_dir, interval=60.0)
        assert inbox.poll() == []  # the first poll looks
        steer.send(run_dir, "stop")
        assert inbox.poll() == []  # within the interval: not even a stat
        assert [c.command for c in inbox.poll(force=True)] == ["stop"]


def test_a_control_folder_that_is_a_symlink_is_refused(run_dir, tmp_path, capsys):
    from core.cli import main

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run_dir / "control").symlink_to(elsewhere)
    with RunLock(run_dir, "run-1"):
        with pytest.raises(SteerError, match="control: not a folder \\(a symlink\\): refused"):
            steer.send(run_dir, "stop")
        assert main(["--stop", str(run_dir)]) == 2
    assert "not a folder (a symlink): refused" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []  # nothing written through the link
