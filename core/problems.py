"""Structured problems with user input (a field and why), and how a bad value is quoted back in a message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_SHOWN = 40  # characters of a bad value quoted back in a message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration: the field (a TrainConfig name, or "" for the whole) and why.

    The message never names a CLI flag or a form label; each front end words it (`--lr: ...`, `learning rate:
    ...`). str() gives `field: message`, the plain wording used in logs and exception text.
    """

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ConfigError(ValueError):
    """One or more Problems with a configuration; `source` names where it came from (e.g. a file), if anywhere."""

    def __init__(self, problems: list[Problem], source: str = ""):
        self.problems = list(problems)
        self.source = source
        text = "; ".join(map(str, self.problems))
        super().__init__(f"{source}: {text}" if source else text)


def show(value: Any, *, quote: bool = True, limit: int = _SHOWN) -> str:
    """A value quoted back in a message: repr, cut short; never raises (huge ints, deep nesting)."""
    try:
        text = repr(value) if quote else str(value)
    except (ValueError, RecursionError):  # str() refuses ints over 4,300 digits; repr() deep lists
        if type(value) is int:
            return f"an integer of {value.bit_length()} bits"
        return f"a {type(value).__name__} too deep to show"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def plain(text: Any) -> str:
    """A name (a key, a path) as typed when it is one plain line, else quoted; cut short either way."""
    text = str(text)
    return show(text, quote=not text or not text.isprintable() or text.strip() != text, limit=200)
