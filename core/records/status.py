"""A run folder's status: the one function that decides it (`run_status`), from its lock, summary and record tail.

Every reader asks here: the runs table and `--list-runs`, `--open` (dashboard and headless), the follower and
the compare table. The words are core.events.STATUSES:

- an ending (core.events.REASONS) when summary.json says how the run ended, or else when the record's last
  RunFinished/RunFailed (after its last RunStarted) does: the summary is being written, or the process died
  before it could write it;
- `live` or `paused` while a process holds the run lock (paused: the record's last pause was not resumed);
- `killed`: the lock is free, there is no summary, and the record has events: the process died mid-run;
- `stale`: no lock file to ask (an older version's record, or a run on another machine's disk) and no event
  for `stale_after` seconds (a fresher such record is `live`);
- `incomplete`: nothing was recorded (no events), or the summary names no ending.

Only the last few KiB of events.jsonl are read (backwards, until an event decides), so a thousand runs are
judged in well under a second. Files that are not regular files (a FIFO, a device) are never opened: the
status's `detail` names them.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from core.events import REASONS
from core.records import runlock
from core.records.files import CONFIG_FILE, EVENTS_FILE, LOCK_FILE, SUMMARY_FILE
from core.records.jsonl import loads
from core.records.regular import open_regular, read_regular, why

STALE_AFTER = 60.0  # seconds without a new event before a run with no lock file to ask is called stale
MAX_SUMMARY_BYTES = 1 << 20  # a summary is a few hundred bytes; a bigger file is not ours
CHUNK = 64 << 10  # the record's tail is read backwards this much at a time
MAX_SCAN = 8 << 20  # ... and never further back than this (a paused run writes ~150 bytes of SystemStats / 2 s)
# The events that decide what a run is doing, newest first; anything else (SystemStats, LogLine) is skipped.
DECIDING = (b'"RunFinished"', b'"RunFailed"', b'"RunStarted"', b'"StepEnded"', b'"ControlApplied"')
GOING = ("live", "paused")  # a process is (or may be) writing the folder
ENDED = (*REASONS, "killed")  # nothing more will be written, unless a resume opens the folder again


@dataclass(frozen=True)
class RunStatus:
    """What a run folder's run is doing now: `word` (one of STATUSES) and a line saying why."""

    word: str
    detail: str = ""
    reason: str | None = None  # the ending the summary (or the record) gives, where there is one
    pid: int | None = None  # the writing process, while live or paused (0 when its lock file is unreadable)
    problems: tuple[str, ...] = ()  # files that could not be read, one line each
    summary: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def going(self) -> bool:
        """The run may still write (live or paused)."""
        return self.word in GOING

    @property
    def ended(self) -> bool:
        """The run ended (any reason, killed included): nothing comes until a resume."""
        return self.word in ENDED


@dataclass
class Tail:
    """What the end of a record says: whether it has events, its last deciding event, whether it is paused."""

    events: bool = False
    ending: str | None = None  # the reason of a RunFinished (or "failed") after the last RunStarted
    paused: bool = False
    mtime: float = 0.0


def read_summary(run_dir: Path) -> tuple[dict[str, Any] | None, str]:
    """(summary.json as a dict or None, why it could not be read: "" when it is simply not there)."""
    path = run_dir / SUMMARY_FILE
    try:
        data = read_regular(path, MAX_SUMMARY_BYTES)
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"{SUMMARY_FILE}: {why(exc)}"
    if len(data) > MAX_SUMMARY_BYTES:
        return None, f"{SUMMARY_FILE}: too big to be a summary"
    try:
        summary = loads(data)
    except (ValueError, RecursionError):
        return None, f"{SUMMARY_FILE}: not JSON"
    return (summary, "") if isinstance(summary, dict) else (None, f"{SUMMARY_FILE}: not a JSON object")


def summary_ending(summary: dict[str, Any]) -> str | None:
    """The ending a summary names (its reason; "failed" when it holds an error), or None."""
    reason = summary.get("reason")
    if isinstance(reason, str) and reason in REASONS:
        return reason
    return "failed" if summary.get("error") else None


def _lines_backwards(fd: int, size: int) -> Iterator[bytes]:
    """The file's complete lines, newest first, reading at most MAX_SCAN bytes from its end."""
    end, carry = size, b""
    floor = max(0, size - MAX_SCAN)
    while end > floor:
        start = max(floor, end - CHUNK)
        block = os.pread(fd, end - start, start) + carry
        end = start
        lines = block.split(b"\n")
        carry = lines.pop(0) if start > floor else b""  # maybe half a line: joined with the block before it
        yield from reversed(lines)
    if carry:
        yield carry


def read_tail(events_file: Path) -> tuple[Tail, str]:
    """What the end of events.jsonl says (Tail), and why it could not be read ("" when fine or missing)."""
    tail = Tail()
    try:
        fd = open_regular(events_file)
    except FileNotFoundError:
        return tail, ""
    except OSError as exc:
        return tail, f"{EVENTS_FILE}: {why(exc)}"
    try:
        st = os.fstat(fd)
        tail.mtime = st.st_mtime
        decided = False
        for line in _lines_backwards(fd, st.st_size):
            if not line.strip():
                continue
            if not decided and any(marker in line for marker in DECIDING):
                event = _parse(line)
                if event is not None:
                    tail.events = True
                    decided = _decide(tail, event)
            elif not tail.events:
                tail.events = _parse(line) is not None
            if decided and tail.events:
                break
    except OSError as exc:
        return tail, f"{EVENTS_FILE}: {why(exc)}"
    finally:
        os.close(fd)
    return tail, ""


def _parse(line: bytes) -> dict | None:
    try:
        obj = loads(line)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) and isinstance(obj.get("type"), str) else None


def _decide(tail: Tail, event: dict) -> bool:
    """Read one event, newest first; True once it decides what the run was doing."""
    kind = event["type"]
    if kind == "RunFinished":
        reason = event.get("reason")
        tail.ending = reason if isinstance(reason, str) and reason in REASONS else "failed"
        return True
    if kind == "RunFailed":
        tail.ending = "failed"
        return True
    if kind == "ControlApplied":
        if event.get("command") not in ("pause", "resume"):
            return False  # a stop asked for: the run still ran on until its RunFinished
        tail.paused = event.get("command") == "pause"
        return True
    return kind in ("RunStarted", "StepEnded")  # training: not paused, not ended


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _lock_file_exists(run_dir: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(run_dir / LOCK_FILE).st_mode)
    except OSError:
        return False


def run_status(run_dir: str | os.PathLike, *, now: float | None = None,
               stale_after: float = STALE_AFTER) -> RunStatus:
    """The status of the run in `run_dir` (never raises: unreadable files are named in `problems`)."""
    path = Path(run_dir)
    if not path.is_dir():  # deleted while it ran (or never there): say so, not "stale" a minute later
        return RunStatus("incomplete", f"the run folder {path} is gone")
    problems: list[str] = []
    summary, problem = read_summary(path)
    problems += [problem] if problem else []
    if summary is not None:  # written last (and removed by a resume before it writes): the run is over
        ending = summary_ending(summary)
        if ending is None:
            return RunStatus("incomplete", f"{SUMMARY_FILE} names no ending", None, None, tuple(problems), summary)
        return RunStatus(ending, _ended_detail(ending, summary), ending, None, tuple(problems), summary)
    holder = runlock.lock_info(path)
    tail, problem = read_tail(path / EVENTS_FILE)
    problems += [problem] if problem else []
    if tail.ending is not None:  # the run ended; its summary is being written, or its process died first
        why = "its summary is being written" if holder is not None else "the process died before writing it"
        return RunStatus(tail.ending, f"the record ends {tail.ending.replace('_', ' ')} (no {SUMMARY_FILE}: {why})",
                         tail.ending, None, tuple(problems))
    if holder is not None:
        who = f"process {holder.pid}" + (f" on {holder.host}" if holder.host else "")
        if tail.paused:
            return RunStatus("paused", f"paused by a command; {who} holds the run", None, holder.pid,
                             tuple(problems))
        return RunStatus("live", f"{who} is writing the run", None, holder.pid, tuple(problems))
    if _lock_file_exists(path):
        if tail.events:
            return RunStatus("killed", "the process died mid-run: its lock is free and it wrote no summary",
                             None, None, tuple(problems))
        return RunStatus("incomplete", "no events recorded (the run never started, or died at once)",
                         None, None, tuple(problems))
    # No lock to ask (a record from an older version, another machine's disk, or a run between making its folder
    # and taking its lock): judge by the record's age.
    now = time.time() if now is None else now
    quiet = now - (tail.mtime if tail.events else max(tail.mtime, _mtime(path / CONFIG_FILE)))
    if not tail.events:
        if quiet <= stale_after:
            return RunStatus("live", "starting: no event recorded yet", None, None, tuple(problems))
        return RunStatus("incomplete", "no events recorded", None, None, tuple(problems))
    if quiet > stale_after:
        return RunStatus("stale", f"no events for {quiet:.0f} s and no lock to ask: the process may be gone",
                         None, None, tuple(problems))
    word = "paused" if tail.paused else "live"
    return RunStatus(word, f"last event {quiet:.0f} s ago, no lock to ask", None, None, tuple(problems))


def _ended_detail(ending: str, summary: dict[str, Any]) -> str:
    if ending == "failed":
        return str(summary.get("error") or "the run failed")[:200]
    message = summary.get("message")
    return str(message)[:200] if isinstance(message, str) and message else f"the run ended {ending.replace('_', ' ')}"
