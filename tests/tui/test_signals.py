"""The dashboard survives its terminal: SIGHUP/SIGTERM stop its run (checkpoint, summary `stopped`), then exit.

A real `python -m tui` dashboard on a pseudo-terminal, training the handmade engine on real MNIST.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLOW = ("--input-size", "28", "--hidden", "128", "--train-subset", "4000", "--epochs", "5")  # mid-run for minutes


class Dashboard:
    """`python -m tui` on a pty of 140x40; a thread reads its output so its writes never block."""

    def __init__(self, runs_dir: Path, data_dir: Path, *extra: str) -> None:
        self.runs_dir = runs_dir
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui", "--runs-dir", str(runs_dir), "--data-dir", str(data_dir), *SLOW, *extra],
            stdin=slave, stdout=slave, stderr=slave, cwd=runs_dir.parent, env=env, start_new_session=True)
        os.close(slave)
        self.master: int | None = master
        self.output = bytearray()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while self.master is not None:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def wait(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                raise AssertionError(f"the dashboard exited ({self.proc.returncode}) before {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout:.0f} s")
            time.sleep(0.1)

    def run_dir(self) -> Path | None:
        found = [p for p in self.runs_dir.glob("*/events.jsonl") if b'"StepEnded"' in p.read_bytes()]
        return found[0].parent if found else None

    def press_start(self) -> None:
        self.wait(lambda: b"Start (s)" in self.output, 60, "first frame")
        os.write(self.master, b"s")

    def start_run(self) -> Path:
        """Press s once the first frame is drawn; the run folder once its record shows a step."""
        self.press_start()
        self.wait(lambda: self.run_dir() is not None, 120, "StepEnded in the record")
        return self.run_dir()

    def hang_up(self) -> None:
        """The terminal goes away: its master side is closed (writes now fail), then SIGHUP."""
        master, self.master = self.master, None
        os.close(master)
        self.proc.send_signal(signal.SIGHUP)

    def exited_within(self, seconds: float) -> int | None:
        try:
            return self.proc.wait(seconds)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.master is not None:
            os.close(self.master)
            self.master = None


@pytest.fixture
def dashboard(tmp_path, mnist_dir):
    app = Dashboard(tmp_path / "runs", mnist_dir)
    yield app
    app.close()


def test_sighup_stops_the_run_with_a_whole_record_then_exits(dashboard):
    run_dir = dashboard.start_run()
    dashboard.hang_up()
    assert dashboard.exited_within(15) == 128 + signal.SIGHUP
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reason"] == "stopped" and summary["steps"] >= 1
    checkpoints = list((run_dir / "checkpoints").iterdir())
    assert checkpoints, "a stopped run leaves a checkpoint to resume from"
    last = json.loads((run_dir / "events.jsonl").read_text().splitlines()[-1])
    assert last["type"] == "RunFinished" and last["reason"] == "stopped" and last["steps"] == summary["steps"]
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert [(e["command"], e["source"]) for e in events if e["type"] == "ControlApplied"] == [("stop", "signal")]


def test_sigterm_stops_the_run_too(dashboard):
    run_dir = dashboard.start_run()
    dashboard.proc.send_signal(signal.SIGTERM)
    assert dashboard.exited_within(15) == 128 + signal.SIGTERM
    assert json.loads((run_dir / "summary.json").read_text())["reason"] == "stopped"


def test_a_second_signal_exits_at_once(tmp_path, mnist_dir):
    # Lightning spends seconds importing torch before its first step: the stop the first signal asks for
    # cannot be done yet, so only the second signal can end the process this soon, and without a summary.
    app = Dashboard(tmp_path / "runs", mnist_dir, "--backend", "lightning")
    try:
        app.press_start()
        time.sleep(0.5)
        app.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # two separate deliveries (a pending signal sent twice arrives once)
        app.proc.send_signal(signal.SIGTERM)
        assert app.exited_within(5) == 128 + signal.SIGTERM
        assert not list((tmp_path / "runs").glob("*/summary.json"))
    finally:
        app.close()
