"""Messages the app posts to itself, mostly from the training thread (post_message is thread-safe)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class EventsReady(Message):
    """The training thread buffered events in the EventPump; drain it."""


@dataclass
class RunEnded(Message):
    """The training thread returned; `reason` is the RunSummary reason or 'failed'."""

    reason: str
    error: str = ""


@dataclass
class Announced(Message):
    """A human-readable note from data loading or set-up (becomes a log line)."""

    text: str
    level: str = "info"
