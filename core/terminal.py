"""The terminal settings: what a hang-up does and how a run's end is announced, from flags and settings.toml.

The `[terminal]` table of the user's settings file (core.settings.settings_path()) may set
`on_hangup = "continue" | "stop"`, `notify = true | false` (the desktop notification by escape sequence) and
`notify_command = "CMD"` (run with the summary as JSON on stdin). Flags override it. A bad value is named on
stderr once and the default used: settings never stop a run from starting.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from core.signals import DEFAULT_HANGUP, HANGUP_POLICIES

SECTION = "terminal"


@dataclass(frozen=True)
class TerminalSettings:
    """How a run treats its terminal."""

    on_hangup: str = DEFAULT_HANGUP  # one of HANGUP_POLICIES
    notify: bool = True  # a desktop notification (terminal escape sequence) when a run ends
    notify_command: str = ""  # a command run with the summary JSON on stdin when a run ends ("" = none)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--on-hangup, --notify CMD, --no-notify."""
    group = parser.add_argument_group("terminal")
    group.add_argument("--on-hangup", choices=HANGUP_POLICIES, default=None,
                       help="when the terminal hangs up (SSH drops, tmux session killed): 'continue' the run "
                       "to its end without a screen, or 'stop' it with a checkpoint (default: continue, or "
                       "on_hangup in the [terminal] settings)")
    group.add_argument("--notify", metavar="CMD", dest="notify_command", default=None,
                       help="when a run ends, run CMD (through the shell) with the run's summary as JSON on "
                       "stdin, e.g. a script that pushes to your phone (default: none)")
    group.add_argument("--no-notify", dest="notify", action="store_false", default=None,
                       help="no desktop notification (terminal escape sequence, or the bell) when a run ends "
                       "(default: notify when attached to a terminal)")


def load(path: str | Path | None = None) -> tuple[TerminalSettings, list[str]]:
    """The [terminal] table of the settings file: (settings, problems); a missing file is the defaults."""
    if path is None:
        try:
            from core.settings import settings_path

            path = settings_path()
        except Exception:  # no platformdirs: the defaults
            return TerminalSettings(), []
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return TerminalSettings(), []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return TerminalSettings(), []  # the chart settings' loader already names a damaged file
    table = data.get(SECTION, {})
    if not isinstance(table, dict):
        return TerminalSettings(), [f"{path}: [{SECTION}] is not a table; defaults used"]
    out, problems = TerminalSettings(), []
    for key, value in table.items():
        if key == "on_hangup" and value in HANGUP_POLICIES:
            out = replace(out, on_hangup=value)
        elif key == "notify" and isinstance(value, bool):
            out = replace(out, notify=value)
        elif key == "notify_command" and isinstance(value, str):
            out = replace(out, notify_command=value)
        else:
            problems.append(f"{path}: [{SECTION}] {key} = {value!r} ignored")
    return out, problems


def from_args(args: argparse.Namespace, path: str | Path | None = None) -> TerminalSettings:
    """Settings file < flags; a problem with the file is one line on stderr."""
    settings, problems = load(path)
    for problem in problems:
        print(f"mnist-dash: {problem}", file=sys.stderr)
    if getattr(args, "on_hangup", None) is not None:
        settings = replace(settings, on_hangup=args.on_hangup)
    if getattr(args, "notify", None) is not None:
        settings = replace(settings, notify=args.notify)
    if getattr(args, "notify_command", None) is not None:
        settings = replace(settings, notify_command=args.notify_command)
    return settings
