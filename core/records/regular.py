"""Opening files that anyone could have planted: regular files only, never blocking, never followed blindly.

A run folder or a settings folder may hold a FIFO (opening it for reading blocks until a writer comes), a device
node, a symlink or a loop. `open_regular(path)` opens with O_NONBLOCK (and O_NOFOLLOW unless `follow`), checks
S_ISREG on the open descriptor (no window between the check and the open) and raises `NotRegularFileError`
naming what the path is instead; `read_regular(path, limit)` reads at most `limit` + 1 bytes of it.
"""

from __future__ import annotations

import errno
import os
import stat

from core.atomic import kind_of


class NotRegularFileError(OSError):
    """The path exists but is not a regular file (a FIFO, a device, a directory, a symlink where none belongs)."""


def open_regular(path: str | os.PathLike, *, follow: bool = False) -> int:
    """A read-only descriptor on a regular file; NotRegularFileError (an OSError) saying what it is otherwise."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow:  # O_NOFOLLOW on a symlink (or a loop of them)
            raise NotRegularFileError(errno.ELOOP, f"{os.fspath(path)} is a symlink, not a regular file") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(errno.EINVAL, f"{os.fspath(path)} is {kind_of(mode)}, not a regular file")
        os.set_blocking(fd, True)  # a regular file never blocks; plain reads from here on
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | os.PathLike, limit: int, *, follow: bool = False) -> bytes:
    """At most `limit` + 1 bytes of a regular file (one more than allowed tells the caller it is too big)."""
    fd = open_regular(path, follow=follow)
    try:
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def why(exc: OSError) -> str:
    """An OSError in words: its own message for a non-regular file, else its strerror."""
    if isinstance(exc, NotRegularFileError):
        return str(exc.strerror)
    return exc.strerror or str(exc)
