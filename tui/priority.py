"""Keys first: how the dashboard keeps its UI thread responsive beside a handmade-engine training thread.

The handmade engine is pure Python and holds the GIL between bytecodes. While such a run goes, three
measures give the UI thread its share back (each measured in bench/tui_latency.py): a shorter switch
interval, the training thread stepping aside while a key press or a plot rebuild is handled
(`UiControl.ui_busy`), and the cyclic GC frozen once the model exists (`GcFreeze`).

Stepping aside lasts until the UI has settled, not merely until its next frame, when a key changes screens: a
screen that opens (inspector, digits, compare) mounts its widgets over several frames, and a trainer back after
the first one took half of the GIL for the rest. So after each frame the screen stack is compared with the one
before it: while it changes, the trainer stays aside for SETTLE_FRAMES more frames (each re-arms UiControl's
per-hold cap, UI_YIELD_MAX_S); a key or a plot rebuild that stays on its screen lets it go after one frame, as
before (holding every one three frames cost training steps: 654-834 against 884-1,069 in 20 s, on a busy
machine). SETTLE_MAX_S bounds a hold.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

from core.config import TrainConfig
from tui.controller import RUNNING, STARTING, RunController
from tui.runner import GcFreeze

# A shorter switch interval lets the UI thread take the GIL back sooner after each key press or timer tick.
RUN_SWITCH_INTERVAL = 0.001
SETTLE_FRAMES = 2  # frames the trainer stays aside after the screens last changed (a new one mounts)
SETTLE_MAX_S = 1.5  # ... and never longer than this for one key


class UiPriority:
    """The app owns one: told when a run starts, has a model and is over; asked to yield on each key press."""

    def __init__(self, controller: RunController, after_refresh: Callable[[Callable[[], None]], Any]) -> None:
        self.controller = controller
        self.after_refresh = after_refresh  # App.call_after_refresh: run a callback once the frame is drawn
        self.gc_freeze = GcFreeze()
        self.switch_interval = sys.getswitchinterval()

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

    def busy(self) -> None:
        """Have the training thread step aside until the next frame is on screen, longer if screens change."""
        control = self._yielding_control()
        if control is not None:
            control.ui_busy()
            deadline = time.monotonic() + SETTLE_MAX_S
            screens = self._screens()
            self.after_refresh(lambda: self._settle(control, screens, 0, deadline))

    def _settle(self, control: Any, before: tuple[int, int], frames: int, deadline: float) -> None:
        """A frame is drawn: hold on while the screens change (and `frames` after), else let the trainer go."""
        now = self._screens()
        if now != before:
            frames = SETTLE_FRAMES
        if frames <= 0 or time.monotonic() >= deadline or self._yielding_control() is not control:
            control.ui_idle()
            return
        control.ui_busy()  # restart the per-hold cap: it counts from the latest frame
        self.after_refresh(lambda: self._settle(control, now, frames - 1, deadline))

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
