"""A closed terminal is not a stop command: a headless run on a real pty that hangs up goes on to its end.

Each test waits for events (a line in the record, a file gone, the process's end), never for time. The run
streams its events to the terminal (`--jsonl -`, a watched weight at every step: more than a pty holds) and
nobody reads them, so it blocks mid-run on its own output until the terminal goes away: it cannot end first.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest
from pty_process import WAIT_S, PtyProcess

RUN = ("--headless", "--backend", "scalar", "--train-subset", "600", "--val-subset", "50", "--test-subset", "50",
       "--input-size", "7", "--hidden", "16", "--epochs", "3", "--batch-size", "8", "--jsonl", "-",
       "--watch", "L0.N0.w0")  # ~75 KB of output; a pty holds ~15 KB


class PtyRun(PtyProcess):
    """`python -m core` with its terminal on a pty that nobody reads until `read()` is called."""

    def __init__(self, tmp_path: Path, *extra: str) -> None:
        super().__init__(tmp_path, "core", [*RUN, *extra])

    def command(self, *args: str) -> None:
        done = self.cli(*args)
        assert done.returncode == 0, done.stdout + done.stderr

    def stepping(self) -> Path:
        """Wait for a step in the record (the run then blocks on its unread output sooner or later)."""
        self.wait(lambda: self.recorded(lambda e: e["type"] == "StepEnded"), "StepEnded in the record")
        return self.run_dir()

    def pause(self, run: Path) -> None:
        """Pause the run through its folder; return once the run took the command (its file is gone)."""
        self.command("--pause", str(run))
        self.wait(lambda: not any((run / "control").iterdir()), "the pause taken from the control folder")


@pytest.fixture
def pty_run(tmp_path, mnist_dir):
    runs: list[PtyRun] = []

    def start(*extra: str) -> PtyRun:
        runs.append(PtyRun(tmp_path, "--data-dir", str(mnist_dir), *extra))
        return runs[-1]

    yield start
    for run in runs:
        run.close()


def test_a_headless_run_outlives_its_terminal(pty_run):
    run = pty_run()
    run_dir = run.stepping()
    run.pause(run_dir)  # so that it waits for us after the hang-up, to be resumed from another terminal
    run.hang_up()
    run.wait(lambda: run.recorded(lambda e: e["type"] == "LogLine" and e["source"] == "hangup"), "the hang-up recorded")
    run.wait(lambda: run.recorded(lambda e: e["type"] == "ControlApplied" and e["command"] == "pause"), "the pause")
    run.command("--resume-run", str(run_dir))  # still steerable from another terminal
    assert run.proc.wait(WAIT_S) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reason"] == "completed" and summary["epochs_completed"] == 3
    events = run.events()
    hangups = [e for e in events if e["type"] == "LogLine" and e["source"] == "hangup"]
    assert len(hangups) == 1 and "the terminal hung up (SIGHUP)" in hangups[0]["message"]
    assert [(e["command"], e["source"]) for e in events if e["type"] == "ControlApplied"] == [
        ("pause", "cli"), ("resume", "cli")]
    assert events[-1]["type"] == "RunFinished" and events[-1]["reason"] == "completed"


def test_on_hangup_stop_keeps_the_old_behaviour(pty_run):
    run = pty_run("--on-hangup", "stop")
    run_dir = run.stepping()
    run.hang_up()
    assert run.proc.wait(WAIT_S) == 128 + signal.SIGHUP
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reason"] == "stopped" and summary["checkpoint"]
    assert (run_dir / summary["checkpoint"]).is_file() and summary["epochs_completed"] < 3
    events = run.events()
    assert [(e["command"], e["source"]) for e in events if e["type"] == "ControlApplied"] == [("stop", "hangup")]


def test_ctrl_c_is_recorded_as_a_stop_from_a_signal(pty_run):
    run = pty_run()
    run_dir = run.stepping()
    run.proc.send_signal(signal.SIGINT)
    reader = run.read()  # the terminal takes output again: the run reaches its next step and stops there
    assert run.proc.wait(WAIT_S) == 130
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reason"] == "stopped" and summary["epochs_completed"] < 3
    events = run.events()
    stops = [e for e in events if e["type"] == "ControlApplied" and e["command"] == "stop"]
    steps = [e["step"] for e in events if e["type"] == "StepEnded"]
    assert [s["source"] for s in stops] == ["signal"] and stops[0]["step"] == steps[-1]
    reader.join(WAIT_S)  # all the process wrote has been read
    assert b"SIGINT: stopping after the current step" in run.output


class Calls:
    """What a SignalPolicy's callbacks were called with, and a wait for the next one (they run on its thread)."""

    def __init__(self) -> None:
        self.seen: list[tuple] = []
        self.event = threading.Event()

    def stop(self, signum: int, source: str) -> None:
        self.seen.append(("stop", signum, source))
        self.event.set()

    def hangup(self, cause: str) -> None:
        self.seen.append(("hangup", cause))
        self.event.set()

    def next(self) -> tuple:
        assert self.event.wait(WAIT_S), "no callback"
        self.event.clear()
        return self.seen[-1]


def test_the_policy_in_process():
    from core.signals import SignalPolicy

    calls = Calls()
    before = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM)}
    policy = SignalPolicy(on_stop=calls.stop, on_hangup=calls.hangup)
    assert policy.install()
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        assert calls.next() == ("hangup", "SIGHUP") and policy.hung_up and policy.stops == []
        os.kill(os.getpid(), signal.SIGHUP)  # the terminal hangs up once: a repeat changes nothing
        os.kill(os.getpid(), signal.SIGTERM)
        assert calls.next() == ("stop", signal.SIGTERM, "signal") and policy.stops == [signal.SIGTERM]
        assert calls.seen == [("hangup", "SIGHUP"), ("stop", signal.SIGTERM, "signal")]
    finally:
        policy.restore()
    assert {s: signal.getsignal(s) for s in before} == before  # restored as they were


def test_under_stop_a_hang_up_stops_and_a_dead_terminal_is_a_hang_up():
    from core.signals import SignalPolicy, terminal_alive

    master, slave = os.openpty()
    calls = Calls()
    policy = SignalPolicy(on_stop=calls.stop, on_hangup=calls.hangup, hangup="stop", watch_fd=slave)
    assert policy.install()
    try:
        assert terminal_alive(slave) and not policy.terminal_failed()
        os.close(master)  # no SIGHUP: the watcher finds the terminal dead on its own
        assert calls.next() == ("stop", signal.SIGHUP, "hangup") and policy.stops == [signal.SIGHUP]
        assert not terminal_alive(slave)
    finally:
        policy.restore()
        os.close(slave)
