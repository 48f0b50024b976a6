"""The event stream as JSON lines: one event a line, written fast (orjson) and read leniently.

Reading opens regular files only (a FIFO, a device or a folder named as a record is refused with NotRegularFile,
never waited on) and bounds the length of a line (MAX_LINE; longer ones are skipped and counted in `Skipped`).
Writing keeps NaN and Infinity as Python's json writes them (orjson would write null). Reading never raises
for a torn, undecodable, unknown or foreign line: those are skipped, so a crash mid-write or a file from
another version still opens. `iter_lines` and `iter_jsonl` stream a record of any length.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import stat
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterable, Iterator

import orjson

from core.atomic import kind_of
from core.events import Event, build_event, from_dict, to_dict


def to_json_bytes(event: Event) -> bytes:
    """One line of JSON as UTF-8 bytes, without the newline (orjson; json's NaN/Infinity where needed)."""
    try:
        # orjson writes a dataclass in field order; splice the type key in front.
        raw = orjson.dumps(event, option=orjson.OPT_SERIALIZE_NUMPY)
    except (orjson.JSONEncodeError, TypeError):
        raw = b""
    # orjson writes NaN and Infinity as null: only then (or for None fields) take the slower, exact path.
    if not raw or b"null" in raw:
        return to_json_exact(event).encode("utf-8")
    name = type(event).__name__.encode()
    return b'{"type":"' + name + b'",' + raw[1:] if raw != b"{}" else b'{"type":"' + name + b'"}'


def to_json_exact(event: Event) -> str:
    """The standard library's line (NaN and Infinity kept as Python's json writes them)."""
    return json.dumps(to_dict(event), separators=(",", ":"), default=_scalar)


def _scalar(value: Any) -> Any:
    """A numpy (or torch) scalar a backend passed on as a plain number."""
    item = getattr(value, "item", None)
    if item is None:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return item()


def to_json(event: Event) -> str:
    """One line of JSON (NaN and Infinity kept as Python's json writes them)."""
    return to_json_bytes(event).decode("utf-8")


def from_json(line: str | bytes) -> Event:
    """One line back into its event; ValueError for anything that is not one."""
    return from_dict(loads(line))


def loads(line: str | bytes) -> Any:
    """Parse one JSON line: orjson first; NaN/Infinity, invalid UTF-8 (replaced) or deep nesting via json."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    text = line.decode("utf-8", "replace") if isinstance(line, (bytes, bytearray, memoryview)) else line
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def parse_line(line: bytes | str) -> Event | None:
    """The event on one line, or None for a blank, torn, undecodable or unknown line."""
    try:
        return build_event(loads(line), owned=True)
    except (ValueError, TypeError):
        return None


CHUNK = 1 << 20  # bytes read at a time by the streaming readers
MAX_LINE = 1 << 20  # the longest line read: an event is a few hundred bytes, a RunStarted a few KB


class NotRegularFile(OSError):
    """A record that is a FIFO, a device, a folder or a socket: never opened for reading (it could block or
    never end)."""


@dataclass
class Skipped:
    """What a reader left out: lines longer than MAX_LINE (a record linked to a huge file of NUL bytes)."""

    long_lines: int = 0
    long_bytes: int = 0

    def __str__(self) -> str:
        return f"{self.long_lines:,} line(s) longer than {MAX_LINE:,} bytes skipped ({self.long_bytes:,} bytes)"


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open a file for reading only if it is a regular file (a link to one is followed); NotRegularFile else.

    O_NONBLOCK: opening a FIFO without a writer would otherwise wait for ever before fstat could refuse it.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(errno.EINVAL, f"{kind_of(mode)}, not a regular file", os.fspath(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def iter_lines(path: str | os.PathLike, *, offset: int = 0, max_line: int = MAX_LINE,
               skipped: Skipped | None = None) -> Iterator[bytes]:
    """Every line of a regular file as bytes (no newline) in bounded memory; a last line without a newline too.

    A line longer than `max_line` is skipped (counted in `skipped`) without ever being held whole, so a record
    of NUL bytes with no newline costs time in its size but memory in max_line only.
    """
    with open_regular(path) as fh:
        yield from iter_file_lines(fh, offset=offset, max_line=max_line, skipped=skipped)


def iter_file_lines(fh: BinaryIO, *, offset: int = 0, end: int | None = None, max_line: int = MAX_LINE,
                    skipped: Skipped | None = None) -> Iterator[bytes]:
    """iter_lines on an open file, from byte `offset` up to byte `end` (None: its end)."""
    skipped = skipped if skipped is not None else Skipped()
    fh.seek(offset)
    left = end - offset if end is not None else None
    rest, skipping = b"", False
    while chunk := fh.read(CHUNK if left is None else min(CHUNK, left)):
        if left is not None:
            left -= len(chunk)
        if skipping:  # inside an over-long line: drop bytes up to its end
            end_at = chunk.find(b"\n")
            if end_at < 0:
                skipped.long_bytes += len(chunk)
                continue
            skipped.long_bytes += end_at
            skipping, chunk = False, chunk[end_at + 1:]
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        if max(map(len, lines), default=0) <= max_line:  # the usual case, checked at C speed
            yield from lines
        else:
            for line in lines:
                if len(line) > max_line:
                    skipped.long_lines += 1
                    skipped.long_bytes += len(line)
                else:
                    yield line
        if len(rest) > max_line:
            skipped.long_lines += 1
            skipped.long_bytes += len(rest)
            rest, skipping = b"", True
    if rest:
        yield rest


def complete_end(fh: BinaryIO, offset: int, size: int) -> int:
    """The byte just past the last newline in [offset, size) of an open file; `offset` when there is none (a
    line a writer is still writing is not yet a line)."""
    pos = size
    while pos > offset:
        start = max(offset, pos - CHUNK)
        fh.seek(start)
        found = fh.read(pos - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        pos = start
    return offset


def iter_jsonl(path: str | os.PathLike, *, keep: Iterable[str] | None = None,
               skipped: Skipped | None = None) -> Iterator[Event]:
    """Events of a JSONL file one by one; `keep` names the event types wanted (others are not built)."""
    wanted = frozenset(keep) if keep is not None else None
    fast = orjson.loads
    for line in iter_lines(path, skipped=skipped):
        try:
            obj = fast(line)
        except orjson.JSONDecodeError:
            if not line.strip():
                continue
            try:
                obj = loads(line)  # NaN/Infinity, replaced foreign bytes, or junk (skipped below)
            except ValueError:
                continue  # a torn line (crash mid-write) or foreign bytes
        if wanted is not None and (not isinstance(obj, dict) or obj.get("type") not in wanted):
            continue
        try:
            event = build_event(obj, owned=True)
        except (ValueError, TypeError):
            continue  # not an event of this version
        yield event


def read_jsonl(path: str | os.PathLike, *, skipped: Skipped | None = None) -> list[Event]:
    """Every event in a JSONL file; torn, undecodable or unknown lines are skipped, never raised."""
    # Events hold no cycles, yet each one allocated would trigger cyclic collections that walk everything
    # read so far (a quarter of the time on a long record): the collector resumes afterwards.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return list(iter_jsonl(path, skipped=skipped))
    finally:
        if enabled:
            gc.enable()
