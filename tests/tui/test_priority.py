"""UiPriority: how long the trainer stays aside after a key (one frame, more while the screens change)."""

from __future__ import annotations

from types import SimpleNamespace

import tui.priority as priority
from core.config import TrainConfig
from tui.controller import RUNNING
from tui.priority import UiPriority


class Control:
    """A stand-in for UiControl that logs what the UI asked for."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def ui_busy(self) -> None:
        self.log.append("busy")

    def ui_idle(self) -> None:
        self.log.append("idle")


class FakeApp:
    """Just enough of an App: a screen stack, frames, call_after_refresh and set_timer that queue callbacks."""

    def __init__(self) -> None:
        self.screen_stack = ["dashboard"]
        self.frames: list = []  # callbacks waiting for a refresh
        self.timers: list = []  # callbacks waiting for a timer
        self.drawn = 0

    @property
    def screen(self) -> str:
        return self.screen_stack[-1]

    def call_after_refresh(self, callback) -> None:
        self.frames.append(callback)

    def set_timer(self, delay, callback) -> None:
        self.timers.append(callback)

    def draw(self) -> None:
        """One frame is on screen: run what waited for it."""
        self.drawn += 1
        self.idle()

    def idle(self) -> None:
        """Textual runs after-refresh callbacks at once when nothing is dirty yet: no frame drawn."""
        waiting, self.frames = self.frames, []
        for callback in waiting:
            callback()

    def tick(self) -> None:
        waiting, self.timers = self.timers, []
        for callback in waiting:
            callback()


def make(state: str = RUNNING, backend: str = "scalar"):
    app, control = FakeApp(), Control()
    controller = SimpleNamespace(run_config=TrainConfig(backend=backend), control=control, state=state)
    return app, control, UiPriority(controller, app.call_after_refresh, lambda: app.drawn, app.set_timer)


def test_a_key_on_the_same_screen_holds_the_trainer_for_one_frame():
    app, control, ui = make()
    ui.busy()
    assert control.log == ["busy"]
    app.draw()
    assert control.log == ["busy", "idle"] and app.frames == []


def test_a_hold_waits_for_the_keys_frame_when_its_callback_comes_before_it():
    app, control, ui = make()
    ui.busy()
    app.idle()  # the callback runs before the key's widgets marked themselves dirty
    app.tick()
    assert control.log == ["busy"] and len(app.timers) == 1  # looking again shortly
    app.draw()  # the key's frame
    app.tick()
    assert control.log == ["busy", "idle"] and app.timers == []


def test_a_key_that_draws_nothing_lets_the_trainer_go_after_frame_wait_max(monkeypatch):
    app, control, ui = make()
    ui.busy()
    app.idle()
    assert control.log == ["busy"]
    monkeypatch.setattr(priority, "FRAME_WAIT_MAX_S", 0.0)
    app.tick()
    assert control.log == ["busy", "idle"] and app.timers == []


def test_an_older_hold_ending_leaves_a_newer_one_in_force(monkeypatch):
    app, control, ui = make()
    monkeypatch.setattr(priority, "SETTLE_MAX_S", 0.0)
    ui.busy()  # a hold already past its deadline when its frame comes
    monkeypatch.setattr(priority, "SETTLE_MAX_S", 1.5)
    ui.busy()  # a newer key, which opens a screen
    app.screen_stack.append("inspector")
    app.draw()  # the older hold ends here; the newer one holds on while the screen settles
    assert control.log == ["busy", "busy", "busy"]
    for _ in range(priority.SETTLE_FRAMES):
        app.draw()
    assert control.log[-1] == "idle" and control.log.count("idle") == 1 and app.frames == []


def test_a_key_that_opens_a_screen_holds_the_trainer_until_the_screens_settle():
    app, control, ui = make()
    ui.busy()
    app.screen_stack.append("inspector")  # the key's binding pushes a screen
    app.draw()
    assert control.log[-1] == "busy"  # still aside: the new screen mounts over the next frames
    for _ in range(priority.SETTLE_FRAMES - 1):
        app.draw()
        assert control.log[-1] == "busy"
    app.draw()
    assert control.log[-1] == "idle" and app.frames == []


def test_a_hold_never_outlasts_its_deadline(monkeypatch):
    app, control, ui = make()
    monkeypatch.setattr(priority, "SETTLE_MAX_S", 0.0)
    ui.busy()
    app.screen_stack.append("digits")
    app.draw()
    assert control.log == ["busy", "idle"]


def test_only_a_running_handmade_engine_is_asked_to_step_aside():
    for state, backend in ((RUNNING, "lightning"), ("paused", "scalar")):
        app, control, ui = make(state, backend)
        ui.busy()
        assert control.log == [] and app.frames == []


def test_during_a_run_full_collections_wait_for_the_ui_and_the_thresholds_come_back(monkeypatch):
    import gc

    from tui.runner import GcFreeze

    clock = [100.0]
    freeze = GcFreeze(clock=lambda: clock[0])
    before = gc.get_threshold()
    full = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: full.append(generation) or 0)
    try:
        freeze.freeze()
        assert gc.get_threshold() == (before[0], before[1], GcFreeze.NEVER) and gc.get_freeze_count() > 0
        assert not freeze.collect_if_due()  # just collected by freeze()
        clock[0] += GcFreeze.FULL_COLLECT_EVERY_S
        assert freeze.collect_if_due() and not freeze.collect_if_due()
        assert full == [2, 2]
    finally:
        freeze.thaw()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    clock[0] += GcFreeze.FULL_COLLECT_EVERY_S
    assert not freeze.collect_if_due()  # no run: the interpreter collects by itself again


def test_the_full_collection_runs_as_a_keys_hold_ends_or_when_no_key_came_for_a_while(monkeypatch):
    app, control, ui = make()
    offered = []
    monkeypatch.setattr(ui.gc_freeze, "collect_if_due", lambda: offered.append(1))
    ui.busy()
    ui.collect_garbage()
    assert offered == []  # a key's hold is in force
    app.draw()  # the key's frame: the hold ends and offers it
    assert control.log == ["busy", "idle"] and offered == [1]
    ui.collect_garbage()  # the app's periodic offer: a key came just now
    assert offered == [1]
    ui.last_key -= priority.KEY_QUIET_S
    ui.collect_garbage()
    assert offered == [1, 1]
    ui.busy()
    app.frames.clear()  # this hold's callbacks are lost (its screen closed before a refresh)
    ui.last_key -= priority.KEY_QUIET_S
    ui.collect_garbage()
    assert offered == [1, 1]
    ui.newest.deadline = 0.0  # ... so it ends at its deadline and no longer keeps the collections away
    ui.collect_garbage()
    assert offered == [1, 1, 1]


def test_a_plot_rebuilds_hold_is_no_key(monkeypatch):
    app, control, ui = make()
    offered = []
    monkeypatch.setattr(ui.gc_freeze, "collect_if_due", lambda: offered.append(1))
    ui.last_key -= priority.KEY_QUIET_S
    ui.rebuilding()
    assert control.log == ["busy"]
    app.draw()
    assert control.log == ["busy", "idle"] and offered == []  # its frame offers nothing ...
    ui.collect_garbage()
    assert offered == [1]  # ... and it did not count as a key: no key came for a while
