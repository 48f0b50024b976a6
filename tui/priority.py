"""Keys first: how the dashboard keeps its UI thread responsive beside a handmade-engine training thread.

The handmade engine is pure Python and holds the GIL between bytecodes. While such a run goes, three
measures give the UI thread its share back (each measured in bench/tui_latency.py): a shorter switch
interval, the training thread stepping aside while a key press or a plot rebuild is handled
(`UiControl.ui_busy`), and the cyclic GC frozen once the model exists, its full collections run between keys
(`GcFreeze`, `collect_garbage`).

Stepping aside lasts until the key's frame is on screen: Textual runs `call_after_refresh` callbacks at once
when the screen has nothing dirty yet, and a key's widgets mark themselves dirty a message later, so the first
callback often came before the frame that the key changed (the trainer was back while the digits page was drawn,
70 ms instead of 30). So a hold first waits for a frame drawn since the key (the app counts them:
`MnistDashApp.frames_drawn`), re-checking every RECHECK_S, and lets the trainer go after FRAME_WAIT_MAX_S if
none comes (a key that changed nothing visible). After that frame, when the key changed screens, it lasts until
the UI has settled: a screen that opens mounts its widgets over several frames, and a trainer back after the
first one took half of the GIL for the rest. So after each frame the screen stack is compared with the one
before it: while it changes, the trainer stays aside for SETTLE_FRAMES more frames (each re-arms UiControl's
per-hold cap, UI_YIELD_MAX_S); a key or a plot rebuild that stays on its screen lets it go after its frame
(holding every one three frames cost training steps: 654-834 against 884-1,069 in 20 s, on a busy machine).
SETTLE_MAX_S bounds a hold; when holds overlap (keys in quick succession) the newest one lets the trainer go
(a hold whose callbacks were lost with a closed screen costs at most UI_YIELD_MAX_S once).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

from core.config import TrainConfig
from tui.controller import RUNNING, STARTING, RunController
from tui.runner import GcFreeze

# A shorter switch interval lets the UI thread take the GIL back sooner after each key press or timer tick.
RUN_SWITCH_INTERVAL = 0.001
SETTLE_FRAMES = 2  # frames the trainer stays aside after the screens last changed (a new one mounts)
SETTLE_MAX_S = 1.5  # ... and never longer than this for one key
FRAME_WAIT_MAX_S = 0.1  # a key that changes nothing visible draws no frame: the trainer comes back after this
RECHECK_S = 0.004  # how often a hold looks for the key's frame
GC_CHECK_S = 0.5  # how often the app offers GcFreeze its full collection while no key comes ...
KEY_QUIET_S = 1.0  # ... for this long (while keys come, a key's hold offers it as it ends)


@dataclass
class _Hold:
    """One key's (or plot rebuild's) claim on the interpreter."""

    control: Any  # the run's UiControl when the hold began
    screens: tuple[int, int]  # which screen showed and how deep the stack was, at the key
    frames: int  # frames drawn before the key
    since: float  # time.monotonic() at the key
    deadline: float  # the hold ends by then whatever happens
    key: bool = True  # a key's (else a plot rebuild's)


class UiPriority:
    """The app owns one: told when a run starts, has a model and is over; asked to yield on each key press."""

    def __init__(self, controller: RunController, after_refresh: Callable[[Callable[[], None]], Any],
                 frames_drawn: Callable[[], int] = lambda: 0,
                 later: Callable[[float, Callable[[], None]], Any] | None = None) -> None:
        self.controller = controller
        self.after_refresh = after_refresh  # App.call_after_refresh: run a callback once the frame is drawn
        self.frames_drawn = frames_drawn  # how many frames the app has drawn so far
        self.later = later  # App.set_timer: run a callback after some seconds (None: no waiting for a frame)
        self.gc_freeze = GcFreeze()
        self.switch_interval = sys.getswitchinterval()
        self.newest: _Hold | None = None  # the hold that lets the trainer go when it ends
        self.last_key = 0.0  # time.monotonic() of the latest busy()

    def run_started(self, config: TrainConfig) -> None:
        """A run of `config` starts (only the handmade engine needs the short switch interval)."""
        if config.backend == "scalar":
            sys.setswitchinterval(RUN_SWITCH_INTERVAL)

    def model_exists(self) -> None:
        """The run's model exists (a step ended): freeze what is alive out of the cyclic GC."""
        self.gc_freeze.freeze()

    def run_over(self) -> None:
        """No run goes any more: the interpreter's own settings again."""
        self.restore_switch_interval()
        self.gc_freeze.thaw()

    def restore_switch_interval(self) -> None:
        sys.setswitchinterval(self.switch_interval)

    def busy(self, key: bool = True) -> None:
        """Have the training thread step aside until the key's frame is on screen, longer if screens change.

        `key=False`: for a plot rebuild (its figures are built during the next frame); such a hold neither counts
        as a key nor offers the full collection as it ends.
        """
        control = self._yielding_control()
        if control is not None:
            control.ui_busy()
            now = time.monotonic()
            if key:
                self.last_key = now
            self.newest = hold = _Hold(control, self._screens(), self.frames_drawn(), now, now + SETTLE_MAX_S, key)
            self.after_refresh(lambda: self._first_frame(hold))

    def rebuilding(self) -> None:
        """A plot rebuild is due: busy(key=False)."""
        self.busy(key=False)

    def _first_frame(self, hold: _Hold) -> None:
        """After a refresh: go on once a frame was drawn since the key, else look again in RECHECK_S."""
        now = time.monotonic()
        if self.frames_drawn() == hold.frames and self.later is not None and now < hold.deadline and \
                now - hold.since < FRAME_WAIT_MAX_S and self._yielding_control() is hold.control:
            self.later(RECHECK_S, lambda: self._first_frame(hold))
            return
        self._settle(hold, hold.screens, 0)

    def _settle(self, hold: _Hold, before: tuple[int, int], frames: int) -> None:
        """A frame is drawn: hold on while the screens change (and `frames` after), else let the trainer go."""
        control = hold.control
        now = self._screens()
        if now != before:
            frames = SETTLE_FRAMES
        if frames <= 0 or time.monotonic() >= hold.deadline or self._yielding_control() is not control:
            if self.newest is hold or not self._hold_in_force():  # an older hold leaves a newer one in force
                self.newest = None
                control.ui_idle()
                if hold.key:  # the key's frame is on screen: the next key is most likely later
                    self.gc_freeze.collect_if_due()
            return
        control.ui_busy()  # restart the per-hold cap: it counts from the latest frame
        self.after_refresh(lambda: self._settle(hold, now, frames - 1))

    def collect_garbage(self) -> None:
        """The app calls this every GC_CHECK_S: the full collection GcFreeze keeps for the UI, if due, when no
        key came for KEY_QUIET_S. While keys come it runs as a key's hold ends instead: the key's frame is on
        screen, and the next key is most likely further away than the ~50-60 ms a collection takes (a key
        arriving during one waits for the rest of it; at random moments one in ~35 keys did, up to +60 ms)."""
        if not self._hold_in_force() and time.monotonic() - self.last_key >= KEY_QUIET_S:
            self.gc_freeze.collect_if_due()

    def _hold_in_force(self) -> bool:
        """A key's hold goes on (one whose callbacks were lost with a closed screen ends at its deadline)."""
        return self.newest is not None and time.monotonic() < self.newest.deadline

    def _screens(self) -> tuple[int, int]:
        """Which screen shows and how deep the stack is (the app is the one `after_refresh` belongs to)."""
        app = getattr(self.after_refresh, "__self__", None)
        try:
            return id(app.screen), len(app.screen_stack)
        except Exception:  # noqa: BLE001 - no app (a test's stand-in) or no screen yet: nothing changes
            return 0, 0

    def hold(self) -> Callable[[], None]:
        """Have the training thread step aside until the returned callable runs (at most UI_YIELD_MAX_S).

        For work the UI waits on in a worker thread, such as the probe answering a digit being drawn: beside a
        handmade-engine run it measured 265 ms median for 13 ms of work, the two threads sharing the GIL.
        """
        control = self._yielding_control()
        if control is None:
            return lambda: None
        control.ui_busy()
        return control.ui_idle

    def _yielding_control(self) -> Any:
        """The run's control when its training thread should step aside for the UI, else None."""
        # Only the handmade engine needs it: torch releases the GIL inside its kernels.
        config, control = self.controller.run_config, self.controller.control
        if control is not None and config is not None and config.backend == "scalar" and self.controller.state in (
                STARTING, RUNNING):
            return control
        return None
