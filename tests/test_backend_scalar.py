"""The scalar backend's event contract, on the real engine and the embedded MNIST sample (7x7, tiny subsets)."""

from __future__ import annotations

import json
import math
import threading

import pytest

from core.backends import Command, RunControl, get_trainer
from core.backends.gradstats import HISTOGRAM_EDGES
from core.backends.scalar import ScalarTrainer
from core.backends.scalar import loop as scalar_backend
from core.backends.scalar.checkpoint import CHECKPOINT_NAME
from core.backends.scalar.evaluation import evaluate
from core.config import TrainConfig
from core.data import load_data
from core.events import (
    EpochEnded,
    LayerGradStats,
    LearningRateChanged,
    LogLine,
    RunFailed,
    RunFinished,
    RunStarted,
    ScalarWatch,
    StepEnded,
)
from core.nn import MLP, cross_entropy, mse_loss
from core.records.jsonl import to_json

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
            assert len(e.histogram) == 24 and e.histogram_edges == HISTOGRAM_EDGES
            assert e.max_abs >= abs(e.mean) and e.std >= 0 and e.update_ratio > 0
            assert 0.0 <= e.dead_fraction <= 1.0
            assert sum(e.histogram) == (8 * 49 if e.layer == 0 else 10 * 8)  # every finite grad
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
    assert "lower the learning rate" in done.message and "scaled initialisation" in done.message
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
    assert doc["format"] == "mnist-dash-scalar-checkpoint" and doc["version"] == 2
    assert doc["progress"]["epoch"] == 2 and doc["progress"]["step"] == 24 and doc["layer_sizes"] == [49, 8, 10]
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
    progress = doc["progress"]
    assert (progress["epoch"], progress["step"], progress["batch_in_epoch"], progress["samples_seen"]) == (1, 17, 5, 68)
    assert progress["epoch_count"] == 20
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
    real = scalar_backend.evaluate_split

    def fake(model, images, labels, loss_fn, between_rows=None):
        loss, result = real(model, images, labels, loss_fn, between_rows)
        return (next(val_losses), result) if images is data.val.images else (loss, result)

    monkeypatch.setattr(scalar_backend, "evaluate_split", fake)
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


# ---- wave 2: the run book's numbers, evaluation, probe and checkpoint checks ----------------------------------


def test_a_short_last_batch_weighs_by_its_samples(data):
    config = BASE.replace(train_subset=46, epochs=1, batch_size=4)  # 11 batches of 4 and one of 2
    events, summary = run(config, data.__class__(**{**data.__dict__, "train": _head(data.train, 46)}))
    steps = of(events, StepEnded)
    assert summary.steps == 12 and steps[-1].samples_seen == 46
    epoch = of(events, EpochEnded)[0]
    # the epoch loss is the mean over the 46 samples, not over 12 batch means
    assert epoch.train_loss == pytest.approx(sum(s.loss * _window(steps, i) for i, s in enumerate(steps)) / 46)
    assert _window(steps, len(steps) - 1) % 4 == 2  # the last window holds the batch of 2


def _head(split, n):
    return split.__class__(images=split.images[:n], labels=split.labels[:n])


def _window(steps, i):
    """Samples in the window a StepEnded averages over."""
    before = steps[i - 1].samples_seen if i else 0
    return steps[i].samples_seen - before


def test_each_epoch_shuffles_differently(data):
    config = BASE.replace(batch_size=1, epochs=2, train_subset=48)
    control = RunControl(watched=["loss"])
    events, _ = run(config, data, control)
    by_epoch = [[w.data for w in of(events, ScalarWatch) if (w.step - 1) // 48 == e] for e in (0, 1)]
    assert len(by_epoch[0]) == len(by_epoch[1]) == 48
    # The same 48 samples in a different order: the first losses of each epoch differ in sequence.
    assert by_epoch[0][:5] != by_epoch[1][:5]


def test_evaluation_events_agree_with_the_run(data):
    events, summary = run(BASE, data)
    evaluations = [e for e in events if type(e).__name__ == "Evaluation"]
    assert [(e.split, e.epoch) for e in evaluations] == [("val", 1), ("val", 2), ("test", 2)]
    test = evaluations[-1]
    total = sum(map(sum, test.confusion))
    assert total == 16
    assert summary.test_accuracy == sum(test.confusion[k][k] for k in range(10)) / total == test.accuracy
    assert test.loss == summary.test_loss
    vals = of(events, EpochEnded)
    assert [e.val_accuracy for e in vals] == [e.accuracy for e in evaluations[:2]]


def test_evaluation_where_nine_is_right(data):
    model = MLP(49, [10], seed=0)
    for nrn in model.layers[0].neurons:
        for w in nrn.w:
            w.data = 0.0
    model.layers[0].neurons[9].b.data = 5.0  # always answers 9
    images, labels = data.val.images[:4], data.val.labels[:4].copy()
    labels[:] = [9, 9, 9, 3]
    loss, accuracy = evaluate(model, images, labels, cross_entropy)
    assert accuracy == 0.75
    assert loss == pytest.approx((3 * cross_entropy([*map(_s, [0] * 9), _s(5.0)], 9).data
                                  + cross_entropy([*map(_s, [0] * 9), _s(5.0)], 3).data) / 4)


def _s(v):
    from core.engine import Scalar

    return Scalar(float(v))


def test_early_stop_reached_on_the_final_epoch_completes(data, monkeypatch):
    losses = iter([1.0, 2.0, 3.0])
    real = scalar_backend.evaluate_split

    def fake(model, images, labels, loss_fn, between_rows=None):
        loss, result = real(model, images, labels, loss_fn, between_rows)
        return (next(losses), result) if images is data.val.images else (loss, result)

    monkeypatch.setattr(scalar_backend, "evaluate_split", fake)
    _, summary = run(BASE.replace(epochs=3, patience=2), data)
    assert (summary.reason, summary.epochs_completed, summary.test_loss is not None) == ("completed", 3, True)


@pytest.mark.parametrize(("where", "value", "match"), [
    ("parameters", float("nan"), "not a finite number"),
    ("parameters", float("inf"), "not a finite number"),
    ("progress.step", -3, "negative"),
    ("progress.epoch", 99, "epoch 99 of 2"),
])
def test_checkpoints_with_impossible_values_are_refused(data, tmp_path, where, value, match):
    run(BASE.replace(epochs=1), data, checkpoint_dir=tmp_path)
    path = tmp_path / CHECKPOINT_NAME
    doc = json.loads(path.read_text())
    if where == "parameters":
        doc["parameters"]["L0.N0.w3"] = value
    else:
        doc["progress"][where.split(".")[1]] = value
    path.write_text(json.dumps(doc))
    events, summary = run(BASE, data, resume_from=path)
    assert summary.reason == "failed" and isinstance(events[-1], RunFailed)
    assert match in events[-1].error


def test_probe_answers_from_a_snapshot_between_backward_and_update(data):
    trainer = ScalarTrainer()
    assert trainer.probe() is None
    control = RunControl(watched=["L0.N2.w24", "L1.N3.b"])
    seen = {}

    def on_event(event):
        if isinstance(event, StepEnded) and event.step == 5 and "probe" not in seen:
            control.pause()
            seen["probe"] = trainer.probe()
            threading.Timer(0.3, control.resume).start()

    worker_events = []
    done = threading.Event()

    def train():
        trainer.fit(BASE.replace(epochs=1), data, lambda e: (worker_events.append(e), on_event(e)), control)
        done.set()

    t = threading.Thread(target=train)
    t.start()
    assert done.wait(60)
    t.join()
    probe = seen["probe"]
    assert probe is not None and probe.backend == "scalar" and probe.input_side == 7
    final = trainer.probe()
    assert final.step() == 12
    watches = {(w.step, w.address): (w.data, w.grad) for w in of(worker_events, ScalarWatch)}
    # the final snapshot: weights after the last update, grads of the last step
    data12, grad12 = watches[(12, "L0.N2.w24")]
    assert final.value("L0.N2.w24") == (data12 - 0.1 * grad12, grad12)
    rows, biases = final.layer_weights(1)
    assert biases[3] == final.value("L1.N3.b")[0] and len(rows) == 10 and len(rows[0]) == 8
    weights, grads = final.incoming(0, 2)
    assert (weights[24], grads[24]) == final.value("L0.N2.w24")
    probs = final.predict(data.val.images[:3].tolist())
    assert len(probs) == 3 and all(abs(sum(p) - 1) < 1e-12 for p in probs)


def test_input_gradient_is_the_graphs_own_backward(data):
    trainer = ScalarTrainer()
    trainer.fit(BASE.replace(epochs=1), data, lambda e: None, RunControl())
    probe = trainer.probe()
    image = data.val.images[0].tolist()
    probs, grads = probe.input_gradient(image, target=3)
    assert probs == probe.predict([image])[0]
    h, k = 1e-6, int(max(range(49), key=lambda i: abs(grads[i])))
    model = MLP(49, [8, 10], seed=0)
    for p, v in zip(model.parameters(), [probe.value(a)[0] for a, _ in model.named_parameters()], strict=True):
        p.data = v
    up, down = list(image), list(image)
    up[k] += h
    down[k] -= h
    numeric = (model(up)[3].data - model(down)[3].data) / (2 * h)
    assert grads[k] == pytest.approx(numeric, rel=1e-5) and grads[k] != 0
    _, loss_grads = probe.input_gradient(image, label=int(data.val.labels[0]))
    assert loss_grads != grads


def test_probe_from_a_checkpoint(data, tmp_path):
    from core.backends.scalar import probe_from_checkpoint

    trainer = ScalarTrainer()
    trainer.fit(BASE.replace(epochs=1), data, lambda e: None, RunControl(), checkpoint_dir=tmp_path)
    live, saved = trainer.probe(), probe_from_checkpoint(tmp_path / CHECKPOINT_NAME, BASE.replace(epochs=1))
    images = data.val.images[:4].tolist()
    assert saved.predict(images) == live.predict(images) and saved.step() == 12


def test_learning_rate_changed_mid_run_moves_weights_by_the_new_rate(tiny_config, tiny_data):
    """A set_lr between steps: the next update uses it exactly, and the record says from which step."""
    from core.backends import RunControl, get_trainer
    from core.events import LearningRateChanged, ScalarWatch, StepEnded

    config = tiny_config.replace(optimizer="sgd", lr=0.05, batch_size=4, epochs=1)
    control = RunControl(watched=["L0.N0.b"])
    events = []

    def emit(event):
        events.append(event)
        if isinstance(event, ScalarWatch) and event.step == 2:
            control.apply(Command("lr", 0.5), "cli")

    get_trainer("scalar").fit(config, tiny_data, emit, control, run_id="r")
    (change,) = [e for e in events if isinstance(e, LearningRateChanged)]
    assert (change.step, change.lr, change.previous, change.source) == (2, 0.5, 0.05, "cli")
    watches = {e.step: e for e in events if isinstance(e, ScalarWatch)}
    # ScalarWatch at step n holds data before and grad of step n's update; step 3 is the first at the new rate.
    assert watches[3].data == watches[2].data - 0.05 * watches[2].grad
    assert watches[4].data == watches[3].data - 0.5 * watches[3].grad
    assert any(isinstance(e, StepEnded) for e in events)


def train_recorded(config, data, tmp_path, *, resume=None, stop_at=None):
    """A recorded run through core.session (`config` None: a resume's saved one); returns (run dir, events)."""
    from core.session import run_training

    control, events, where = RunControl(watched=["L0.N0.b"]), [], []

    def emit(event):
        events.append(event)
        if stop_at is not None and isinstance(event, ScalarWatch) and event.step == stop_at:
            control.stop()

    run_training(config, emit, control, runs_dir=tmp_path, resume=resume, data=data,
                 on_run_dir=where.append)
    return (where[0] if where else resume), events


def final_parameters(run_dir):
    return json.loads((run_dir / "checkpoints" / CHECKPOINT_NAME).read_text())["parameters"]


def test_one_scheduled_run_equals_a_run_resumed_at_a_tenth_of_the_rate(tiny_config, tiny_data, tmp_path):
    """epochs=2 with a drop at 2 == 1 epoch, then --resume with lr=0.1*lr, epochs=2: bit for bit (momentum too)."""
    config = tiny_config.replace(optimizer="momentum", momentum=0.9, lr=0.1)
    scheduled, _ = train_recorded(config.replace(epochs=2, lr_drop_epochs=(2,)), tiny_data, tmp_path / "a")
    by_hand, _ = train_recorded(config.replace(epochs=1), tiny_data, tmp_path / "b")
    from core.config import TrainConfig

    resumed = TrainConfig.load(by_hand / "config.json").replace(lr=0.1 * config.lr, epochs=2)
    _, events = train_recorded(resumed, tiny_data, tmp_path / "b", resume=by_hand)  # --resume --lr 0.01 --epochs 2
    assert final_parameters(scheduled) == final_parameters(by_hand)
    (change,) = [e for e in events if isinstance(e, LearningRateChanged)]  # the new rate, from the command line
    assert (change.lr, change.previous, change.source) == (0.1 * config.lr, config.lr, "cli")
    assert TrainConfig.load(by_hand / "config.json").lr == 0.1 * config.lr


@pytest.mark.parametrize("stop_at", [5, 12, 13, 30])
def test_a_stopped_scheduled_run_resumes_exactly(tiny_config, tiny_data, tmp_path, stop_at):
    """Stopped before, at or after a drop and resumed from its record: the same weights and rate changes."""
    from core.events import LearningRateChanged

    config = tiny_config.replace(optimizer="momentum", lr=0.1, epochs=4, lr_drop_epochs=(2, 4))
    straight, events = train_recorded(config, tiny_data, tmp_path / "a")
    stopped, first = train_recorded(config, tiny_data, tmp_path / "b", stop_at=stop_at)
    _, second = train_recorded(None, tiny_data, tmp_path / "b", resume=stopped)
    assert final_parameters(stopped) == final_parameters(straight)
    changes = [(e.step, e.lr) for e in first + second if isinstance(e, LearningRateChanged)]
    assert changes == [(e.step, e.lr) for e in events if isinstance(e, LearningRateChanged)]
    assert changes == [(12, 0.1 * 0.1), (36, 0.1 * 0.1 * 0.1)]


# ---- wave 3: what the issue-20 mutation audit found unpinned --------------------------------------------------


def test_softmax_subtracts_the_largest_logit():
    from core.backends.scalar.evaluation import softmax

    probs = softmax([[1000.0, 1000.0 - math.log(3.0)], [-5.0, -5.0]])  # exp(1000) alone overflows to inf
    assert probs[0].tolist() == pytest.approx([0.75, 0.25], rel=1e-12) and probs[1].tolist() == [0.5, 0.5]


def test_a_watch_list_changed_mid_run_is_followed_from_the_next_step(data):
    control = RunControl(watched=["L0.N0.b"])

    def switch(event):
        if isinstance(event, ScalarWatch) and event.step == 3 and event.address == "L0.N0.b":
            control.set_watched(["L1.N2.b", "loss"])

    events, _ = run(BASE.replace(epochs=1), data, control, on_event=switch)
    watched = [(e.step, e.address) for e in of(events, ScalarWatch)]
    assert watched[:4] == [(1, "L0.N0.b"), (2, "L0.N0.b"), (3, "L0.N0.b"), (4, "L1.N2.b")]
    assert watched[4] == (4, "loss") and watched[-1] == (STEPS_PER_EPOCH, "loss")
    assert {a for s, a in watched if s > 3} == {"L1.N2.b", "loss"}


def _relu_pair() -> MLP:
    """2 inputs -> 2 ReLU units -> 10 outputs: unit 0 fires on (1, 0) only, unit 1 on (0, 1) only."""
    model = MLP(2, [2, 10], activation="relu", seed=0)
    (u0, u1) = model.layers[0].neurons
    u0.w[0].data, u0.w[1].data, u0.b.data = 1.0, -1.0, 0.0
    u1.w[0].data, u1.w[1].data, u1.b.data = -1.0, 1.0, 0.0
    return model


def test_dead_units_are_those_with_no_positive_activation_since_the_last_report():
    from core.backends.scalar.observe import LayerStats

    model = _relu_pair()
    stats = LayerStats(model, relu=True)
    out: list = []
    model([1.0, 0.0])  # unit 1: z = -1, a = 0.0 exactly (a ReLU zero is not alive)
    stats.observe()
    stats.emit(out.append, "r", 1, 0.1)
    model([0.0, 1.0])  # now unit 0 is the silent one; unit 1's firing before the last report no longer counts
    stats.observe()
    stats.emit(out.append, "r", 2, 0.1)
    model([0.0, 0.0])  # z = 0 for both: a = 0.0, both dead
    stats.observe()
    stats.emit(out.append, "r", 3, 0.1)
    stats.emit(out.append, "r", 4, 0.1)  # no sample since the last report: nothing to judge
    hidden = [e.dead_fraction for e in out if e.layer == 0]
    assert hidden == [0.5, 0.5, 1.0, 0.0]
    assert all(e.dead_fraction == 0.0 for e in out if e.layer == 1)  # the output layer has no ReLU


def test_the_short_last_batch_gradient_is_the_mean_over_its_own_samples(data):
    """10 copies of one digit in batches of 4, 4, 2: every step's gradient is that digit's own (a mean over the
    batch), the last one too (scaled by 1/2, not 1/4). Pinned on every parameter, from the watched values."""
    import dataclasses

    import numpy as np

    one = dataclasses.replace(data.train, images=np.repeat(data.train.images[:1], 10, axis=0),
                              labels=np.repeat(data.train.labels[:1], 10))
    config = BASE.replace(epochs=1, batch_size=4, hidden=(3,))
    names = [a for a, _ in MLP(config.n_inputs, [3, 10]).named_parameters()]
    events, summary = run(config, dataclasses.replace(data, train=one), RunControl(watched=names))
    assert summary.steps == 3
    last = {e.address: e for e in of(events, ScalarWatch) if e.step == 3}
    model = MLP(config.n_inputs, [3, 10])
    for address, p in model.named_parameters():
        p.data = last[address].data  # the weights the last step's gradient was taken at
    cross_entropy(model(one.images[0].tolist()), int(one.labels[0])).backward()
    for address, p in model.named_parameters():
        assert last[address].grad == pytest.approx(p.grad, rel=1e-12, abs=1e-15), address
    assert any(abs(p.grad) > 1e-3 for _, p in model.named_parameters())


def test_a_checkpoint_with_an_extra_parameter_is_refused(data, tmp_path):
    run(BASE.replace(epochs=1), data, checkpoint_dir=tmp_path)
    path = tmp_path / CHECKPOINT_NAME
    doc = json.loads(path.read_text())
    doc["parameters"]["L0.N0.w99"] = 0.5  # every expected entry is there, and one more
    path.write_text(json.dumps(doc))
    events, summary = run(BASE, data, resume_from=path)
    assert summary.reason == "failed" and "do not match the network" in events[-1].error


def test_a_new_run_saves_its_model_after_its_first_step_for_a_follower(data, tmp_path):
    """A dashboard following the run from another process reads the model from the checkpoint: the first one is
    there once the first step is done, not only at the first epoch's end."""
    seen = []

    def at_first_report(event):
        if isinstance(event, StepEnded) and not seen:
            seen.append(json.loads((tmp_path / CHECKPOINT_NAME).read_text())["progress"])

    config = BASE.replace(epochs=1, batch_size=4, train_subset=64)
    events, summary = run(config, data, on_event=at_first_report, checkpoint_dir=tmp_path)
    first_step = of(events, StepEnded)[0].step
    assert seen and seen[0]["epoch"] == 0 and seen[0]["step"] == 1 <= first_step and seen[0]["batch_in_epoch"] == 1
    assert summary.reason == "completed"
    assert json.loads((tmp_path / CHECKPOINT_NAME).read_text())["progress"]["epoch"] == 1  # the epoch end's after


class SteppingAside(RunControl):
    """A front end that always wants the interpreter: counts where the trainer offers it."""

    step_aside_wanted = True

    def __init__(self) -> None:
        super().__init__()
        self.offers = 0

    def step_aside(self) -> float:
        self.offers += 1
        return 0.0


def test_the_trainer_steps_aside_between_samples_rows_and_before_saves(data, tmp_path):
    # 2 epochs of 48 samples, 16 validation rows after each, 16 test rows at the end; with a checkpoint folder
    # the run saves after its first step and after each epoch: 96 + 32 + 16 + 3 offers.
    control = SteppingAside()
    _, summary = run(BASE, data, control, checkpoint_dir=tmp_path)
    assert summary.reason == "completed"
    assert control.offers == 2 * 48 + 2 * 16 + 16 + 3
    control = SteppingAside()
    run(BASE, data, control)  # no checkpoint folder: nothing saved
    assert control.offers == 2 * 48 + 2 * 16 + 16
