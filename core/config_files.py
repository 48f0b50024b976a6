"""Settings files: JSON or TOML text read into a plain dict of settings, with problems a user can act on."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from core.problems import ConfigError, Problem, plain, show
from core.records.regular import read_regular, why

MAX_SETTINGS_BYTES = 1 << 20  # a settings file is a few lines; a bigger file is not one


def parse_settings(text: str, kind: str) -> dict[str, Any]:
    """JSON or TOML text -> the settings dict (a TOML [train] table is unwrapped); ConfigError otherwise."""
    try:
        if kind == "toml":
            data: Any = tomllib.loads(text)
            if set(data) == {"train"} and isinstance(data["train"], dict):
                data = data["train"]
        else:
            data = json.loads(text)
    except RecursionError:
        raise ConfigError([Problem("", "nested too deeply to be a settings file")]) from None
    except ValueError as exc:  # JSONDecodeError, TOMLDecodeError, and int() refusing a 5,000-digit number
        what = "TOML" if kind == "toml" else "JSON"
        detail = f"{exc.msg} at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        if "integer string conversion" in detail:  # Python's int() digit limit, worded for a user
            detail = "a number has more than 4300 digits"
        raise ConfigError([Problem("", f"not valid {what} ({show(detail, quote=False, limit=100)})")]) from None
    if not isinstance(data, dict):
        raise ConfigError([Problem("", f"expected a table of settings, got {type(data).__name__}")])
    return data


def read_settings(path: str | Path) -> dict[str, Any]:
    """The settings a JSON or TOML file names (only those); ConfigError naming the file when unreadable."""
    path = Path(path)
    source = f"config file {plain(path)}"
    try:
        raw = read_regular(path, MAX_SETTINGS_BYTES, follow=True)  # a FIFO or device is named, never opened
    except OSError as exc:
        raise ConfigError([Problem("", f"cannot read it ({why(exc)})")], source) from None
    if len(raw) > MAX_SETTINGS_BYTES:
        raise ConfigError([Problem("", f"too big to be a settings file (over {MAX_SETTINGS_BYTES:,} bytes)")],
                          source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); is it a settings file?"
        raise ConfigError([Problem("", message)], source) from None
    try:
        return parse_settings(text, "toml" if path.suffix.lower() == ".toml" else "json")
    except ConfigError as exc:
        raise ConfigError(exc.problems, source) from None
