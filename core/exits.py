"""The command line's exit statuses, the one set: every front end and command returns one of these."""

from __future__ import annotations

from core.events import OK_REASONS

EXIT_OK = 0  # done: a run completed, stopped on request or early-stopped; a command did what it said
EXIT_FAILED = 1  # a run failed or diverged; a followed run ended that way
EXIT_USAGE = 2  # bad flags, a bad run folder, data that is gone: one clear line, nothing started
EXIT_SIGNAL_BASE = 128  # a run stopped by signal N exits 128 + N, as a shell reports a killed child
EXIT_INTERRUPTED = EXIT_SIGNAL_BASE + 2  # Ctrl+C (SIGINT) before a run could take it over


def for_signal(signum: int) -> int:
    """The status of a process that a signal stopped: 128 + its number (SIGTERM: 143)."""
    return EXIT_SIGNAL_BASE + int(signum)


def for_reason(reason: str) -> int:
    """The status of a run that ended with `reason` (summary.json's): 0 for the endings that did their job."""
    return EXIT_OK if reason in OK_REASONS else EXIT_FAILED
