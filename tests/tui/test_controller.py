"""The run lifecycle without a terminal: the state machine, event folding, refusals, the probe in use."""

from __future__ import annotations

import pytest

from core.config import TrainConfig
from core.events import EpochEnded, LogLine, RunFailed, RunFinished, RunStarted, StepEnded
from tui.controller import ACTIVE, Refused, RunController

CONFIG = TrainConfig(hidden=(4,), input_size=7, train_subset=48, epochs=2)
RUN = "r1"


def started(run_id: str = RUN) -> RunStarted:
    return RunStarted(run_id=run_id, time=0.0, backend="scalar", device="cpu", data_source="test",
                      config=CONFIG.to_dict(), train_size=48, val_size=16, test_size=16, total_steps=12,
                      parameter_count=254)


def step(n: int) -> StepEnded:
    return StepEnded(run_id=RUN, time=0.0, step=n, epoch=1, loss=1.0, accuracy=0.5, samples_per_s=10.0,
                     samples_seen=8 * n, progress=n / 12)


def controller() -> tuple[RunController, list[str]]:
    seen: list[str] = []
    return RunController(["L0.N1.b"], on_state=seen.append), seen


def test_a_whole_run_walks_the_states_and_reports_each_change_once():
    ctl, seen = controller()
    control = ctl.start(CONFIG)
    assert control.watched == ("L0.N1.b",) and ctl.config is CONFIG
    ctl.fold([started()])
    ctl.fold([step(1), step(2)])
    assert ctl.toggle_pause() == "paused" and control.user_paused
    assert ctl.toggle_pause() == "running" and not control.user_paused
    assert ctl.stop() is not None and control.stop_requested
    assert ctl.stop() is None  # already stopping: nothing new to say
    ctl.pump.emit(RunFinished(run_id=RUN, time=0.0, reason="stopped", steps=2, epochs_completed=0, seconds=1.0))
    notes = ctl.ended("stopped")
    assert seen == ["starting", "running", "paused", "running", "stopping", "stopped"]
    assert [n.text for n in notes] == ["run stopped after 2 steps in 1.0 s", "Run stopped."]
    assert not notes[1].log and notes[1].title  # a notification, not a second log line
    assert ctl.history.current.finished is not None  # folded before the final state


def test_refusals_name_the_way_out():
    ctl, seen = controller()
    with pytest.raises(Refused, match="start a run first"):
        ctl.toggle_pause()
    with pytest.raises(Refused, match="No run is going"):
        ctl.stop()
    ctl.start(CONFIG)
    with pytest.raises(Refused, match="stop it first"):
        ctl.start(CONFIG)
    with pytest.raises(Refused, match="Stop the run"):
        ctl.view([], CONFIG, "runs/x", "completed")
    ctl.stop()
    with pytest.raises(Refused, match="stopping"):
        ctl.toggle_pause()
    assert seen == ["starting", "stopping"]


def test_the_form_sets_the_config_in_force_only_between_runs():
    ctl, _ = controller()
    ctl.start(CONFIG)
    ctl.form_changed(CONFIG.replace(lr=0.5))
    assert ctl.config is CONFIG
    ctl.ended("completed")
    ctl.form_changed(None)  # an invalid form keeps the last valid config
    assert ctl.config is CONFIG
    ctl.form_changed(CONFIG.replace(lr=0.5))
    assert ctl.config.lr == 0.5 and ctl.run_config is CONFIG


def test_a_failure_is_noted_once_whether_or_not_the_backend_said_so():
    ctl, _ = controller()
    ctl.start(CONFIG)
    ctl.pump.emit(RunFailed(run_id=RUN, time=0.0, error="loss became NaN"))
    notes = ctl.ended("failed", "ValueError: loss became NaN")
    assert [(n.text, n.level) for n in notes] == [("loss became NaN", "error")]
    ctl.start(CONFIG)
    notes = ctl.ended("failed", "ImportError: no torch")
    assert [(n.text, n.level, n.title) for n in notes] == [("ImportError: no torch", "error", "The run failed")]
    ctl.start(CONFIG)
    assert ctl.ended("exploded")[0].level == "error" and ctl.state == "failed"  # unknown reason: a failure


def test_folding_logs_events_and_recalibrates_the_estimate():
    ctl, _ = controller()
    ctl.start(CONFIG)
    before = ctl.estimator.epoch_seconds(CONFIG)
    notes = ctl.fold([started(), LogLine(run_id=RUN, level="debug", message="tip", source="lightning"),
                      LogLine(run_id=RUN, level="error", message="boom"),
                      EpochEnded(run_id=RUN, epoch=1, step=6, train_loss=0.5, train_accuracy=0.8, val_loss=0.6,
                                 val_accuracy=0.75, epoch_seconds=2.0, samples_per_s=1000.0)])
    assert notes[0].text.startswith("run r1 started on cpu: 254 parameters, 48 training digits from test")
    assert (notes[1].level, notes[1].source, notes[1].title) == ("debug", "lightning", "")
    assert notes[2].title == "Backend error"
    assert notes[3].text == "epoch 1: train loss 0.5000 acc 80.0% · val loss 0.6000 acc 75.0% · 2.0 s"
    assert ctl.estimator.epoch_seconds(CONFIG) != before
    assert ctl.estimator.epoch_seconds(CONFIG) == pytest.approx((48 + 0.35 * 500) / 1000.0)


def test_viewing_a_past_run_uses_its_probe_and_watches_carry_over():
    ctl, seen = controller()

    class Trainer:
        def probe(self):
            return "live probe"

    ctl.start(CONFIG)
    ctl.set_trainer(Trainer())
    assert ctl.probe() == "live probe"
    ctl.set_watched(["L0.N1.b", "L0.N1.b", "loss"])
    assert ctl.control.watched == ("L0.N1.b", "loss")
    ctl.ended("completed")
    assert ctl.probe() == "live probe"  # a finished run still shows its model
    note = ctl.view([started("old")], CONFIG.replace(lr=0.2), "runs/old", "completed")
    assert ctl.state == "viewing" and ctl.config.lr == 0.2 and "runs/old" in note.text
    assert ctl.probe() is None  # until load_viewed_probe has read the checkpoint
    assert "cannot look inside old" in ctl.load_viewed_probe()  # no such folder
    assert seen[-1] == "viewing" and "viewing" not in ACTIVE


def test_every_command_takes_the_one_command_path_with_its_source():
    ctl, _ = controller()
    control = ctl.start(CONFIG)
    ctl.fold([started(), step(1)])
    ctl.toggle_pause()  # a key press: source "key"
    ctl.toggle_pause("serve")  # the served dashboard's key
    assert control.take_applied() == [("pause", "key"), ("resume", "serve")]
    ctl.set_lr(0.5)
    assert control.take_lr() == (0.5, "key")  # the run book applies and records it at the next step
    with pytest.raises(ValueError, match="at most 10"):
        ctl.set_lr(11.0)
    ctl.stop("signal")
    assert control.take_applied() == [("stop", "signal")] and control.stop_requested
    ctl.quit()  # the app quits while stopping: one stop is obeyed and recorded, not two
    assert control.take_applied() == []


def test_the_log_says_who_sent_each_command():
    from core.events import ControlApplied, LearningRateChanged

    ctl, _ = controller()
    ctl.start(CONFIG)
    notes = ctl.fold([started(), ControlApplied(run_id=RUN, step=7, command="pause", source="cli"),
                      ControlApplied(run_id=RUN, step=7, command="resume", source="follower"),
                      LearningRateChanged(run_id=RUN, step=9, lr=0.01, previous=0.1, source="schedule"),
                      ControlApplied(run_id=RUN, step=1200, command="stop", source="folder")])  # a wave-2 record
    assert [n.text for n in notes[1:]] == [
        "pause at step 7 (from the command line)", "resume at step 7 (from a following dashboard)",
        "learning rate 0.1 -> 0.01 at step 9 (from the schedule)", "stop at step 1,200 (from the folder)"]
