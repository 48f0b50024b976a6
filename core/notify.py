"""Telling you that a run ended: a desktop notification by terminal escape sequence, and your own command.

The escape sequence travels through SSH to the terminal on your laptop, which turns it into a desktop
notification: OSC 99 for kitty, OSC 9 for iTerm2, Windows Terminal, ConEmu and WezTerm, OSC 777 for VTE (GNOME
Terminal), foot, urxvt, Ghostty, Konsole and the unknown ones (a terminal ignores an OSC it does not know).
Inside tmux it is wrapped for passthrough (`set -g allow-passthrough on`), and the bell follows every sequence
as the fallback that every terminal shows somehow.

`--notify CMD` runs CMD through the shell with the run's summary as JSON on stdin, for a phone push, mail or
chat; with a timeout, its failure returned as one line for the log, never raised.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from typing import Any, Mapping

BEL = "\a"
ESC = "\x1b"
ST = ESC + "\\"
COMMAND_TIMEOUT_S = 30.0
OSC_ALIASES = {"kitty": 99, "iterm": 9, "osc9": 9, "vte": 777, "osc777": 777}


def flavour(env: Mapping[str, str]) -> int:
    """The OSC number this terminal (as its environment tells) shows as a desktop notification."""
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "") or env.get("LC_TERMINAL", "")
    if term == "xterm-kitty" or env.get("KITTY_WINDOW_ID"):
        return 99
    if program in ("iTerm.app", "iTerm2", "WezTerm") or env.get("WT_SESSION") or env.get("ConEmuPID"):
        return 9
    return 777


def _clean(text: str) -> str:
    """No control characters inside a sequence (an ESC or BEL in a run name would end it early)."""
    return "".join(ch if ch.isprintable() else " " for ch in text).replace(";", ",")


def osc(title: str, body: str, number: int) -> str:
    """One notification as the OSC `number` spells it."""
    title, body = _clean(title), _clean(body)
    if number == 99:  # kitty: the title, then the body, one notification (d=0 says more follows)
        return f"{ESC}]99;i=1:d=0;{title}{ST}{ESC}]99;i=1:p=body;{body}{ST}"
    if number == 9:
        return f"{ESC}]9;{title}: {body}{ST}"
    return f"{ESC}]777;notify;{title};{body}{ST}"


def tmux_wrap(sequence: str) -> str:
    """tmux passes a sequence through to the outer terminal when wrapped so (every ESC doubled)."""
    return f"{ESC}Ptmux;{sequence.replace(ESC, ESC + ESC)}{ST}"


def sequence(title: str, body: str, env: Mapping[str, str] | None = None) -> str:
    """What to write to the terminal for one notification: the OSC (wrapped inside tmux), then the bell."""
    env = os.environ if env is None else env
    text = osc(title, body, flavour(env))
    if env.get("TMUX"):
        text = tmux_wrap(text)
    return text + BEL


def describe(summary: Mapping[str, Any]) -> tuple[str, str]:
    """(title, body) of a run's end: the reason, the accuracy, the run folder's name."""
    reason = str(summary.get("reason", "ended"))
    run = os.path.basename(str(summary.get("run_dir", "") or summary.get("run_id", "")))
    accuracy = summary.get("test_accuracy")
    best = summary.get("best_val_accuracy")
    figure = (f"test accuracy {accuracy:.2%}" if isinstance(accuracy, float)
              else f"best val accuracy {best:.2%}" if isinstance(best, float) else "")
    body = ", ".join(part for part in (run, figure, summary.get("message") or "") if part)
    return f"mnist-dash: run {reason}", body


def terminal_fd(fds: tuple[int, ...] = (2, 1)) -> int | None:
    """The first standard descriptor that is a terminal (stderr first: stdout may carry the JSON stream)."""
    for fd in fds:
        try:
            if os.isatty(fd):
                return fd
        except OSError:
            continue
    return None


def to_terminal(summary: Mapping[str, Any], fd: int | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Write the notification to the terminal at `fd` (default: stderr or stdout if a terminal); False: none."""
    fd = terminal_fd() if fd is None else fd
    if fd is None:
        return False
    try:
        os.write(fd, sequence(*describe(summary), env=env).encode("utf-8", "replace"))
        return True
    except OSError:  # the terminal went away: nobody to tell
        return False


def run_command(command: str, summary: Mapping[str, Any], timeout: float = COMMAND_TIMEOUT_S) -> str | None:
    """Run `command` through the shell with the summary as JSON on stdin; None when it succeeded, else why not."""
    payload = json.dumps(dict(summary), default=str).encode("utf-8")
    try:  # its own session: on a timeout the whole group goes, a grandchild cannot hold the pipes open
        proc = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        return f"--notify {command!r} could not start ({exc.strerror or exc})"
    try:
        _, err = proc.communicate(payload, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.communicate()
        return f"--notify {command!r} did not finish within {timeout:g} s; stopped it"
    if proc.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return f"--notify {command!r} exited {proc.returncode}" + (f": {tail[0]}" if tail[0] else "")
    return None


def read_summary(run_dir: str | os.PathLike | None, fallback: Mapping[str, Any]) -> dict[str, Any]:
    """The run folder's summary.json (the whole story), else what the caller knows."""
    if run_dir:
        from core.records.files import SUMMARY_FILE

        try:
            with open(os.path.join(run_dir, SUMMARY_FILE), encoding="utf-8") as f:
                data = json.load(f)
            if isinstance(data, dict):
                return data
        except (OSError, ValueError):
            pass
    return dict(fallback)
