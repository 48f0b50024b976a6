"""Unit tests of the dashboard's plain parts: estimates, the event pump, the yielding control, form checks."""

from __future__ import annotations

import threading
import time

from core.config import TrainConfig
from core.events import LogLine
from tui.estimate import Estimator, format_seconds
from tui.runner import EventPump, UiControl
from tui.widgets.config_form import field_of, tui_problems
from tui.widgets.plots import smooth, step_ticks


def test_estimate_scales_with_parameters_and_recalibrates():
    est = Estimator()
    small, big = TrainConfig(hidden=(8,)), TrainConfig(hidden=(256,))
    assert est.epoch_seconds(big) > 10 * est.epoch_seconds(small)
    est.observe("scalar", small, samples_per_s=1000.0)
    assert abs(est.epoch_seconds(small) - (2000 + 0.35 * 500) / 1000.0) < 1e-9
    lightning = est.epoch_seconds(TrainConfig(backend="lightning"), "gpu")
    assert lightning < est.epoch_seconds(small.replace(hidden=(64, 32)))
    assert format_seconds(0.42) == "0.4 s" and format_seconds(45) == "45 s" and format_seconds(600) == "10.0 min"


def test_event_pump_wakes_the_ui_once_per_drain():
    wakes = []
    pump = EventPump(lambda: wakes.append(1))
    for i in range(5):
        pump.emit(LogLine(run_id="r", level="info", message=str(i)))
    assert len(wakes) == 1
    assert [e.message for e in pump.drain()] == ["0", "1", "2", "3", "4"]
    pump.emit(LogLine(run_id="r", level="info", message="again"))
    assert len(wakes) == 2


def test_ui_control_yields_briefly_without_touching_the_user_pause():
    control = UiControl()
    control.ui_busy()
    assert control.paused and not control.user_paused
    threading.Timer(0.05, control.ui_idle).start()
    control.wait_while_paused()  # returns once the UI is idle again
    assert not control.paused
    control.pause()
    assert control.user_paused
    control.resume()
    control.ui_busy()
    time.sleep(0.3)  # a UI that never says idle cannot hold the trainer for long
    assert not control.paused


def test_form_checks_refuse_multi_device_and_name_fields():
    problems = tui_problems(TrainConfig(backend="lightning", devices=2))
    assert len(problems) == 1 and "headless" in problems[0] and field_of(problems[0]) == "devices"
    scalar = tui_problems(TrainConfig(devices=4))
    assert len(scalar) == 1 and "headless" in scalar[0]
    assert field_of("lr: 'x' is not a number") == "lr"


def test_plot_helpers():
    assert step_ticks(40) == [0, 10, 20, 30, 40]
    assert smooth([1.0, 1.0, 1.0], 5) == [1.0, 1.0, 1.0]
    assert smooth([0.0, 10.0], 1) == [0.0, 10.0]
