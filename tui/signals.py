"""The dashboard survives its terminal: SIGHUP and SIGTERM stop the run as Ctrl+C does headless, then exit.

The first signal asks the app to stop its run (checkpoint, summary `stopped`, the whole record) and to exit
once the training thread has returned; a second one exits at once. Python runs signal handlers on the main
thread, which is the app's own event-loop thread, between two bytecodes: the handler only schedules the
app's callback on the loop (`call_soon_threadsafe` is safe there; `call_from_thread` refuses the app's thread).
`StopThenExit` (a plain class the app owns) is that callback: the stop is recorded with source "signal".
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from typing import Any, Callable

from tui.controller import STOPPING, RunController
from tui.steering import Steering

SIGNALS = tuple(s for s in (getattr(signal, "SIGHUP", None), signal.SIGTERM) if s is not None)
# Leave the alternate screen, show the cursor, stop mouse reporting: a second SIGTERM in a live terminal.
RESTORE = "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?1049l\x1b[?25h"


class SignalStop:
    """Installs the handlers (`install` on mount, `restore` on unmount); `on_first(signum)` runs on the loop."""

    def __init__(self, on_first: Callable[[int], None]) -> None:
        self.on_first = on_first
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        """Take SIGHUP and SIGTERM (only possible on the main thread; elsewhere nothing changes)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        for signum in SIGNALS:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def restore(self) -> None:
        """Put back whatever handled the signals before."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: object) -> None:
        self.received.append(signum)
        if len(self.received) > 1:
            leave_now(signum)
        loop = self._loop
        if loop is None or loop.is_closed():
            leave_now(signum)
        loop.call_soon_threadsafe(self.on_first, signum)


def leave_now(signum: int) -> None:
    """Exit at once (the second signal): best-effort terminal repair, no waiting for the run."""
    try:
        os.write(sys.__stdout__.fileno(), RESTORE.encode())
    except (OSError, AttributeError, ValueError):
        pass  # the terminal is gone (SIGHUP)
    os._exit(128 + signum)


def signal_name(signum: int) -> str:
    """SIGHUP, SIGTERM, ... (the number when the platform has no name for it)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class StopThenExit:
    """The app owns one: the first SIGHUP/SIGTERM stops its run (recorded with source "signal"), then exits."""

    def __init__(self, controller: RunController, steering: Steering, *, exit: Callable[[int], Any],
                 log: Callable[[str], Any]) -> None:
        self.controller, self.steering = controller, steering
        self.exit, self.log = exit, log  # App.exit(return_code); a warning line in the log pane
        self.exit_after_run = 0  # the signal to exit with once the run has ended
        self.handlers = SignalStop(self.first)

    def install(self) -> None:
        self.handlers.install()

    def restore(self) -> None:
        self.handlers.restore()

    def first(self, signum: int) -> None:
        """Stop the run as Ctrl+C does headless (recorded as stopped), exit once it ended; no run: exit now."""
        if not self.controller.active:
            self.exit(128 + signum)
            return
        self.exit_after_run = signum
        self.log(f"{signal_name(signum)}: stopping the run, then exiting (a second signal exits at once)")
        if self.controller.state != STOPPING:
            self.steering.stop("signal")

    def run_ended(self) -> None:
        """The training thread returned: exit when a signal asked for it."""
        if self.exit_after_run:
            self.exit(128 + self.exit_after_run)  # the CLI's exit status, as headless
