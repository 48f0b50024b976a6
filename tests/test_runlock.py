"""The run lock: who is writing a run folder (real files and processes)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys

import pytest

from core.records import runlock
from core.records.runlock import RunLock, RunLockedError


@pytest.fixture
def run_dir(tmp_path):
    folder = tmp_path / "run-1"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return folder


def test_run_lock_refuses_a_second_writer_and_frees_on_release(run_dir):
    assert runlock.live_pid(run_dir) is None
    with RunLock(run_dir, "run-1"):
        assert runlock.live_pid(run_dir) == os.getpid()
        assert runlock.lock_info(run_dir).run_id == "run-1"
        with pytest.raises(RunLockedError, match=f"process {os.getpid()}"):
            RunLock(run_dir, wait=0.0).acquire()
    assert runlock.live_pid(run_dir) is None
    with RunLock(run_dir):  # free again
        pass


HOLDER = """
import sys, time
from core.records.runlock import RunLock
lock = RunLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_killed_process_frees_its_lock(run_dir):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        assert proc.stdout.readline().strip() == "locked"
        assert runlock.live_pid(run_dir) == proc.pid
        with pytest.raises(RunLockedError):
            RunLock(run_dir, wait=0.0).acquire()
    finally:
        proc.kill()
        proc.wait()
    assert runlock.live_pid(run_dir) is None  # the kernel released it; the file (with a stale pid) remains
    assert json.loads((run_dir / "run.lock").read_text())["pid"] == proc.pid



def test_a_symlinked_lock_file_is_refused_and_its_target_left_alone(run_dir, tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (run_dir / "run.lock").symlink_to(target)
    with pytest.raises(OSError):
        RunLock(run_dir).acquire()
    assert target.read_text() == "keep me\n"
    assert runlock.lock_info(run_dir) is None


def test_a_fifo_as_lock_file_is_refused_never_waited_on(run_dir):
    import threading

    os.mkfifo(run_dir / "run.lock")
    seen: list = []
    probe = threading.Thread(target=lambda: seen.append(runlock.lock_info(run_dir)), daemon=True)
    probe.start()
    probe.join(30)  # opening it for reading without O_NONBLOCK blocks for ever: a failure, never a hang
    assert seen == [None]
    with pytest.raises(OSError, match="not a regular file"):
        RunLock(run_dir).acquire()


def test_a_readers_brief_probe_does_not_make_a_starting_run_fail(run_dir, monkeypatch):
    # A reader (lock_info) holds a shared lock for an instant; the writer retries within `wait` instead of failing.
    (run_dir / "run.lock").write_text("")
    reader = os.open(run_dir / "run.lock", os.O_RDONLY)
    fcntl.flock(reader, fcntl.LOCK_SH)
    real_sleep = runlock.time.sleep

    def reader_lets_go(seconds: float) -> None:  # the writer's first retry: the reader is done by then
        fcntl.flock(reader, fcntl.LOCK_UN)
        real_sleep(seconds)

    monkeypatch.setattr(runlock.time, "sleep", reader_lets_go)
    try:
        with RunLock(run_dir, "run-1"):  # the default wait
            assert runlock.live_pid(run_dir) == os.getpid()
    finally:
        os.close(reader)


def test_a_long_stale_line_in_the_lock_leaves_no_wrong_pid(run_dir):
    (run_dir / "run.lock").write_text(json.dumps({"pid": 99999999, "host": "h" * 300, "run_id": "old"}) + "\n")
    with RunLock(run_dir, "run-1"):
        assert json.loads((run_dir / "run.lock").read_text())["pid"] == os.getpid()
        assert runlock.lock_info(run_dir).pid == os.getpid()


def test_a_held_lock_with_junk_in_it_is_live_with_pid_0(run_dir):
    (run_dir / "run.lock").write_bytes(b"\x00junk, not JSON")
    holder = os.open(run_dir / "run.lock", os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another open file: the same process, as good as another one
    try:
        assert runlock.lock_info(run_dir) == runlock.LockInfo(pid=0, host="")
        assert runlock.live_pid(run_dir) == 0
    finally:
        os.close(holder)


def test_the_refusal_names_the_holder_not_the_refused_process(run_dir):
    (run_dir / "run.lock").write_text(json.dumps({"pid": 4242, "host": "gpu-7", "run_id": "r"}))
    holder = os.open(run_dir / "run.lock", os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        with pytest.raises(RunLockedError) as refused:
            RunLock(run_dir, wait=0.0).acquire()
    finally:
        os.close(holder)
    assert str(refused.value) == (f"{run_dir}: the run is being written by process 4242 on gpu-7; stop that run "
                                  "first (or wait for it to end)")
