"""Who is writing a run folder: the run lock (an fcntl.flock on RUN_DIR/run.lock, no network port).

A running run holds `RunLock(run_dir)` (the lock file holds pid, host, run id and start time). The kernel drops
the lock when the process dies, however it dies, so `lock_info(run_dir)` / `live_pid(run_dir)` tell a live run
from a killed one, and a second writer of the same folder (two `--resume` at once) gets `RunLockedError`
instead of interleaving its events.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from core.records.files import LOCK_FILE

MAX_LOCK_BYTES = 4096  # the lock file holds one short JSON line


class RunLockedError(RuntimeError):
    """Another process is writing this run folder."""


@dataclass(frozen=True)
class LockInfo:
    """Who holds a run folder's lock."""

    pid: int
    host: str
    run_id: str = ""
    started: float = 0.0


class RunLock:
    """Hold a run folder's lock while writing it: `with RunLock(run_dir, run_id):` (RunLockedError if held)."""

    def __init__(self, run_dir: str | os.PathLike, run_id: str = "", *, wait: float = 0.5) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self.run_id = run_id or Path(run_dir).resolve().name
        self.wait = wait  # a reader's brief probe (lock_info) must not make a starting run fail
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock within `wait` s: RunLockedError if another process holds it, OSError if unwritable."""
        # O_NOFOLLOW: a run.lock planted as a symlink would make us lock (and truncate) its target.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o666)
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or a device: never lock, read or write it
            os.close(fd)
            raise OSError(f"{self.path} is not a regular file: remove it to run here")
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_lock(fd)
                    os.close(fd)
                    raise RunLockedError(_held_message(self.path.parent, holder)) from None
                time.sleep(0.02)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "run_id": self.run_id, "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode() + b"\n", 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Let go (the file stays: deleting it would let two writers lock two different files)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_lock(fd: int) -> LockInfo | None:
    try:
        data = json.loads(os.pread(fd, MAX_LOCK_BYTES, 0).decode("utf-8", "replace"))
        return LockInfo(pid=int(data["pid"]), host=str(data.get("host", "")), run_id=str(data.get("run_id", "")),
                        started=float(data.get("started", 0.0)))
    except (ValueError, TypeError, KeyError, OSError, RecursionError):
        return None


def _held_message(run_dir: Path, holder: LockInfo | None) -> str:
    who = f"process {holder.pid} on {holder.host}" if holder else "another process"
    return f"{run_dir}: the run is being written by {who}; stop that run first (or wait for it to end)"


def lock_info(run_dir: str | os.PathLike) -> LockInfo | None:
    """Who is writing the run now, or None when nobody is (no lock file, or its lock is free: killed/ended)."""
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None  # a FIFO (opening it would have blocked without O_NONBLOCK) is nobody's lock
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_lock(fd) or LockInfo(pid=0, host="")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def live_pid(run_dir: str | os.PathLike) -> int | None:
    """The pid of the process writing the run (0 if unreadable), or None when the run is not live."""
    info = lock_info(run_dir)
    return None if info is None else info.pid
