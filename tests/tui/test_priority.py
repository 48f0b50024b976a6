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
    """Just enough of an App: a screen stack and call_after_refresh that queues the callback as one frame."""

    def __init__(self) -> None:
        self.screen_stack = ["dashboard"]
        self.frames: list = []

    @property
    def screen(self) -> str:
        return self.screen_stack[-1]

    def call_after_refresh(self, callback) -> None:
        self.frames.append(callback)

    def draw(self) -> None:
        """One frame is on screen: run what waited for it."""
        waiting, self.frames = self.frames, []
        for callback in waiting:
            callback()


def make(state: str = RUNNING, backend: str = "scalar"):
    app, control = FakeApp(), Control()
    controller = SimpleNamespace(run_config=TrainConfig(backend=backend), control=control, state=state)
    return app, control, UiPriority(controller, app.call_after_refresh)


def test_a_key_on_the_same_screen_holds_the_trainer_for_one_frame():
    app, control, ui = make()
    ui.busy()
    assert control.log == ["busy"]
    app.draw()
    assert control.log == ["busy", "idle"] and app.frames == []


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
