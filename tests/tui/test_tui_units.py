"""Unit tests of the dashboard's plain parts: estimates, the event pump, the yielding control, form checks."""

from __future__ import annotations

import threading
import time

from core.config import Problem, TrainConfig
from core.events import LogLine
from core.records.curves import smooth
from tui.estimate import Estimator, format_seconds
from tui.render import fmt, grid_shape, heatmap_cells, spark_text
from tui.runner import EventPump, UiControl
from tui.widgets.config_form import FORM_FIELDS, tui_problems, worded
from tui.widgets.plots import step_ticks


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


def test_ui_control_asks_the_trainer_to_step_aside_between_samples_until_the_ui_is_idle():
    control = UiControl()
    assert not control.step_aside_wanted and control.step_aside() == 0.0
    control.ui_busy()
    assert control.step_aside_wanted
    threading.Timer(0.05, control.ui_idle).start()
    assert control.step_aside() > 0.0  # waited for the UI
    assert not control.step_aside_wanted and control.step_aside() == 0.0
    control.pause()  # a user's pause is obeyed between steps, not between samples
    assert not control.step_aside_wanted and control.step_aside() == 0.0


def test_form_checks_refuse_multi_device_and_word_problems_with_labels():
    assert tui_problems(TrainConfig(backend="lightning", devices=2))[0].field == "devices"
    assert tui_problems(TrainConfig(num_nodes=2))[0].field == "devices"
    assert tui_problems(TrainConfig(backend="lightning")) == []
    assert worded(Problem("lr", "must be > 0")) == "learning rate: must be > 0"
    assert worded(Problem("", "expected a table")) == "expected a table"
    assert "backend" not in [info.name for info in FORM_FIELDS]  # the backend switch sets it


def test_render_helpers():
    assert grid_shape(49, 7) == (7, 7) and grid_shape(6) == (2, 3)
    assert heatmap_cells([1.0, 2.0, 3.0], side=None) == [[(1.0, 3.0), (2.0, None)]]
    assert spark_text([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]) == "▁▂▃▄▅▆▇█"
    assert spark_text([5.0, 5.0]) == "▄▄" and spark_text([float("nan")]) == ""
    assert fmt(0.000123456) == " 0.0001235" and fmt(float("inf")) == "inf"


def test_plot_helpers():
    assert step_ticks(40) == [0, 10, 20, 30, 40]
    assert smooth([1.0, 1.0], 0.5) == [1.0, 1.0]  # the one smoothing (core.records.curves), debiased
    assert smooth([0.0, 10.0], 0.0) == [0.0, 10.0]


def test_estimate_counts_the_digits_of_the_source_a_run_will_read():
    from tui.estimate import SAMPLE_DIGITS, Estimator, source_digits

    sample = Estimator()  # no folder named: the embedded sample (10,000 digits: 9,167 train, 833 validation)
    assert sample.train_size(TrainConfig(train_subset=0)) == 9_167 and sample.val_size(TrainConfig()) == 500
    assert sample.val_size(TrainConfig(val_subset=0)) == 833
    assert sample.train_size(TrainConfig(train_subset=20_000)) == 9_167  # a subset larger than the split
    assert source_digits("/data/mnist") == 60_000 and source_digits(None) == SAMPLE_DIGITS
    full = Estimator(source=60_000)
    assert full.train_size(TrainConfig(train_subset=0)) == 55_000 and full.val_size(TrainConfig(val_subset=0)) == 5_000
    full.known_train_size = 1_234  # what the last RunStarted with train subset 0 said wins
    assert full.train_size(TrainConfig(train_subset=0)) == 1_234


def test_the_sample_size_the_estimate_assumes_is_the_shipped_samples():
    from core.data import RawMnist, prepare, read_sample
    from tui.estimate import SAMPLE_DIGITS, split

    arrays = read_sample()
    assert len(arrays["train_labels"]) == SAMPLE_DIGITS
    data = prepare(RawMnist(**arrays, source="sample", is_sample=True), input_size=7)
    assert (len(data.train), len(data.val)) == split(SAMPLE_DIGITS) == (9_167, 833)


def test_estimate_of_a_config_after_its_epoch_is_that_epochs_time():
    est = Estimator()
    config = TrainConfig(train_subset=1_000, val_subset=200)
    est.observe("scalar", config, samples_per_s=250.0)  # 1,000 training digits took 4 s
    assert abs(est.epoch_seconds(config) - 4.0 * (1_000 + 0.35 * 200) / 1_000) < 1e-9
