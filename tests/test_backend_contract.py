"""Both backends answer the same questions the same way: the same tiny configs through get_trainer(name)."""

from __future__ import annotations

import json
import math

import pytest

from core.backends import Command, RunControl, get_trainer
from core.backends.gradstats import HISTOGRAM_EDGES
from core.backends.runbook import Position, RunBook
from core.events import (
    EpochEnded,
    Evaluation,
    LayerGradStats,
    LearningRateChanged,
    RunFinished,
    RunStarted,
    ScalarWatch,
    StepEnded,
)

BACKENDS = ["scalar", "lightning"]
PROGRESS_NAMES = list(Position().to_dict())


@pytest.fixture(params=BACKENDS)
def backend(request):
    name = request.param
    if name == "lightning":
        pytest.importorskip("lightning", reason="lightning is not installed")
    return name


def run(name, config, data, control=None, *, on_event=None, **kwargs):
    events = []

    def emit(event):
        events.append(event)
        if on_event is not None:
            on_event(event)

    trainer = get_trainer(name)
    summary = trainer.fit(config.replace(backend=name), data, emit, control or RunControl(), **kwargs)
    return events, summary, trainer


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def read_progress(name, directory):
    if name == "scalar":
        return json.loads((directory / "scalar.json").read_text())["progress"]
    import torch

    return torch.load(directory / "lightning.pt", weights_only=True)["progress"]


def test_event_order(backend, tiny_config, tiny_data):
    events, summary, _ = run(backend, tiny_config, tiny_data)
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert summary.reason == "completed" and summary.steps == 24 and summary.epochs_completed == 2
    kinds = [type(e).__name__ for e in events if isinstance(e, (EpochEnded, Evaluation, RunFinished))]
    assert kinds == ["EpochEnded", "Evaluation", "EpochEnded", "Evaluation", "Evaluation", "RunFinished"]
    assert [(e.split, e.epoch) for e in of(events, Evaluation)] == [("val", 1), ("val", 2), ("test", 2)]
    steps = [e.step for e in of(events, StepEnded)]
    assert steps == sorted(steps) and steps[-1] == 24 and of(events, StepEnded)[-1].samples_seen == 96
    test = of(events, Evaluation)[-1]
    assert summary.test_accuracy == sum(test.confusion[k][k] for k in range(10)) / 16


def test_the_run_obeys_the_run_books_patience_rule(backend, tiny_config, tiny_data):
    config = tiny_config.replace(epochs=3, patience=1, lr=0.5)
    events, summary, _ = run(backend, config, tiny_data)
    book = RunBook(config, "r", total_steps=36)
    reason = None
    for e in of(events, EpochEnded):
        reason = book.end_epoch(e.epoch, e.val_loss)
    assert (summary.reason, summary.epochs_completed) == (reason, book.position.epoch)
    assert summary.best_val_loss == book.position.best_val_loss


def test_divergence(backend, tiny_config, tiny_data):
    config = tiny_config.replace(hidden=(32, 32), init="uniform", lr=10.0, loss="mse", batch_size=1, epochs=1)
    events, summary, _ = run(backend, config, tiny_data)
    assert summary.reason == "diverged" and events[-1].reason == "diverged"
    assert "lower the learning rate" in summary.message and summary.test_loss is None


def test_grad_stats_bins_are_shared(backend, tiny_config, tiny_data):
    events, _, _ = run(backend, tiny_config, tiny_data)
    stats = of(events, LayerGradStats)
    assert stats and all(s.histogram_edges == HISTOGRAM_EDGES and len(s.histogram) == 24 for s in stats)
    fan = {0: 49 * 8, 1: 8 * 10}
    assert all(sum(s.histogram) == fan[s.layer] for s in stats)


def test_watched_weights_move_by_minus_lr_grad(backend, tiny_config, tiny_data):
    addresses = ["L0.N0.w24", "L0.N5.b", "L1.N2.w0"]
    events, _, _ = run(backend, tiny_config.replace(epochs=1, optimizer="sgd"), tiny_data,
                       RunControl(watched=addresses))
    moved = 0
    for address in addresses:
        series = [w for w in of(events, ScalarWatch) if w.address == address]
        assert [w.step for w in series] == list(range(1, 13))
        for before, after in zip(series, series[1:], strict=False):
            expected = before.data - 0.1 * before.grad
            if backend == "scalar":
                assert after.data == expected
            else:  # float32 arithmetic on the device
                assert after.data == pytest.approx(expected, rel=1e-6, abs=1e-7)
            moved += before.grad != 0
    assert moved > 12


def test_stop_then_resume_position(backend, tiny_config, tiny_data, tmp_path):
    control = RunControl(watched=["L0.N0.b"])  # a watch is reported at every step on both backends

    def stop_at_5(event):
        if isinstance(event, ScalarWatch) and event.step == 5:
            control.stop()

    _, summary, _ = run(backend, tiny_config.replace(), tiny_data, control, on_event=stop_at_5,
                        checkpoint_dir=tmp_path)
    assert summary.reason == "stopped"
    if backend == "scalar":  # Lightning reports watches in batches: its stop lands later here, by design
        assert summary.steps == 5  # within one step of the request
    progress = read_progress(backend, tmp_path)
    assert list(progress) == PROGRESS_NAMES
    assert progress["step"] == summary.steps and progress["samples_seen"] == 4 * summary.steps
    assert (progress["epoch"], progress["batch_in_epoch"]) == divmod(summary.steps, 12)  # 12 steps an epoch
    checkpoint = tmp_path / ("scalar.json" if backend == "scalar" else "lightning.pt")
    events, resumed, _ = run(backend, tiny_config, tiny_data, resume_from=checkpoint)
    assert events[0].resumed_from_step == summary.steps
    assert (resumed.reason, resumed.steps, resumed.epochs_completed) == ("completed", 24, 2)


def test_checkpoint_progress_names_after_an_epoch(backend, tiny_config, tiny_data, tmp_path):
    _, summary, _ = run(backend, tiny_config.replace(epochs=1), tiny_data, checkpoint_dir=tmp_path)
    progress = read_progress(backend, tmp_path)
    assert list(progress) == PROGRESS_NAMES
    assert (progress["epoch"], progress["step"], progress["batch_in_epoch"], progress["samples_seen"]) == (1, 12, 0, 48)
    assert math.isfinite(progress["best_val_loss"]) and progress["bad_epochs"] == 0


def test_probe_after_the_run(backend, tiny_config, tiny_data):
    _, _, trainer = run(backend, tiny_config.replace(epochs=1), tiny_data)
    probe = trainer.probe()
    assert probe is not None and probe.layer_sizes == (49, 8, 10) and probe.input_side == 7
    assert probe.step() == 12 and probe.graph_nodes == (backend == "scalar")
    probs = probe.predict(tiny_data.val.images[:2].tolist())
    assert len(probs) == 2 and all(abs(sum(p) - 1) < 1e-5 for p in probs)
    weights, grads = probe.incoming(0, 3)
    assert len(weights) == len(grads) == 49 and weights[7] == pytest.approx(probe.value("L0.N3.w7")[0])


def moves_by(backend, before, after, lr):
    """Whether a watched scalar went from `before` to `after` by exactly -lr*grad (plain SGD)."""
    expected = before.data - lr * before.grad
    if backend == "scalar":
        return after.data == expected
    return after.data == pytest.approx(expected, rel=1e-6, abs=1e-7)  # float32 arithmetic on the device


def checkpoint_file(backend, directory):
    return directory / ("scalar.json" if backend == "scalar" else "lightning.pt")


@pytest.mark.parametrize("ending", ["stopped", "completed"])
def test_a_resume_trains_at_the_configured_rate(backend, tiny_config, tiny_data, tmp_path, ending):
    """`--resume RUN --lr X` (a rate asked from the command line): the first update after the resume moves a
    weight by exactly -X*grad on both, and the change is recorded at the resume's step."""
    config = tiny_config.replace(optimizer="sgd", epochs=1 if ending == "completed" else 2)
    control = RunControl(watched=["L0.N0.b"])

    def stop_at_5(event):
        if ending == "stopped" and isinstance(event, ScalarWatch) and event.step == 5:
            control.stop()

    _, first, _ = run(backend, config, tiny_data, control, on_event=stop_at_5, checkpoint_dir=tmp_path)
    assert first.reason == ending
    address = "L1.N2.b"
    control = RunControl(watched=[address])
    control.apply(Command("lr", 0.03), "cli")  # what core.session does for a new --lr on resume
    events, resumed, _ = run(backend, config.replace(epochs=2), tiny_data, control,
                             resume_from=checkpoint_file(backend, tmp_path))
    assert resumed.reason == "completed"
    assert [(e.step, e.lr, e.source) for e in of(events, LearningRateChanged)] == [(first.steps, 0.03, "cli")]
    series = of(events, ScalarWatch)
    assert series[0].step == first.steps + 1 and series[0].grad != 0
    assert all(moves_by(backend, a, b, 0.03) for a, b in zip(series, series[1:], strict=False))
    assert not moves_by(backend, series[0], series[1], 0.1)


def test_the_step_schedule_drops_the_rate_at_the_same_step(backend, tiny_config, tiny_data):
    """lr_drop_epochs=(2,): one LearningRateChanged before epoch 2's first update; updates move by -0.1*lr*grad."""
    config = tiny_config.replace(optimizer="sgd", lr=0.1, epochs=3, lr_drop_epochs=(2,))
    address = "L1.N2.b"
    events, summary, _ = run(backend, config, tiny_data, RunControl(watched=[address]))
    assert summary.reason == "completed"
    changes = [(e.step, e.lr, e.previous, e.source) for e in of(events, LearningRateChanged)]
    assert changes == [(12, 0.1 * 0.1, 0.1, "schedule")]  # 12 steps an epoch: before step 13's update
    series = of(events, ScalarWatch)
    assert [w.step for w in series] == list(range(1, 37))
    for before, after in zip(series, series[1:], strict=False):
        assert moves_by(backend, before, after, 0.1 if before.step <= 12 else 0.1 * 0.1), before.step
    assert sum(w.grad != 0 for w in series[12:]) > 12


def test_a_resume_applies_only_the_drops_of_epochs_not_started(backend, tiny_config, tiny_data, tmp_path):
    """Stopped mid-epoch 2 after its drop: the checkpoint's rate goes on, no second drop, epoch 3's comes."""
    config = tiny_config.replace(optimizer="sgd", lr=0.1, epochs=3, lr_drop_epochs=(2, 3))
    control = RunControl()

    def stop_at_the_drop(event):
        if isinstance(event, LearningRateChanged):
            control.stop()

    events, first, _ = run(backend, config, tiny_data, control, on_event=stop_at_the_drop, checkpoint_dir=tmp_path)
    assert first.reason == "stopped" and first.steps == 13  # epoch 2's first update is taken with the drop
    assert read_progress(backend, tmp_path)["batch_in_epoch"] == 1
    (drop,) = of(events, LearningRateChanged)
    assert read_progress(backend, tmp_path)["lr"] == drop.lr
    events, _, _ = run(backend, config, tiny_data, RunControl(watched=["L0.N0.b"]),
                       resume_from=checkpoint_file(backend, tmp_path))
    changes = [(e.step, e.lr, e.previous) for e in of(events, LearningRateChanged)]
    assert changes == [(24, 0.1 * 0.1 * 0.1, 0.1 * 0.1)]  # epoch 3's drop only


def test_test_confusion_matrix_recomputed_from_the_checkpoint(backend, tiny_config, tiny_data, tmp_path):
    """The recorded test matrix equals one recomputed independently (numpy) from the final checkpoint's weights."""
    import numpy as np

    events, summary, _ = run(backend, tiny_config.replace(epochs=1), tiny_data, checkpoint_dir=tmp_path)
    (test,) = [e for e in of(events, Evaluation) if e.split == "test"]
    if backend == "scalar":
        doc = json.loads((tmp_path / "scalar.json").read_text())
        params = doc["parameters"]
        sizes = tiny_config.layer_sizes
        layers = [(np.array([[params[f"L{k}.N{j}.w{i}"] for i in range(sizes[k])] for j in range(sizes[k + 1])]),
                   np.array([params[f"L{k}.N{j}.b"] for j in range(sizes[k + 1])])) for k in range(len(sizes) - 1)]
    else:
        import torch

        state = torch.load(tmp_path / "lightning.pt", weights_only=True)["model"]
        weights = [v.double().numpy() for k, v in state.items() if k.endswith("weight")]
        biases = [v.double().numpy() for k, v in state.items() if k.endswith("bias")]
        layers = list(zip(weights, biases, strict=True))
    x = tiny_data.test.images.astype(np.float64)
    for k, (w, b) in enumerate(layers):
        x = x @ w.T + b
        if k < len(layers) - 1:
            x = np.maximum(x, 0.0)  # tiny_config's activation: relu
    predicted, labels = x.argmax(1), tiny_data.test.labels
    expected = np.zeros((10, 10), dtype=int)
    np.add.at(expected, (labels, predicted), 1)
    assert tiny_config.activation == "relu"
    assert [list(row) for row in test.confusion] == expected.tolist()
    assert summary.test_accuracy == np.trace(expected) / expected.sum()


class Killed(BaseException):
    """The process dies here, as under SIGKILL: no stop, no checkpoint, no final event."""


def final_weights(backend, directory):
    if backend == "scalar":
        return json.loads((directory / "scalar.json").read_text())["parameters"]
    import torch

    return {k: v.tolist() for k, v in torch.load(directory / "lightning.pt", weights_only=True)["model"].items()}


# Every step of epoch 2 (right after the drop at its first update, to its last step), then epochs 3 and 4.
KILLS = (*range(13, 25), 30, 40)


@pytest.fixture(scope="module")
def straight_run(tiny_config, tiny_data, tmp_path_factory):
    """The run never killed, trained once per backend for all the kills: its rate changes and its final weights."""
    done: dict[str, tuple[list, object]] = {}

    def get(backend):
        if backend not in done:
            directory = tmp_path_factory.mktemp(f"straight-{backend}")
            config = tiny_config.replace(optimizer="momentum", lr=0.1, epochs=4, lr_drop_epochs=(2, 4))
            events, _, _ = run(backend, config, tiny_data, checkpoint_dir=directory)
            done[backend] = ([(e.step, e.lr, e.previous) for e in of(events, LearningRateChanged)],
                             final_weights(backend, directory))
        return done[backend]

    return get


@pytest.mark.parametrize("kill_at", KILLS)
def test_a_resume_after_a_kill_trains_every_later_epoch_at_the_scheduled_rate(backend, tiny_config, tiny_data,
                                                                              tmp_path, kill_at, monkeypatch,
                                                                              straight_run):
    """--lr 0.1 --lr-drop-epochs 2,4, killed anywhere after the first drop, then resumed from its last checkpoint:
    the same rate changes at the same steps and the same weights as a run never killed (no drop twice, none missed)."""
    straight, straight_weights = straight_run(backend)
    assert straight == [(12, 0.1 * 0.1, 0.1), (36, 0.1 * 0.1 * 0.1, 0.1 * 0.1)]
    if backend == "lightning":  # report (and so flush the watches the kill waits for) after every step
        monkeypatch.setattr("core.backends.lightning.callback.MIN_REPORT_SECONDS", 0.0)
    config = tiny_config.replace(optimizer="momentum", lr=0.1, epochs=4, lr_drop_epochs=(2, 4))

    killed_at = []

    def kill(event):
        if isinstance(event, ScalarWatch) and event.step >= kill_at:
            killed_at.append(event.step)
            raise Killed

    try:
        _, died, _ = run(backend, config, tiny_data, RunControl(watched=["L0.N0.b"]), on_event=kill,
                         checkpoint_dir=tmp_path / "killed")
    except Killed:
        died = None
    assert died is None or died.reason == "failed"  # Lightning's fit reports even this as a failure
    assert killed_at == [kill_at]  # at that very step
    saved = read_progress(backend, tmp_path / "killed")
    assert saved["batch_in_epoch"] == 0 and saved["epoch"] == (kill_at - 1) // 12  # the last epoch end
    events, resumed, _ = run(backend, config, tiny_data, resume_from=checkpoint_file(backend, tmp_path / "killed"),
                             checkpoint_dir=tmp_path / "killed")
    assert resumed.reason == "completed" and resumed.steps == 48
    assert [(e.step, e.lr, e.previous) for e in of(events, LearningRateChanged)] == [
        change for change in straight if change[0] >= saved["step"]]
    assert final_weights(backend, tmp_path / "killed") == straight_weights


@pytest.mark.slow
def test_sigkill_after_a_drop_then_resume_as_processes(backend, mnist_dir, tmp_path):
    """The issue-19 recipe as a user runs it: `--lr 0.1 --lr-drop-epochs 2,3`, held (`--pause`) early in epoch 2
    after its drop and killed there with SIGKILL, then `--resume RUN`: every later epoch trains at the rate the
    schedule gives (wave 2 dropped twice)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from core.events import ControlApplied
    from core.records.jsonl import read_jsonl
    from core.records.steer import send

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root), XDG_CACHE_HOME=str(tmp_path / "cache"))
    flags = ["--headless", "--backend", backend, "--input-size", "7", "--hidden", "8", "--batch-size", "4",
             "--epochs", "3", "--train-subset", "4000", "--val-subset", "16", "--test-subset", "16", "--lr", "0.1",
             "--lr-drop-epochs", "2,3", "--optimizer", "momentum", "--device", "cpu", "--data-dir", str(mnist_dir),
             "--runs-dir", str(tmp_path / "runs")]  # 1,000 steps an epoch: the pause lands early in epoch 2
    first = subprocess.Popen([sys.executable, "-m", "core", *flags], env=env, cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    name = "scalar.json" if backend == "scalar" else "lightning.pt"
    try:
        deadline = time.monotonic() + 240

        def wait(what, done):
            while not done():
                assert first.poll() is None and time.monotonic() < deadline, f"the run ended before {what}"
                time.sleep(0.01)

        def saved_epoch() -> int:  # the handmade engine saves after its first step too: wait for epoch 1's
            found = list((tmp_path / "runs").glob(f"*/checkpoints/{name}"))
            return read_progress(backend, found[0].parent)["epoch"] if found else 0

        wait("its first epoch's checkpoint", lambda: saved_epoch() >= 1)
        (run_dir,) = (tmp_path / "runs").iterdir()
        send(run_dir, "pause")  # held early in epoch 2, after its drop; then killed there
        wait("the pause", lambda: b'"ControlApplied"' in (run_dir / "events.jsonl").read_bytes())
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait()
    assert not (run_dir / "summary.json").exists()  # killed: no summary
    before = read_jsonl(run_dir / "events.jsonl")
    (paused,) = of(before, ControlApplied)
    assert 1000 < paused.step < 2000
    assert [(e.step, e.lr) for e in of(before, LearningRateChanged)] == [(1000, 0.1 * 0.1)]
    # The resume goes through the same command line in this process (a second interpreter importing Lightning
    # cost seconds and tested nothing more: the kill is what needs a process of its own).
    from core.cli import main

    assert main(["--headless", "--resume", str(run_dir), "--data-dir", str(mnist_dir), "--no-notify"]) == 0
    events = read_jsonl(run_dir / "events.jsonl")
    start = max(i for i, e in enumerate(events) if isinstance(e, RunStarted))
    assert events[start].resumed_from_step == 1000  # from epoch 1's checkpoint
    # The resumed run drops at epoch 2's first update again (it retrains epoch 2) and at epoch 3's: once each,
    # from the rates of a run never killed (wave 2 went on from config.json's 0.01 and dropped it again).
    assert [(e.step, e.lr, e.previous) for e in of(events[start:], LearningRateChanged)] == [
        (1000, 0.1 * 0.1, 0.1), (2000, 0.1 * 0.1 * 0.1, 0.1 * 0.1)]
    assert json.loads((run_dir / "summary.json").read_text())["reason"] == "completed"
    assert read_progress(backend, run_dir / "checkpoints")["lr"] == 0.1 * 0.1 * 0.1


def test_commands_are_recorded_at_the_step_the_run_obeyed_them(backend, tiny_config, tiny_data):
    """A pause from another thread, mid-epoch: recorded once, at the step where the run's StepEnded events stop
    (wave 2 recorded Lightning's 30-50 steps early, at the last report); the resume at that same step; the stop
    where the run stopped. On both backends, through the one command path."""
    import threading
    import time

    from core.events import ControlApplied

    config = tiny_config.replace(backend=backend, epochs=40, train_subset=400, batch_size=4)  # outlasts the test
    control, events, result = RunControl(watched=["L0.N0.b"]), [], []

    def emit(event):
        events.append(event)
        # The handmade engine reports every few dozen steps: pause it from inside, between two reports. Lightning
        # runs ahead of anyone reading its reports: a pause from the test's thread lands between two of them.
        if backend == "scalar" and isinstance(event, ScalarWatch) and event.step == 7:
            control.apply(Command("pause"), "cli")

    trainer = get_trainer(backend)
    worker = threading.Thread(target=lambda: result.append(trainer.fit(config, tiny_data, emit, control)))
    worker.start()

    def wait_for(done):
        deadline = time.monotonic() + 120
        while not done():
            assert worker.is_alive() and time.monotonic() < deadline
            time.sleep(0.005)

    try:
        if backend == "lightning":
            wait_for(lambda: len(of(list(events), StepEnded)) >= 2)
            control.apply(Command("pause"), "cli")
        wait_for(lambda: of(list(events), ControlApplied))
        control.apply(Command("resume"), "follower")
        wait_for(lambda: len(of(list(events), ControlApplied)) == 2)
        control.apply(Command("stop"), "signal")
    finally:
        control.stop()
        worker.join(120)
    summary = result[0]
    assert summary.reason == "stopped"
    marks = [i for i, e in enumerate(events) if isinstance(e, ControlApplied)]
    assert [(events[i].command, events[i].source) for i in marks] == [
        ("pause", "cli"), ("resume", "follower"), ("stop", "signal")]
    pause, resume, stop = (events[i] for i in marks)
    assert pause.step > 0 and [e.step for e in of(events[:marks[0]], StepEnded)][-1] == pause.step
    assert not of(events[marks[0]:marks[1]], StepEnded) and resume.step == pause.step
    assert [e.step for e in of(events[:marks[2] + 1], StepEnded)][-1] == stop.step == summary.steps


def test_a_stop_with_a_reason_ends_the_run_with_it(backend, tiny_config, tiny_data, tmp_path):
    """A sweep's pruner stops a trial with reason "pruned": the summary and RunFinished say so, the stop is recorded
    from the sweep, and the run keeps a checkpoint as any stopped run does."""
    from core.events import ControlApplied

    control = RunControl()

    def prune(event):
        if isinstance(event, StepEnded):
            control.stop(reason="pruned", source="sweep")

    events, summary, _ = run(backend, tiny_config.replace(epochs=3), tiny_data, control, on_event=prune,
                             checkpoint_dir=tmp_path)
    assert summary.reason == "pruned" and events[-1].reason == "pruned"
    assert summary.message.startswith(f"pruned at step {summary.steps} (epoch ")
    assert [(e.command, e.source, e.step) for e in of(events, ControlApplied)] == [("stop", "sweep", summary.steps)]
    assert read_progress(backend, tmp_path)["step"] == summary.steps


def test_a_new_rate_on_resume_at_a_drop_is_the_rate_of_that_epoch(backend, tiny_config, tiny_data, tmp_path):
    """Resumed at epoch 2's start, where the schedule drops, with `--lr 0.05`: the asked rate is epoch 2's (one
    LearningRateChanged from the command line at the resume's step, on both backends), and epoch 3's drop
    multiplies it."""
    config = tiny_config.replace(optimizer="sgd", lr=0.1, epochs=3, lr_drop_epochs=(2, 3))
    _, first, _ = run(backend, config.replace(epochs=1, lr_drop_epochs=()), tiny_data, checkpoint_dir=tmp_path)
    assert first.steps == 12
    control = RunControl(watched=["L1.N2.b"])
    control.apply(Command("lr", 0.05), "cli")
    events, resumed, _ = run(backend, config, tiny_data, control, resume_from=checkpoint_file(backend, tmp_path),
                             checkpoint_dir=tmp_path)
    assert resumed.reason == "completed"
    assert [(e.step, e.lr, e.previous, e.source) for e in of(events, LearningRateChanged)] == [
        (12, 0.05, 0.1, "cli"), (24, 0.05 * 0.1, 0.05, "schedule")]
    series = of(events, ScalarWatch)
    assert all(moves_by(backend, a, b, 0.05 if a.step <= 24 else 0.05 * 0.1)
               for a, b in zip(series, series[1:], strict=False))
