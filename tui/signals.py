"""The dashboard's side of the one signal policy (core.signals): stop signals stop, a hang-up is not a stop.

- SIGINT/SIGTERM while the terminal is there: the app stops its run as Ctrl+C does headless (checkpoint,
  summary `stopped`, recorded as a stop with source "signal") and exits once the training thread returned,
  with 128 + the signal; no run: it exits at once. A second signal exits at once.
- A hang-up (SIGHUP, or the terminal failing): the UI goes away at once and never writes to the terminal again
  (its output is pointed at /dev/null). With the policy "continue" a run in progress goes on in this process,
  headless, to its end, recorded (a `LogLine` with source "hangup" says when the terminal went) and steerable
  from its folder (`--stop`, `--pause`, `--open`); then the process exits with the run's status. No run going:
  the process exits at once. Under "stop" the hang-up stops the run (source "hangup") and the process exits
  with 129 once it is recorded.

The hang-up is carried out by a plain thread, never by Textual: after a hang-up Textual's shutdown can block
for good (App._shutdown -> disable_input -> WriterThread.write -> Queue.put, its writer thread dead of EIO),
so the process ends with os._exit once the run is over and recorded, whatever the UI thread is doing.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any, Callable

from core.exits import for_reason, for_signal
from core.signals import (
    DEFAULT_HANGUP,
    SIGHUP,
    SignalPolicy,
    hangup_message,
    signal_name,
    tty_fds,
)
from tui.controller import STOPPING, RunController
from tui.steering import Steering

__all__ = ["RESTORE", "StopThenExit", "signal_name"]

# Leave the alternate screen, show the cursor, stop mouse reporting: a second SIGTERM in a live terminal.
RESTORE = "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?1049l\x1b[?25h"
DRAIN_S = 0.5  # after a hang-up nobody draws the run's events: drop them this often, memory stays flat
HANGUP_STATUS = for_signal(SIGHUP or 1)


class StopThenExit:
    """The app owns one: `install` on mount, `restore` on unmount, `run_ended` when the training thread returned.

    `hangup` ("continue" or "stop"), `on_end` (called with the run's summary once a run ended: notifications)
    are set by the front end before the app runs.
    """

    def __init__(self, controller: RunController, steering: Steering, *, exit: Callable[[int], Any],
                 log: Callable[[str], Any], hangup: str = DEFAULT_HANGUP) -> None:
        self.controller, self.steering = controller, steering
        self.exit, self.log = exit, log  # App.exit(return_code); a warning line in the log pane
        self.hangup = hangup
        self.on_end: Callable[[dict], None] | None = None
        self.exit_after_run = 0  # the signal to exit with once the run has ended
        self.policy: SignalPolicy | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._status: int | None = None  # after a hang-up: the exit status a later signal asked for
        self._followed: dict[Any, str] = {}  # followed run folder -> its last status

    # ---- the app's hooks ---------------------------------------------------------------------------------

    def install(self) -> None:
        """Take SIGINT, SIGTERM and SIGHUP (only possible on the main thread; elsewhere nothing changes)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        terminals = tty_fds((1, 0))
        self.policy = SignalPolicy(on_stop=self._on_stop, on_hangup=self._on_hangup, hangup=self.hangup,
                                   output_fds=tty_fds((1, 2)), watch_fd=terminals[0] if terminals else None,
                                   leave=RESTORE.encode())
        if not self.policy.install():
            self.policy = None

    def restore(self) -> None:
        """Put back whatever handled the signals before (not after a hang-up: the run going on still obeys them)."""
        if self.policy is not None and not self.policy.hung_up:
            self.policy.restore()

    def keeps_run(self) -> bool:
        """True when the app must not stop its run on the way out: its terminal hung up and the run goes on.

        Asked on unmount: a dead terminal makes Textual's input thread panic the app before any SIGHUP."""
        policy = self.policy
        return policy is not None and policy.terminal_failed() and self.hangup == "continue" \
            and self.controller.active

    def run_ended(self) -> None:
        """The training thread returned (UI thread): tell the user, exit when a signal asked for it."""
        if self.on_end is not None:
            self.on_end(self._summary())
        if self.exit_after_run:
            self.exit(for_signal(self.exit_after_run))  # the CLI's exit status, as headless

    def followed(self, polled: Any) -> None:
        """A poll of a followed run (UI thread): a run seen going that ends is announced as the own run's end."""
        from core.records.status import ENDED, GOING

        was = self._followed.get(polled.run_dir)
        self._followed[polled.run_dir] = polled.status
        if was in GOING and polled.status in ENDED and self.on_end is not None:
            from core.notify import read_summary

            self.on_end(read_summary(polled.run_dir, {"reason": polled.status, "run_dir": str(polled.run_dir)}))

    # ---- stop signals --------------------------------------------------------------------------------------

    def first(self, signum: int) -> None:
        """On the UI thread: stop the run as Ctrl+C does headless, exit once it ended; no run: exit now."""
        if not self.controller.active:
            self.exit(for_signal(signum))
            return
        self.exit_after_run = signum
        self.log(f"{signal_name(signum)}: stopping the run, then exiting (a second signal exits at once)")
        if self.controller.state != STOPPING:
            self.steering.stop("signal")

    def _on_stop(self, signum: int, source: str) -> None:
        """Watcher thread: a stop signal, or a hang-up under the policy "stop"."""
        if source == "hangup" or (self.policy is not None and self.policy.hung_up):
            # No UI to go through: stop the run on its control, wait for its record, leave.
            self._status = HANGUP_STATUS if source == "hangup" else for_signal(signum)
            control = self.controller.control
            if self.controller.active and control is not None:
                from core.backends.control import Command

                control.apply(Command("stop"), source)
            if source == "hangup":
                self._finish_headless()
            return
        loop = self._loop
        if loop is None or loop.is_closed():
            os._exit(for_signal(signum))
        loop.call_soon_threadsafe(self.first, signum)

    # ---- the hang-up ---------------------------------------------------------------------------------------

    def _on_hangup(self, cause: str) -> None:
        """Watcher thread, policy "continue": the UI goes, a run goes on to its end in this process."""
        threading.Thread(target=self._finish_headless, args=(cause,), name="hangup-run", daemon=True).start()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.exit, HANGUP_STATUS)  # a live loop takes the UI down now

    def _finish_headless(self, cause: str = "") -> None:
        """Wait for the run to end and be recorded (noting the hang-up in its record), then end the process.

        Always ends the process (os._exit), whatever fails on the way: the app's thread may be stuck for good."""
        status = self._status or HANGUP_STATUS
        try:
            control = self.controller.control
            ended = getattr(control, "ended", None)
            if not self.controller.active or control is None or ended is None:
                return  # no run going: leave at once
            noted = not cause
            while not ended.wait(DRAIN_S):
                self.controller.pump.drain()  # the UI will never fold them; the record has them all
                live = getattr(control, "live", None)
                if not noted and live is not None:
                    from core.events import LogLine

                    live.emit(LogLine(run_id=live.run_id, level="warning", source="hangup",
                                      message=hangup_message(cause)))
                    noted = True
            summary = self._summary()
            status = self._status or for_reason(str(summary.get("reason", "failed")))
            if self.on_end is not None:
                self.on_end(summary)  # --notify CMD; the terminal is gone
        finally:
            os._exit(status)

    def wait_for_run(self) -> None:
        """After the app returned: after a hang-up the hang-up thread ends the process (once a run going has
        ended and is recorded, at once without one); this thread only waits for it."""
        if self.policy is not None and self.policy.hung_up:
            threading.Event().wait()

    def _summary(self) -> dict:
        """The run's summary.json, else what the controller knows."""
        from core.notify import read_summary

        control = self.controller.control
        live = getattr(control, "live", None)
        run_dir = getattr(live, "run_dir", None) or getattr(self.controller, "run_dir", None)
        return read_summary(run_dir, {"reason": self.controller.state,
                                      "run_dir": str(run_dir) if run_dir else ""})
