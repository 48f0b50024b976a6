"""The scalar backend's event contract, on the real engine and the embedded MNIST sample (7x7, tiny subsets)."""

from __future__ import annotations

import json
import math
import threading

import pytest

from core.backends import RunControl, get_trainer
from core.backends.scalar import loop as scalar_backend
from core.backends.scalar import ScalarTrainer
from core.backends.scalar.checkpoint import CHECKPOINT_NAME
from core.backends.scalar.evaluation import evaluate
from core.config import TrainConfig
from core.data import load_data
from core.events import (
    EpochEnded,
    LayerGradStats,
    LogLine,
    RunFailed,
    RunFinished,
    RunStarted,
    ScalarWatch,
    StepEnded,
    to_json,
)
from core.nn import MLP, cross_entropy, mse_loss

BASE = TrainConfig(input_size=7, hidden=(8,), batch_size=4, epochs=2, train_subset=48, val_subset=16,
                   test_subset=16, lr=0.1)
STEPS_PER_EPOCH = 12  # 48 samples / batch 4


@pytest.fixture(scope="module")
def data():
    return load_data(BASE, allow_download=False)


def run(config, data, control=None, *, on_event=None, **kwargs):
    """fit with a recording emit; returns (events, summary)."""
    events = []

    def emit(event):
        events.append(event)
        if on_event is not None:
            on_event(event)

    summary = ScalarTrainer().fit(config, data, emit, control or RunControl(), **kwargs)
    return events, summary


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_registry_finds_the_scalar_trainer():
    trainer = get_trainer("scalar")
    assert isinstance(trainer, ScalarTrainer) and trainer.name == "scalar"


def test_event_order_and_fields(data):
    events, summary = run(BASE, data, RunControl(watched=["L0.N0.w24"]))
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert len({e.run_id for e in events}) == 1 and events[0].run_id == summary.run_id
    started = events[0]
    assert (started.backend, started.device) == ("scalar", "cpu (pure Python)")
    assert (started.train_size, started.val_size, started.test_size) == (48, 16, 16)
    assert started.total_steps == 2 * STEPS_PER_EPOCH
    assert started.parameter_count == BASE.parameter_count() and started.resumed_from_step == 0
    assert started.config == BASE.to_dict()
    steps = [e.step for e in of(events, StepEnded)]
    assert steps == sorted(set(steps)) and steps[-1] == 2 * STEPS_PER_EPOCH
    stepped = [e.step for e in events if hasattr(e, "step")]
    assert stepped == sorted(stepped)  # no event goes back in steps
    last = of(events, StepEnded)[-1]
    assert last.progress == 1.0 and last.samples_seen == 96 and last.total_steps == 2 * STEPS_PER_EPOCH
    assert all(math.isfinite(e.loss) and 0 <= e.accuracy <= 1 and e.samples_per_s > 0 for e in of(events, StepEnded))
    epochs = of(events, EpochEnded)
    assert [(e.epoch, e.step) for e in epochs] == [(1, 12), (2, 24)]
    for e in epochs:
        assert math.isfinite(e.train_loss) and math.isfinite(e.val_loss)
        assert 0 <= e.train_accuracy <= 1 and 0 <= e.val_accuracy <= 1
        assert e.epoch_seconds > 0 and e.samples_per_s > 0
    done = events[-1]
    assert done.reason == "completed" and done.steps == 24 and done.epochs_completed == 2
    assert done.test_loss is not None and 0 <= done.test_accuracy <= 1
    assert done.best_val_loss == min(e.val_loss for e in epochs)
    assert summary.reason == "completed" and summary.test_loss == done.test_loss
    for event in events:
        json.loads(to_json(event))  # every event serialises


def test_layer_grad_stats_at_each_epoch_end(data):
    events, _ = run(BASE, data)
    for epoch in of(events, EpochEnded):
        at = [e for e in of(events, LayerGradStats) if e.step == epoch.step]
        assert sorted(e.layer for e in at)[-2:] == [0, 1]
        for e in at:
            assert len(e.histogram) == 12 and len(e.histogram_edges) == 13
            assert e.max_abs >= abs(e.mean) and e.std >= 0 and e.update_ratio > 0
            assert 0.0 <= e.dead_fraction <= 1.0
            assert sum(e.histogram) > 0
    events, _ = run(BASE.replace(activation="tanh"), data)
    assert all(e.dead_fraction == 0.0 for e in of(events, LayerGradStats))


def test_stop_takes_effect_within_one_step(data, tmp_path):
    control = RunControl()

    def stop_at_5(event):
        if isinstance(event, StepEnded) and event.step == 5:
            control.stop()

    events, summary = run(BASE, data, control, on_event=stop_at_5, checkpoint_dir=tmp_path)
    assert max(e.step for e in events if hasattr(e, "step")) == 5
    done = events[-1]
    assert isinstance(done, RunFinished) and done.reason == "stopped" and done.steps == 5
    assert done.test_loss is None and summary.reason == "stopped"
    assert (tmp_path / CHECKPOINT_NAME).is_file()


def test_pause_and_resume_from_another_thread(data):
    control = RunControl()
    at_step_3, paused = threading.Event(), threading.Event()
    result, seen = {}, []

    def handshake(event):
        seen.append(event)
        if isinstance(event, StepEnded) and event.step == 3:
            at_step_3.set()
            assert paused.wait(10)  # the main thread pauses before the trainer moves on

    def train():
        result["events"], result["summary"] = run(BASE, data, control, on_event=handshake)

    worker = threading.Thread(target=train)
    worker.start()
    assert at_step_3.wait(30)
    control.pause()
    paused.set()
    worker.join(0.3)
    assert worker.is_alive() and control.paused  # held by the pause ...
    assert max(e.step for e in seen if hasattr(e, "step")) == 3  # ... before a fourth step could start
    control.resume()
    worker.join(60)
    assert not worker.is_alive()
    assert result["summary"].reason == "completed" and result["summary"].steps == 24


def test_pause_while_stop_ends_the_run(data):
    control = RunControl()

    def pause_then_stop(event):
        if isinstance(event, StepEnded) and event.step == 2:
            control.pause()
            threading.Timer(0.05, control.stop).start()

    events, summary = run(BASE, data, control, on_event=pause_then_stop)
    assert summary.reason == "stopped" and summary.steps == 2


def test_divergence_is_caught_with_a_hint(data):
    config = BASE.replace(hidden=(32, 32), init="uniform", lr=1.0, loss="mse", batch_size=1)
    events, summary = run(config, data)
    done = events[-1]
    assert isinstance(done, RunFinished) and done.reason == "diverged"
    assert "--lr" in done.message and "--init scaled" in done.message
    assert done.test_loss is None and summary.reason == "diverged"
    assert any(isinstance(e, LogLine) and e.level == "error" for e in events)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_watched_weights_move_by_exactly_minus_lr_grad(data, batch_size):
    addresses = ["L0.N0.w24", "L0.N3.w17", "L0.N5.b", "L1.N2.w0", "L1.N7.b"]
    config = BASE.replace(batch_size=batch_size, epochs=1, optimizer="sgd")
    trainer = ScalarTrainer()
    events = []
    trainer.fit(config, data, events.append, RunControl(watched=addresses))
    watches = of(events, ScalarWatch)
    total = 48 // batch_size
    assert len(watches) == total * len(addresses)
    nonzero = 0
    for address in addresses:
        series = [w for w in watches if w.address == address]
        assert [w.step for w in series] == list(range(1, total + 1))
        for before, after in zip(series, series[1:], strict=False):
            assert after.data == before.data - config.lr * before.grad
            nonzero += before.grad != 0.0
        last = series[-1]
        assert trainer.model.resolve(address).data == last.data - config.lr * last.grad
    assert nonzero > total  # the check is not vacuous


def test_graph_node_watches(data):
    addresses = ["L0.N1.z", "L0.N1.a", "L1.N4.z", "loss"]
    events, _ = run(BASE.replace(epochs=1), data, RunControl(watched=addresses))
    by_step = {}
    for w in of(events, ScalarWatch):
        by_step.setdefault(w.step, {})[w.address] = w
    assert sorted(by_step) == list(range(1, STEPS_PER_EPOCH + 1))
    for nodes in by_step.values():
        z, a, loss = nodes["L0.N1.z"], nodes["L0.N1.a"], nodes["loss"]
        assert a.data == max(z.data, 0.0)
        assert z.grad == (a.grad if a.data > 0 else 0.0)  # ReLU passes the gradient only when active
        assert loss.data > 0 and loss.grad == 1 / BASE.batch_size  # each sample's loss is scaled by 1/B
        assert nodes["L1.N4.z"].grad != 0.0


def test_bad_watch_addresses_warn_once(data):
    control = RunControl(watched=["L9.N0.w0", "nonsense", "L0.N0.w999", "L0.N0.w1"])
    events, summary = run(BASE.replace(epochs=1), data, control)
    assert summary.reason == "completed"
    warnings = [e for e in of(events, LogLine) if e.level == "warning"]
    assert len(warnings) == 3
    assert {w.address for w in of(events, ScalarWatch)} == {"L0.N0.w1"}


def test_evaluate_matches_the_engine_exactly(data):
    for activation, loss_fn in (("relu", cross_entropy), ("tanh", mse_loss), ("sigmoid", cross_entropy)):
        model = MLP(49, [8, 6, 10], activation=activation, seed=3)
        images, labels = data.val.images, data.val.labels
        losses, correct = 0.0, 0
        for row, label in zip(images, labels.tolist(), strict=True):
            out = model(row.tolist())
            losses += loss_fn(out, label).data
            values = [o.data for o in out]
            correct += values.index(max(values)) == label
        assert evaluate(model, images, labels, loss_fn) == (losses / len(labels), correct / len(labels))


def test_model_and_current_sample_are_exposed(data):
    trainer = ScalarTrainer()
    trainer.fit(BASE.replace(epochs=1), data, lambda e: None, RunControl())
    x, label = trainer.current_sample
    assert len(x) == 49 and 0 <= label <= 9 and isinstance(trainer.model, MLP)
    assert trainer.model.resolve("L0.N0.z") is trainer.model.layers[0].neurons[0].z


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_checkpoint_resume_continues_exactly(data, tmp_path, optimizer):
    config = BASE.replace(optimizer=optimizer, lr=0.01 if optimizer == "adam" else 0.1, epochs=3)
    straight, _ = run(config, data)
    first, _ = run(config.replace(epochs=2), data, checkpoint_dir=tmp_path)
    doc = json.loads((tmp_path / CHECKPOINT_NAME).read_text())
    assert doc["format"] == "mnist-dash-scalar-checkpoint" and doc["version"] == 1
    assert doc["epoch"] == 2 and doc["step"] == 24 and doc["layer_sizes"] == [49, 8, 10]
    assert len(doc["parameters"]) == config.parameter_count() and doc["optimizer"]["name"] == optimizer
    resumed, summary = run(config, data, resume_from=tmp_path / CHECKPOINT_NAME)
    assert resumed[0].resumed_from_step == 24
    assert of(resumed, StepEnded)[0].step == 25 and summary.steps == 36 and summary.epochs_completed == 3
    assert of(resumed, EpochEnded)[-1].val_loss == of(straight, EpochEnded)[-1].val_loss
    assert resumed[-1].test_loss == straight[-1].test_loss


def test_stop_mid_epoch_then_resume_matches_an_uninterrupted_run(data, tmp_path):
    config = BASE.replace(optimizer="momentum")
    straight, _ = run(config, data)
    control = RunControl()

    def stop_at_17(event):
        if isinstance(event, StepEnded) and event.step == 17:
            control.stop()

    run(config, data, control, on_event=stop_at_17, checkpoint_dir=tmp_path)
    doc = json.loads((tmp_path / CHECKPOINT_NAME).read_text())
    assert (doc["epoch"], doc["step"], doc["batches_into_epoch"]) == (1, 17, 5)
    resumed, summary = run(config, data, resume_from=tmp_path / CHECKPOINT_NAME, checkpoint_dir=tmp_path)
    assert summary.reason == "completed" and summary.steps == 24
    end_a, end_b = of(straight, EpochEnded)[-1], of(resumed, EpochEnded)[-1]
    assert (end_b.train_loss, end_b.val_loss) == (end_a.train_loss, end_a.val_loss)


def test_resume_with_another_shape_fails_clearly(data, tmp_path):
    run(BASE.replace(epochs=1), data, checkpoint_dir=tmp_path)
    events, summary = run(BASE.replace(hidden=(16,)), data, resume_from=tmp_path / CHECKPOINT_NAME)
    assert summary.reason == "failed" and isinstance(events[-1], RunFailed)
    assert "49-8-10" in events[-1].error and "49-16-10" in events[-1].error


def test_early_stopping_on_validation_loss(data, monkeypatch):
    val_losses = iter([1.0, 2.0, 3.0, 4.0])
    real = scalar_backend.evaluate

    def fake(model, images, labels, loss_fn):
        if images is data.val.images:
            return next(val_losses), 0.5
        return real(model, images, labels, loss_fn)

    monkeypatch.setattr(scalar_backend, "evaluate", fake)
    events, summary = run(BASE.replace(epochs=4, patience=1), data)
    assert summary.reason == "early_stopped" and summary.epochs_completed == 2
    assert summary.best_val_loss == 1.0 and summary.test_loss is not None


@pytest.mark.parametrize("case", ["bad config", "wrong input size", "emit raises", "missing checkpoint"])
def test_errors_become_run_failed(data, tmp_path, case):
    config, kwargs, on_event = BASE, {}, None
    if case == "bad config":
        config = BASE.replace(lr=-1.0)
    elif case == "wrong input size":
        config = BASE.replace(input_size=14)
    elif case == "missing checkpoint":
        kwargs = {"resume_from": tmp_path / "nope.json"}
    else:

        def on_event(event):
            if isinstance(event, EpochEnded):
                raise RuntimeError("display broke\nsecond line")

    events, summary = run(config, data, on_event=on_event, **kwargs)
    failed = events[-1]
    assert isinstance(failed, RunFailed) and summary.reason == "failed"
    assert "\n" not in failed.error and failed.error_type and "Traceback" in failed.traceback
