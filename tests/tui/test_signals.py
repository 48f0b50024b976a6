"""The dashboard and its terminal: a hang-up is not a stop, SIGTERM/SIGINT stop, a second signal exits at once.

A real `python -m tui` dashboard on a pseudo-terminal. Every wait ends on an event (a line on the screen, a line
in the record, the process's end), never on time: a run is paused (key p) before the terminal goes, so it
cannot end first, and is resumed afterwards through its folder, as a user would from another terminal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pty_process import ROOT, WAIT_S, PtyProcess, env

SMALL = ("--input-size", "7", "--hidden", "16", "--train-subset", "600", "--val-subset", "50", "--test-subset", "50",
         "--epochs", "2", "--batch-size", "8")
READY = b"faint: raw"  # the plots' legend: the plots are mounted last, after the form (tui/dashboard/screen.py)
GONE_S = 15.0  # a dashboard without a run leaves at once after a hang-up (the issue asks for 5 s on a quiet box)


class Dashboard(PtyProcess):
    """`python -m tui` on a pty of 140x40; a thread reads its output so its writes never block."""

    def __init__(self, tmp_path: Path, data_dir: Path, *extra: str) -> None:
        super().__init__(tmp_path, "tui", ["--data-dir", str(data_dir), *extra], size=(140, 40))
        self.read()

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def ready(self) -> None:
        """Wait for the whole dashboard: keys sent at its first frame, before the form exists, start nothing."""
        self.wait(lambda: self.shows(READY), "the whole dashboard")

    def start_paused(self) -> Path:
        """Start a run and pause it at once (s, p); the run folder once the pause is in its record."""
        self.ready()
        self.press(b"sp")  # paused while it starts: the tiny run cannot end before the pause
        self.wait(lambda: self.recorded(lambda e: e["type"] == "ControlApplied" and e["command"] == "pause"),
                  "the pause in the record")
        return self.run_dir()


@pytest.fixture
def dashboards(tmp_path, mnist_dir):
    made: list[Dashboard] = []

    def start(*extra: str) -> Dashboard:
        made.append(Dashboard(tmp_path, mnist_dir, *SMALL, *extra))
        return made[-1]

    yield start
    for app in made:
        app.close()


def test_a_hang_up_leaves_the_run_training_to_its_end(dashboards):
    app = dashboards()
    run_dir = app.start_paused()
    app.hang_up()
    app.wait(lambda: app.recorded(lambda e: e["type"] == "LogLine" and e["source"] == "hangup"),
             "the hang-up in the record")
    shown = app.cli("--open", str(run_dir), "--headless")  # followable from any terminal meanwhile
    assert shown.returncode == 0 and "paused" in shown.stdout + shown.stderr, shown.stdout + shown.stderr
    assert app.cli("--resume-run", str(run_dir)).returncode == 0  # and steerable
    assert app.exited_within(WAIT_S) == 0  # the process ends with the run, as a completed headless run does
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reason"] == "completed" and summary["epochs_completed"] == 2
    events = app.events()
    assert [(e["command"], e["source"]) for e in events if e["type"] == "ControlApplied"] == [
        ("pause", "key"), ("resume", "cli")]
    assert events[-1]["type"] == "RunFinished" and events[-1]["reason"] == "completed"


def test_on_hangup_stop_stops_the_run_with_a_checkpoint(dashboards):
    app = dashboards("--on-hangup", "stop")
    run_dir = app.start_paused()
    app.hang_up()
    assert app.exited_within(WAIT_S) == 128 + signal.SIGHUP
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reason"] == "stopped" and (run_dir / summary["checkpoint"]).is_file()
    events = app.events()
    assert [(e["command"], e["source"]) for e in events if e["type"] == "ControlApplied"] == [
        ("pause", "key"), ("stop", "hangup")]


@pytest.mark.parametrize("keys", [b"", b"o"], ids=["idle", "runs-table"])
def test_a_hang_up_without_a_run_ends_the_process(dashboards, keys):
    app = dashboards()
    app.ready()
    if keys:
        app.press(keys)
        app.wait(lambda: app.shows(b"Runs"), "the runs table")
    app.hang_up()
    assert app.exited_within(GONE_S) == 128 + signal.SIGHUP


def test_sigterm_stops_the_run_recorded_as_a_signal(dashboards):
    app = dashboards()
    run_dir = app.start_paused()
    app.proc.send_signal(signal.SIGTERM)
    assert app.exited_within(WAIT_S) == 128 + signal.SIGTERM
    assert json.loads((run_dir / "summary.json").read_text())["reason"] == "stopped"
    assert [(e["command"], e["source"]) for e in app.events() if e["type"] == "ControlApplied"] == [
        ("pause", "key"), ("stop", "signal")]


def test_a_second_signal_exits_at_once(tmp_path, mnist_dir):
    # Lightning spends seconds importing torch before its first step: the stop the first signal asks for
    # cannot be done yet, so only the second signal can end the process this soon, and without a summary.
    app = Dashboard(tmp_path, mnist_dir, *SMALL, "--backend", "lightning")
    try:
        app.ready()
        app.press(b"s")
        app.wait(lambda: app.shows(b"starting a lightning run"), "the run starting")
        app.proc.send_signal(signal.SIGTERM)
        # Two separate deliveries (a pending signal sent twice arrives once): the first one's line is on screen.
        app.wait(lambda: app.shows(b"SIGTERM: stopping the run"), "the first signal's line")
        app.proc.send_signal(signal.SIGTERM)
        assert app.exited_within(WAIT_S) == 128 + signal.SIGTERM
        assert not list((tmp_path / "runs").glob("*/summary.json"))
    finally:
        app.close()


def test_the_dashboard_notifies_when_its_run_ends(dashboards, tmp_path):
    got = tmp_path / "summary.json"
    app = dashboards("--notify", f"cat > {got}")
    app.ready()
    app.press(b"s")
    app.wait(lambda: app.shows(b"\x1b]777;notify;mnist-dash: run completed;"), "the notification sequence")
    app.wait(lambda: got.is_file() and got.read_text().endswith("}"), "the --notify command's summary")
    summary = json.loads(got.read_text())
    assert summary["reason"] == "completed" and summary["run_dir"].endswith(app.run_dir().name)


def test_a_followed_run_that_ends_is_announced(dashboards, tmp_path, mnist_dir):
    # A headless run whose terminal nobody reads blocks on its own output mid-run (more than a pty holds):
    # it goes on, and ends, only once the test reads it.
    master, slave = os.openpty()
    headless = subprocess.Popen(
        [sys.executable, "-m", "core", "--headless", *SMALL, "--jsonl", "-", "--watch", "L0.N0.w0", "--no-notify",
         "--runs-dir", str(tmp_path / "runs"), "--data-dir", str(mnist_dir)],
        stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=tmp_path, env=env(tmp_path))
    os.close(slave)
    try:
        records = tmp_path / "runs"
        deadline = time.monotonic() + WAIT_S
        while not any(b'"StepEnded"' in p.read_bytes() for p in records.glob("*/events.jsonl")):
            assert headless.poll() is None and time.monotonic() < deadline, "the headless run never stepped"
            time.sleep(0.05)  # polling interval only
        (run_dir,) = records.iterdir()
        app = dashboards("--open", str(run_dir))
        app.wait(lambda: app.shows(b"following"), "the dashboard following the run")

        def drain() -> None:
            while True:
                try:
                    if not os.read(master, 65536):
                        return
                except OSError:
                    return

        threading.Thread(target=drain, daemon=True).start()
        assert headless.wait(WAIT_S) == 0
        app.wait(lambda: app.shows(b"\x1b]777;notify;mnist-dash: run completed;"), "the notification sequence")
    finally:
        if headless.poll() is None:
            headless.kill()
            headless.wait()
        os.close(master)


class Tmux:
    """A dashboard in a tmux session of its own (its own server socket): killed as a user's session would be."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.socket = f"mnist-dash-test-{os.getpid()}-{id(self)}"
        self.tmp_path = tmp_path
        # No client ever attaches: when tmux sizes the window again it takes default-size (80x24 unless set),
        # which a dashboard would show as "too small". (window-size manual in the file crashes tmux 3.3a.)
        config = tmp_path / "tmux.conf"
        config.write_text("set -g default-size 140x40\n")
        command = " ".join(["exec", sys.executable, "-m", "tui", *(f"'{a}'" for a in args)])
        self.tmux("-f", str(config), "new-session", "-d", "-s", "dash", "-x", "140", "-y", "40",
                  "-e", f"PYTHONPATH={ROOT}", "-e", f"XDG_CONFIG_HOME={tmp_path / 'config'}",
                  "-e", "TERM=xterm-256color", "-c", str(tmp_path), command)
        self.tmux("set-option", "-g", "window-size", "manual")
        self.pid = int(self.tmux("list-panes", "-t", "dash", "-F", "#{pane_pid}").strip())

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True,
                              timeout=30, env=env(self.tmp_path)).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "dash")

    def alive(self) -> bool:
        try:  # not our child: ask the kernel (a zombie counts as gone)
            return Path(f"/proc/{self.pid}/stat").read_text().split()[2] != "Z"
        except OSError:
            return False

    def kill_session(self) -> None:
        self.tmux("kill-server")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)


def wait_for(condition, what: str, timeout: float = WAIT_S, session: Tmux | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f} s" + (f": {session.screen()}" if session else ""))
        time.sleep(0.05)  # polling interval only


@pytest.mark.skipif(subprocess.run(["which", "tmux"], capture_output=True).returncode != 0, reason="no tmux")
def test_killing_the_tmux_session_of_a_training_dashboard(tmp_path, mnist_dir):
    runs = tmp_path / "runs"
    session = Tmux(tmp_path, "--runs-dir", str(runs), "--data-dir", str(mnist_dir), *SMALL)
    try:
        wait_for(lambda: READY.decode() in session.screen(), "the whole dashboard", session=session)
        session.tmux("send-keys", "-t", "dash", "s", "p")  # paused while it starts: it waits for us

        def record() -> list[dict]:
            return [json.loads(x) for p in runs.glob("*/events.jsonl") for x in p.read_text().splitlines()
                    if x.endswith("}")]

        wait_for(lambda: any(e["type"] == "ControlApplied" for e in record()), "the pause in the record",
                 session=session)
        (run_dir,) = runs.iterdir()
        session.kill_session()
        wait_for(lambda: any(e["type"] == "LogLine" and e["source"] == "hangup" for e in record()), "the hang-up")
        assert session.alive()  # the run goes on in the dashboard's process
        subprocess.run([sys.executable, "-m", "core", "--resume-run", str(run_dir)], env=env(tmp_path), check=True,
                       capture_output=True, timeout=WAIT_S)
        wait_for(lambda: not session.alive(), "the process's end once the run ended")
        assert json.loads((run_dir / "summary.json").read_text())["reason"] == "completed"
    finally:
        session.close()


@pytest.mark.skipif(subprocess.run(["which", "tmux"], capture_output=True).returncode != 0, reason="no tmux")
def test_killing_the_tmux_session_of_an_idle_dashboard(tmp_path):
    session = Tmux(tmp_path, "--runs-dir", str(tmp_path / "runs"))
    try:
        wait_for(lambda: READY.decode() in session.screen(), "the whole dashboard", session=session)
        session.kill_session()
        wait_for(lambda: not session.alive(), "the process's end", GONE_S)
    finally:
        session.close()
