"""The run lock: who is writing a run folder (real files and processes)."""

from __future__ import annotations

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

