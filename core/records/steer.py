"""Steering a run through its folder (no network port).

Commands: `send(run_dir, "stop" | "pause" | "resume" | "set_lr", value, source=...)` writes one small JSON file into
RUN_DIR/control/ (written to a temporary name, then renamed, so a reader never sees half of one). The run
polls a `ControlInbox` between steps: at most one directory stat every `interval` seconds while nothing
arrives, a listing only when the folder changed; each command is applied once and its file removed. The file
names its sender's kind (`source`: "cli" from the command line, "follower" from a following dashboard), which the
run records with the command (core.records.live hands it to RunControl.apply, the one command path).

Who may steer: exactly who may write the run folder. control/ is created with the run folder's own
permission bits (never wider; with the usual umask 022 that means the owner alone), the inbox ignores a
control/ that is a symlink and command files that are not regular files, and nothing listens on a port.

Stale commands: a command names the pid of the run it was sent to (from the lock). An inbox discards, when
it opens, every file already there that was not addressed to its own process (left by a crashed or
finished run) and afterwards ignores files addressed to another pid or run id.

Who is running: the run lock (core.records.runlock) names the live process; `send` refuses a run nobody holds.
"""

from __future__ import annotations

import json
import os
import stat
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.backends.control import SOURCES, check_lr
from core.config import MAX_LR
from core.records.files import CONFIG_FILE, CONTROL_DIR
from core.records.runlock import lock_info

COMMANDS = ("stop", "pause", "resume", "set_lr")
__all__ = ["COMMANDS", "MAX_LR", "Command", "ControlInbox", "SteerError", "control_dir", "send", "validate"]
MAX_COMMAND_BYTES = 4096  # a command file is a few dozen bytes; anything bigger is not one of ours


class SteerError(ValueError):
    """A command that cannot be sent (bad value, not a running run, no permission); the message says why."""


@dataclass(frozen=True)
class Command:
    """One command read from the control folder."""

    command: str  # one of COMMANDS
    value: float | None
    sent: float  # Unix seconds
    sender_pid: int
    name: str  # the file name, unique
    source: str = "cli"  # who sent it (one of core.backends.control.SOURCES)


def validate(command: str, value: Any = None) -> float | None:
    """The command's value checked (set_lr: a finite number, 0 < lr <= MAX_LR); SteerError otherwise."""
    if command not in COMMANDS:
        raise SteerError(f"unknown command {command!r}: use one of {', '.join(COMMANDS)}")
    if command != "set_lr":
        if value is not None:
            raise SteerError(f"{command} takes no value")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SteerError("set_lr needs a learning rate, e.g. 0.01")
    try:
        return check_lr(value)  # the one check (core.backends.control), bounded by core.config.MAX_LR
    except ValueError as exc:
        raise SteerError(str(exc)) from None


# --- sending --------------------------------------------------------------------------------------------


def control_dir(run_dir: str | os.PathLike) -> Path:
    """RUN_DIR/control, created with the run folder's own permission bits when missing."""
    run_dir = Path(run_dir)
    folder = run_dir / CONTROL_DIR
    try:
        mode = stat.S_IMODE(os.stat(run_dir).st_mode) & 0o777
        os.mkdir(folder, mode | 0o700)
        os.chmod(folder, mode | 0o700)  # mkdir's mode is filtered by the umask; the run folder's already was
    except FileExistsError:
        pass
    return folder


def send(run_dir: str | os.PathLike, command: str, value: Any = None, *, require_live: bool = True,
         source: str = "cli") -> Path:
    """Ask the run writing `run_dir` to stop, pause, resume or change its learning rate; the command file.

    `source` is who asks, as the run's record will say: "cli" (the command line), "follower" (a dashboard)."""
    lr = validate(command, value)
    if source not in SOURCES:
        raise SteerError(f"unknown command source {source!r}: one of {', '.join(SOURCES)}")
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise SteerError(f"{run_dir}: not a run folder (no config.json)")
    holder = lock_info(run_dir)
    if holder is None and require_live:
        raise SteerError(f"{run_dir}: the run is not running (nothing holds its lock), so nothing would obey")
    body = {
        "command": command, "value": lr, "sent": time.time(), "sender_pid": os.getpid(),
        "target_pid": holder.pid if holder else None, "run_id": holder.run_id if holder else run_dir.name,
        "source": source,
    }
    name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}-{command}.json"
    try:
        folder = control_dir(run_dir)
        if not stat.S_ISDIR(os.lstat(folder).st_mode):  # a symlink would carry the command into another folder
            raise SteerError(f"{folder}: not a folder ({'a symlink' if os.path.islink(folder) else 'a file'}): "
                             "refused (remove it to steer this run)")
        tmp = folder / f".{name}.tmp"
        with open(tmp, "x", encoding="utf-8") as fh:
            json.dump(body, fh)
        os.replace(tmp, folder / name)
    except PermissionError:
        raise SteerError(f"{run_dir}: permission denied: only who can write the run folder can steer it") from None
    except OSError as exc:
        raise SteerError(f"{run_dir}: cannot write a command ({exc.strerror or exc})") from None
    return folder / name


# --- receiving ------------------------------------------------------------------------------------------


class ControlInbox:
    """The run's side: `poll()` between steps returns new commands (cheap: one stat every `interval` s)."""

    def __init__(self, run_dir: str | os.PathLike, run_id: str = "", *, pid: int | None = None,
                 interval: float = 0.2) -> None:
        self.run_dir = Path(run_dir)
        self.folder = control_dir(self.run_dir)
        self.run_id = run_id or self.run_dir.resolve().name
        self.pid = os.getpid() if pid is None else pid
        self.interval = interval
        self.rejected: list[str] = []  # one line per command file ignored as invalid (the run may log them)
        self._seen: set[str] = set()
        self._next_check = 0.0
        self._mtime: int | None = None
        # Files already here were sent to an earlier process of this run (crashed or finished): drop them,
        # unless addressed to this very process (sent after it took the lock, before this inbox opened).
        for name, body in self._entries():
            if body is None or body.get("target_pid") != self.pid:
                self._discard(name)

    def poll(self, *, force: bool = False) -> list[Command]:
        """Commands that arrived since the last poll, oldest first; [] almost always, and fast."""
        now = time.monotonic()
        if not force and now < self._next_check:
            return []
        self._next_check = now + self.interval
        try:
            st = os.lstat(self.folder)
        except OSError:
            return []
        # Some file systems stamp directories coarsely: keep listing while the last change is recent.
        recent = time.time() - st.st_mtime < 2.0
        if st.st_mtime_ns == self._mtime and not recent:
            return []
        self._mtime = st.st_mtime_ns
        commands = []
        for name, body in self._entries():
            if name in self._seen:
                continue
            command = self._accept(name, body)
            self._discard(name)
            if command is not None:
                commands.append(command)
        return commands

    def _accept(self, name: str, body: dict | None) -> Command | None:
        if body is None:
            self.rejected.append(f"{name}: not a command file")
            return None
        target = body.get("target_pid")
        if (target is not None and target != self.pid) or body.get("run_id", self.run_id) != self.run_id:
            return None  # meant for another process of this folder: stale, not an error
        try:
            value = validate(str(body.get("command")), body.get("value"))
            sent = float(body.get("sent", 0.0))
            sender = int(body.get("sender_pid", 0))
        except (SteerError, TypeError, ValueError, OverflowError) as exc:
            self.rejected.append(f"{name}: {exc}")
            return None
        source = body.get("source", "cli")
        if source not in SOURCES:  # a file from an older build (no source) is the command line's
            source = "cli"
        return Command(command=str(body["command"]), value=value, sent=sent, sender_pid=sender, name=name,
                       source=source)

    def _entries(self) -> list[tuple[str, dict | None]]:
        """(name, parsed body or None) of the command files, in the order they were sent."""
        try:
            if not stat.S_ISDIR(os.lstat(self.folder).st_mode):
                return []  # a symlink planted in place of the folder is not ours to read or clean
            names = sorted(n for n in os.listdir(self.folder) if n.endswith(".json") and not n.startswith("."))
        except OSError:
            return []
        out = []
        for name in names:
            out.append((name, _read_command(self.folder / name)))
        return out

    def _discard(self, name: str) -> None:
        self._seen.add(name)
        try:
            os.unlink(self.folder / name)
        except OSError:
            pass  # remembered in _seen, so it is not applied twice


def _read_command(path: Path) -> dict | None:
    """A command file's JSON object, or None (not a regular file, too big, not JSON)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = json.loads(os.read(fd, MAX_COMMAND_BYTES + 1)[:MAX_COMMAND_BYTES].decode("utf-8", "replace"))
    except (OSError, ValueError, RecursionError):
        return None
    finally:
        os.close(fd)
    return data if isinstance(data, dict) else None

