"""A process of ours on a real pseudo-terminal, for the hang-up and signal tests (headless and dashboard).

Its output is read by a thread once `read()` is called (a dashboard starts reading at once; a headless run may be
left to block on its unread output). Every wait ends on an event: a condition polled every 50 ms, with a generous
bound for a busy machine.
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

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 120.0  # generous on a busy machine: every wait ends as soon as its event is there


def env(tmp_path: Path) -> dict[str, str]:
    """This environment without the user's data folder, tmux or a terminal size that would override the pty's."""
    drop = ("MNIST_DASH_DATA", "TMUX", "TEXTUAL_DRIVER", "COLUMNS", "LINES")
    out = {k: v for k, v in os.environ.items() if k not in drop}
    out.update(TERM="xterm-256color", PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(tmp_path / "cache"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    return out


class PtyProcess:
    """`python -m MODULE ARGS` with stdin, stdout and stderr on a pty of `size` (columns, rows)."""

    def __init__(self, tmp_path: Path, module: str, args: list[str], size: tuple[int, int] | None = None) -> None:
        self.tmp_path, self.runs_dir = tmp_path, tmp_path / "runs"
        master, slave = os.openpty()
        if size is not None:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        self.proc = subprocess.Popen([sys.executable, "-m", module, "--runs-dir", str(self.runs_dir), *args],
                                     stdin=slave, stdout=slave, stderr=slave, cwd=tmp_path, env=env(tmp_path),
                                     start_new_session=True)
        os.close(slave)
        self.master: int | None = master
        self.output = bytearray()

    def read(self) -> threading.Thread:
        """Drain the terminal from now on (the process's writes go through); the thread ends at its EOF."""
        reader = threading.Thread(target=self._read, daemon=True)
        reader.start()
        return reader

    def _read(self) -> None:
        while self.master is not None:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def wait(self, condition, what: str, timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None and not condition():
                raise AssertionError(f"exited ({self.proc.returncode}) before {what}: {self.output[-2000:]!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout:.0f} s: {self.output[-2000:]!r}")
            time.sleep(0.05)  # the polling interval only

    def shows(self, text: bytes) -> bool:
        return text in self.output

    def run_dir(self) -> Path | None:
        found = list(self.runs_dir.glob("*/events.jsonl")) if self.runs_dir.is_dir() else []
        return found[0].parent if found else None

    def events(self) -> list[dict]:
        run = self.run_dir()
        lines = (run / "events.jsonl").read_text().splitlines() if run else []
        return [json.loads(line) for line in lines if line.endswith("}")]

    def recorded(self, predicate) -> bool:
        return any(predicate(e) for e in self.events())

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """The command line without a dashboard (`python -m core`), in the same folder and environment."""
        return subprocess.run([sys.executable, "-m", "core", *args], cwd=self.tmp_path, env=env(self.tmp_path),
                              capture_output=True, text=True, timeout=WAIT_S)

    def hang_up(self) -> None:
        """The terminal goes away: its master side closes (writes now fail with EIO), then SIGHUP (as tmux does)."""
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
