"""A run's end announced: the escape sequence each terminal shows as a desktop notification, and --notify CMD."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from core import notify, terminal

ROOT = Path(__file__).resolve().parents[1]
TINY = ("--headless", "--train-subset", "64", "--val-subset", "16", "--test-subset", "16", "--epochs", "1",
        "--input-size", "7", "--hidden", "8")
SUMMARY = {"reason": "completed", "run_dir": "runs/20260101-scalar-abc", "test_accuracy": 0.5, "steps": 8}


def test_each_terminal_gets_its_own_sequence_then_the_bell():
    assert notify.sequence("T", "B", {"TERM": "xterm-256color"}) == "\x1b]777;notify;T;B\x1b\\\a"
    assert notify.sequence("T", "B", {"TERM": "xterm-kitty"}) == "\x1b]99;i=1:d=0;T\x1b\\\x1b]99;i=1:p=body;B\x1b\\\a"
    assert notify.sequence("T", "B", {"TERM_PROGRAM": "iTerm.app"}) == "\x1b]9;T: B\x1b\\\a"
    assert notify.sequence("T", "B", {"LC_TERMINAL": "iTerm2"}) == "\x1b]9;T: B\x1b\\\a"  # what ssh passes on
    assert notify.sequence("T", "B", {"WT_SESSION": "1"}) == "\x1b]9;T: B\x1b\\\a"


def test_inside_tmux_the_sequence_is_wrapped_for_passthrough():
    wrapped = notify.sequence("T", "B", {"TERM": "screen", "TMUX": "/tmp/tmux-0/default,1,0"})
    assert wrapped == "\x1bPtmux;\x1b\x1b]777;notify;T;B\x1b\x1b\\\x1b\\\a"


def test_control_characters_cannot_end_the_sequence_early():
    assert notify.osc("a\x1bb\ac;d", "x\ny", 777) == "\x1b]777;notify;a b c,d;x y\x1b\\"


def test_the_title_and_body_say_how_the_run_ended():
    assert notify.describe(SUMMARY) == ("mnist-dash: run completed", "20260101-scalar-abc, test accuracy 50.00%")
    assert notify.describe({"reason": "diverged", "run_dir": "r", "best_val_accuracy": 0.25,
                            "message": "loss is nan"}) == ("mnist-dash: run diverged",
                                                           "r, best val accuracy 25.00%, loss is nan")


def test_the_command_gets_the_summary_on_stdin(tmp_path):
    out = tmp_path / "got.json"
    assert notify.run_command(f"cat > {out}", SUMMARY) is None
    assert json.loads(out.read_text()) == SUMMARY


def test_a_failing_or_hanging_command_is_one_line_never_an_exception():
    assert notify.run_command("echo nope >&2; exit 3", SUMMARY) == "--notify 'echo nope >&2; exit 3' exited 3: nope"
    assert notify.run_command("sleep 60", SUMMARY, timeout=0.5) == \
        "--notify 'sleep 60' did not finish within 0.5 s; stopped it"
    assert "exited 127" in notify.run_command("/nonexistent/notifier", SUMMARY)


def test_settings_and_flags(tmp_path):
    settings = tmp_path / "settings.toml"
    settings.write_text('[chart]\nsmoothing = 0.6\n[terminal]\non_hangup = "stop"\nnotify = false\n'
                        'notify_command = "mail me"\nbogus = 1\n')
    loaded, problems = terminal.load(settings)
    assert loaded == terminal.TerminalSettings(on_hangup="stop", notify=False, notify_command="mail me")
    assert problems == [f"{settings}: [terminal] bogus = 1 ignored"]
    from core.cli import build_parser

    args = build_parser().parse_args(["--on-hangup", "continue", "--notify", "true"])
    assert terminal.from_args(args, settings) == terminal.TerminalSettings("continue", False, "true")
    args = build_parser().parse_args(["--no-notify"])
    assert terminal.from_args(args, tmp_path / "none.toml") == terminal.TerminalSettings(notify=False)


def _pty_run(tmp_path: Path, mnist_dir: Path, *extra: str) -> tuple[int, bytes]:
    """A tiny headless run with a terminal (a pty) as stdout and stderr; its exit status and all it wrote."""
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "MNIST_DASH_DATA", "TERM_PROGRAM",
                                                            "LC_TERMINAL", "KITTY_WINDOW_ID", "WT_SESSION")}
    env.update(PYTHONPATH=str(ROOT), TERM="xterm-256color", XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "core", *TINY, "--data-dir", str(mnist_dir), "--runs-dir",
                             str(tmp_path / "runs"), *extra], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            cwd=tmp_path, env=env)
    os.close(slave)
    output = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            output.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    status = proc.wait(120)
    reader.join(30)  # ends at EOF: the process and its children closed the pty
    os.close(master)
    return status, bytes(output)


def test_a_headless_run_on_a_terminal_notifies_when_it_ends(tmp_path, mnist_dir):
    got = tmp_path / "summary.json"
    status, output = _pty_run(tmp_path, mnist_dir, "--notify", f"cat > {got}")
    assert status == 0, output
    assert b"\x1b]777;notify;mnist-dash: run completed;" in output and output.rstrip().endswith(b"\a")
    summary = json.loads(got.read_text())
    (run,) = (tmp_path / "runs").iterdir()
    assert summary["reason"] == "completed" and summary["run_dir"].endswith(run.name)
    assert summary == json.loads((run / "summary.json").read_text())


def test_no_notify_is_quiet(tmp_path, mnist_dir):
    status, output = _pty_run(tmp_path, mnist_dir, "--no-notify")
    assert status == 0 and b"\x1b]" not in output and b"\a" not in output


def test_without_a_terminal_there_is_no_sequence(tmp_path, mnist_dir):
    done = subprocess.run([sys.executable, "-m", "core", *TINY, "--data-dir", str(mnist_dir), "--runs-dir",
                           str(tmp_path / "runs")], capture_output=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "c")})
    assert done.returncode == 0 and b"\x1b]" not in done.stdout + done.stderr
