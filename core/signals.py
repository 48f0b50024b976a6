"""The one signal policy of headless runs and the dashboard: stop signals stop, a hang-up is not a stop.

- SIGINT and SIGTERM stop the run (after its current step, with a checkpoint and summary `stopped`), recorded
  as a `ControlApplied` stop with source "signal"; a second one exits at once with 128 + its number.
- SIGHUP, or the terminal failing (its device answers EIO), is a hang-up: the terminal is gone, the run is not.
  With the policy "continue" (the default) output to the terminal stops (it is pointed at /dev/null, so no
  write raises or blocks), the record gets a `LogLine` with source "hangup", and the run goes on to its end,
  steerable from its folder (`--stop`, `--pause`). With "stop" the hang-up stops the run as SIGTERM does,
  recorded as a `ControlApplied` stop with source "hangup".

A handler runs on the main thread between two bytecodes, wherever that thread was (even blocked in a queue
that a dead terminal will never drain): it only writes the signal's number to a pipe, or exits. A watcher
thread reads the pipe and calls the front end's callbacks, so they may take locks and block.
"""

from __future__ import annotations

import os
import select
import signal
import termios
import threading
from typing import Any, Callable

from core.exits import for_signal

HANGUP_POLICIES = ("continue", "stop")
DEFAULT_HANGUP = "continue"
SIGHUP = getattr(signal, "SIGHUP", None)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
TERMINAL_FAILED = 255  # on the watcher's pipe: the terminal failed without a SIGHUP (no signal has this number)
TERMINAL_CHECK_S = 0.5  # how often a watched terminal is asked whether it is still there
HANGUP_MESSAGE = ("the terminal hung up ({cause}); the run goes on to its end, recorded in its folder: "
                  "follow it with --open RUN, stop it with --stop RUN")


def signal_name(signum: int) -> str:
    """SIGHUP, SIGTERM, ... (the number when the platform has no name for it)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def tty_fds(fds: tuple[int, ...] = (0, 1, 2)) -> tuple[int, ...]:
    """The standard descriptors that are terminals now (asked before a hang-up: after it they answer EIO)."""
    out = []
    for fd in fds:
        try:
            if os.isatty(fd):
                out.append(fd)
        except OSError:
            pass
    return tuple(out)


def terminal_alive(fd: int) -> bool:
    """False once the terminal behind `fd` hung up (its master closed: every call answers EIO)."""
    try:
        termios.tcgetattr(fd)
        return True
    except (termios.error, OSError):
        return False


def detach(fds: tuple[int, ...]) -> None:
    """Point `fds` at /dev/null: later writes to the gone terminal succeed silently instead of raising EIO."""
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    try:
        for fd in fds:
            try:
                os.dup2(null, fd)
            except OSError:
                pass
    finally:
        os.close(null)


class SignalPolicy:
    """Install on the main thread; callbacks run on a watcher thread: `on_stop(signum, source)` for a stop,
    `on_hangup(cause)` for a hang-up under the policy "continue" (under "stop" a hang-up calls `on_stop` with
    source "hangup"). `output_fds` are detached on a hang-up; `watch_fd` (a terminal) is checked for I/O
    failure every TERMINAL_CHECK_S; `leave` (bytes) is written to it before a second signal exits."""

    def __init__(self, *, on_stop: Callable[[int, str], None], on_hangup: Callable[[str], None],
                 hangup: str = DEFAULT_HANGUP, output_fds: tuple[int, ...] = (), watch_fd: int | None = None,
                 leave: bytes = b"") -> None:
        if hangup not in HANGUP_POLICIES:
            raise ValueError(f"hang-up policy must be one of {', '.join(HANGUP_POLICIES)}, not {hangup!r}")
        self.on_stop, self.on_hangup, self.hangup = on_stop, on_hangup, hangup
        self.output_fds, self.watch_fd, self.leave = output_fds, watch_fd, leave
        self.stops: list[int] = []  # stop signals received (the handler appends: a plain list is signal-safe)
        self.hung_up = False  # set by the handler itself, before any callback: readers on any thread see it
        self._previous: dict[int, Any] = {}
        self._pipe: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None

    def install(self) -> bool:
        """Take SIGINT, SIGTERM and SIGHUP; False (nothing changed) off the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return False
        self._pipe = os.pipe()
        os.set_blocking(self._pipe[1], False)  # the handler never blocks, even on a full pipe
        self._thread = threading.Thread(target=self._watch, name="signal-policy", daemon=True)
        self._thread.start()
        for signum in (*STOP_SIGNALS, *((SIGHUP,) if SIGHUP is not None else ())):
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)
        return True

    def restore(self) -> None:
        """Put back the handlers that were there before and end the watcher."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        if self._pipe is not None:
            try:
                os.write(self._pipe[1], b"\0")  # 0: the watcher's end
            except OSError:
                pass
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(2.0)
            for fd in self._pipe:
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._pipe = None

    # ---- the handler: signal context, main thread ----------------------------------------------------

    def _handle(self, signum: int, _frame: object) -> None:
        stopping = signum != SIGHUP or self.hangup == "stop"
        if signum == SIGHUP:
            if self.hung_up:
                return  # the terminal can hang up only once; a run that goes on ignores the repeats
            self.hung_up = True
        if stopping:
            self.stops.append(signum)
            if len(self.stops) > 1:
                self.exit_now(signum)
        try:
            os.write(self._pipe[1], bytes([signum])) if self._pipe else None
        except OSError:
            pass

    def terminal_failed(self) -> bool:
        """Check the watched terminal now (any thread); a dead one is a hang-up, handled as SIGHUP is. True if so."""
        if self.watch_fd is None or self.hung_up or terminal_alive(self.watch_fd):
            return self.hung_up
        self.hung_up = True
        if self.hangup == "stop" and SIGHUP is not None:
            self.stops.append(SIGHUP)
        try:
            os.write(self._pipe[1], bytes([TERMINAL_FAILED])) if self._pipe else None
        except OSError:
            pass
        return True

    def exit_now(self, signum: int) -> None:
        """Leave at once (a second stop signal): best-effort terminal repair, no waiting for the run."""
        if self.leave and self.watch_fd is not None and not self.hung_up:
            try:
                os.write(self.watch_fd, self.leave)
            except OSError:
                pass
        os._exit(for_signal(signum))

    # ---- the watcher thread ----------------------------------------------------------------------------

    def _watch(self) -> None:
        assert self._pipe is not None
        read_fd = self._pipe[0]
        while True:
            timeout = TERMINAL_CHECK_S if self.watch_fd is not None and not self.hung_up else None
            ready, _, _ = select.select([read_fd], [], [], timeout)
            if not ready:
                self.terminal_failed()  # the next round reads what it wrote
                continue
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            for signum in data:
                if signum == 0:
                    return
                self._dispatch(signum)

    def _dispatch(self, signum: int) -> None:
        try:
            if signum in (SIGHUP, TERMINAL_FAILED):
                detach(self.output_fds)
                cause = "its input and output fail" if signum == TERMINAL_FAILED else signal_name(signum)
                if self.hangup == "stop":
                    self.on_stop(SIGHUP or signum, "hangup")
                else:
                    self.on_hangup(cause)
            else:
                self.on_stop(signum, "signal")
        except Exception:  # a callback's bug must not end the watcher: later signals still need it
            import traceback

            traceback.print_exc()


def hangup_message(cause: str) -> str:
    """The record's line for a hang-up under the policy "continue"."""
    return HANGUP_MESSAGE.format(cause=cause)
