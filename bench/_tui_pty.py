"""Run the dashboard in a pseudo-terminal and watch its output bytes (shared by the TUI benchmarks)."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(rb"\x1b(\[[0-9;?<>=$]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])")


def _exit_on_sigterm(*_args: object) -> None:
    raise SystemExit(143)


# `timeout` and CI send SIGTERM: turn it into SystemExit so `finally: app.close()` still ends the child,
# which runs in its own session and would otherwise keep training in the background.
signal.signal(signal.SIGTERM, _exit_on_sigterm)


class PtyApp:
    """A child process on a pty of a given size; `expect` reads its output until a marker appears."""

    def __init__(self, code: str, *, size: tuple[int, int] = (160, 48), cwd: str | Path | None = None) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(size[0]), "LINES": str(size[1])}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
        self.launched = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=slave,
                                     cwd=cwd or ROOT, env=env, start_new_session=True)
        os.close(slave)
        self.output = bytearray()

    def send(self, data: bytes) -> float:
        """Write keys to the app; returns the time they were sent."""
        sent = time.perf_counter()
        os.write(self.master, data)
        return sent

    def expect(self, marker: bytes, timeout: float = 30.0) -> float | None:
        """Read until `marker` appears in output read from now on; the time it arrived, or None."""
        window = b""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                if self.proc.poll() is not None:
                    return None
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return None
            now = time.perf_counter()
            self.output += chunk
            # The compositor cuts lines where widgets overlap (cursor moves, style changes mid-word),
            # so match on the text with escape sequences removed.
            window = window[-256:] + chunk
            if marker in ANSI.sub(b"", window):
                return now
        return None

    def drain(self, seconds: float = 0.0) -> None:
        """Discard output for a while (so earlier frames cannot match the next marker)."""
        end = time.perf_counter() + seconds
        while True:
            ready, _, _ = select.select([self.master], [], [], max(0.0, end - time.perf_counter()))
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    return
            if time.perf_counter() >= end and not ready:
                return

    def close(self, quit_key: bytes = b"q", timeout: float = 5.0) -> int | None:
        """Press quit, wait for the exit; kill the process if it does not go."""
        try:
            self.send(quit_key)
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.drain(0.1)
        os.close(self.master)
        return self.proc.returncode


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]
