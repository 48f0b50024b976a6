"""Writing a file so that a crash leaves the old one or the new one under its name, never half of one."""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any


def kind_of(mode: int) -> str:
    """A file type in words (from st_mode), for the line that refuses it."""
    for test, word in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return word
    return "not a regular file"


class NotRegularTarget(OSError):
    """The name to write is a FIFO, a device, a folder or a socket (or a link, unless links are followed):
    never replaced by a regular file."""


def writable_target(path: Path, *, follow_links: bool = False) -> Path:
    """The file to replace for `path`: its link's target when `follow_links`; NotRegularTarget for anything
    there that is not a regular file (a symbolic link too, when links are not followed)."""
    path = Path(path)
    if follow_links and path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    if not stat.S_ISREG(mode) and (follow_links or not stat.S_ISLNK(mode)):
        raise NotRegularTarget(f"{path} is {kind_of(mode)}, not a regular file: not replaced")
    return path


def atomic_write_bytes(path: Path, data: bytes, *, follow_links: bool = False) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over `path`.

    A crash leaves either the old file or the new one under the name, never half of one. A FIFO, device or
    folder under the name is refused (NotRegularTarget), never replaced; with `follow_links` a symbolic link is
    kept and its target written (a dotfiles setup), else the link itself is replaced as before.
    """
    path = writable_target(Path(path), follow_links=follow_links)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes 0600 files; a run's files get the mode any new file would (the umask decides), and a
        # rewritten file keeps the mode it had.
        try:
            mode = os.lstat(path).st_mode & 0o7777 if not path.is_symlink() else 0o666 & ~current_umask()
        except OSError:
            mode = 0o666 & ~current_umask()
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (/proc), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    """Strict JSON (non-finite floats become null), atomically."""
    atomic_write_text(path, json.dumps(_finite(data), indent=2, allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
