"""The Lightning backend on CPU: events, control, exact watches, run book, probe, checkpoints, threads, DDP (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")

from core.address import AddressError  # noqa: E402
from core.backends import RunControl  # noqa: E402
from core.backends.gradstats import HISTOGRAM_EDGES  # noqa: E402
from core.backends.lightning import (  # noqa: E402
    CHECKPOINT_NAME,
    GPU_MISSING,
    LightningTrainer,
    choose_threads,
    ensure_single_device,
    probe_from_checkpoint,
)
from core.backends.lightning import fit as fit_module  # noqa: E402
from core.backends.lightning import module as module_module  # noqa: E402
from core.config import TrainConfig  # noqa: E402
from core.data import find_and_load, prepare  # noqa: E402
from core.events import (  # noqa: E402
    EpochEnded,
    Evaluation,
    LayerGradStats,
    LogLine,
    RunFailed,
    RunFinished,
    RunStarted,
    ScalarWatch,
    StepEnded,
)
from core.records.jsonl import from_json, to_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
CUDA = torch.cuda.is_available()
# 7x7 digits, 8 hidden units, 8 steps an epoch: each run takes a fraction of a second after Trainer setup.
TINY = dict(
    backend="lightning", hidden=(8,), input_size=7, batch_size=32, epochs=2, train_subset=256, val_subset=64,
    test_subset=128, device="cpu", lr=0.1,
)


@pytest.fixture(scope="module")
def data():
    if not DATA_DIR.is_dir():
        pytest.skip(f"real MNIST not found at {DATA_DIR}")
    raw = find_and_load(DATA_DIR, allow_download=False)
    return prepare(raw, input_size=7, seed=0, train_subset=256, val_subset=64, test_subset=128)


def run(config: TrainConfig, data, control: RunControl | None = None, **kw):
    events: list = []
    trainer = LightningTrainer()
    summary = trainer.fit(config, data, events.append, control or RunControl(), **kw)
    return trainer, summary, events


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_import_does_not_import_torch():
    code = "import sys, core.backends.lightning; print(sorted(m for m in ('torch', 'lightning') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_event_contract(data, capfd):
    config = TrainConfig(**TINY)
    watched = ["L0.N3.w20", "L1.N2.b", "L0.N1.z", "L5.N0.b"]
    trainer, summary, events = run(config, data, RunControl(watched=watched))
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    start, finish = events[0], events[-1]
    assert start.device == "cpu" and start.backend == "lightning"
    assert (start.train_size, start.val_size, start.test_size) == (256, 64, 128)
    assert start.total_steps == 16 and start.parameter_count == config.parameter_count()
    epochs = of(events, EpochEnded)
    assert [e.epoch for e in epochs] == [1, 2] and [e.step for e in epochs] == [8, 16]
    assert all(0 <= e.val_accuracy <= 1 and e.epoch_seconds > 0 for e in epochs)
    steps = of(events, StepEnded)
    assert steps and [s.step for s in steps] == sorted({s.step for s in steps}) and steps[-1].step == 16
    assert steps[-1].samples_seen == 512 and steps[-1].progress == 1.0
    stats = of(events, LayerGradStats)
    assert {s.layer for s in stats} == {0, 1}
    for s in stats:
        assert len(s.histogram_edges) == len(s.histogram) + 1
        assert sum(s.histogram) == (49 * 8 if s.layer == 0 else 8 * 10)
        assert s.histogram_edges == HISTOGRAM_EDGES  # the run book's one definition
        assert 0 <= s.dead_fraction <= 1 and s.update_ratio > 0 and s.max_abs >= abs(s.mean)
    watches = of(events, ScalarWatch)
    assert sorted({w.address for w in watches}) == ["L0.N3.w20", "L1.N2.b"]
    assert [w.step for w in watches if w.address == "L1.N2.b"] == list(range(1, 17))  # every step
    warnings = [e.message for e in of(events, LogLine) if e.level == "warning" and "watch" in e.message]
    assert len(warnings) == 2 and any("handmade engine" in w for w in warnings)
    assert finish.reason == "completed" and finish.steps == 16 and finish.epochs_completed == 2
    assert summary.test_accuracy == finish.test_accuracy
    assert summary.reason == "completed" and summary.best_val_loss == min(e.val_loss for e in epochs)
    for event in events:  # every event survives its JSONL line
        assert from_json(to_json(event)) == event
    err = capfd.readouterr().err
    assert "GPU available" not in err and "LOCAL_RANK" not in err  # Lightning's chatter became LogLines
    lines = of(events, LogLine)
    assert [e.level for e in lines if "GPU available" in e.message] == ["debug"]  # library chatter: debug
    assert [e.message for e in lines if e.level == "info"] == ["training on cpu, 1 CPU thread"]  # the header
    assert start.threads == choose_threads(config) == 1  # 8-unit model: one thread whatever the machine
    test = [e for e in of(events, Evaluation) if e.split == "test"]
    assert [e.epoch for e in of(events, Evaluation) if e.split == "val"] == [1, 2] and len(test) == 1
    confusion = test[0].confusion
    assert sum(map(sum, confusion)) == 128
    assert finish.test_accuracy == sum(confusion[k][k] for k in range(10)) / 128 == test[0].accuracy
    assert finish.test_loss == test[0].loss
    assert [e.val_accuracy for e in epochs] == [e.accuracy for e in of(events, Evaluation) if e.split == "val"]
    order = [type(e).__name__ for e in events if isinstance(e, (EpochEnded, Evaluation, RunFinished))]
    assert order == ["EpochEnded", "Evaluation", "EpochEnded", "Evaluation", "Evaluation", "RunFinished"]


def test_watched_values_are_the_tensors_and_sgd_moves_by_exactly_lr_grad(data):
    config = TrainConfig(**{**TINY, "epochs": 1})
    addresses = ["L0.N3.w20", "L0.N7.w48", "L1.N2.b", "L1.N9.w0"]
    trainer, summary, events = run(config, data, RunControl(watched=addresses))
    net = trainer.module.net
    params = {"L0.N3.w20": (net[0].weight, (3, 20)), "L0.N7.w48": (net[0].weight, (7, 48)),
              "L1.N2.b": (net[2].bias, (2,)), "L1.N9.w0": (net[2].weight, (9, 0))}
    for address, (param, index) in params.items():
        series = sorted((w.step, w.data, w.grad) for w in of(events, ScalarWatch) if w.address == address)
        assert [s for s, _, _ in series] == list(range(1, 9))
        for (_, d0, g0), (_, d1, _) in zip(series, series[1:], strict=False):
            assert d1 == minus_lr_grad(d0, g0, config.lr)
        _, last_data, last_grad = series[-1]
        assert last_grad == param.grad[index].item()  # the gradient of the last step, still on the tensor
        assert param.detach()[index].item() == minus_lr_grad(last_data, last_grad, config.lr)


def minus_lr_grad(data: float, grad: float, lr: float) -> float:
    """data - lr*grad in torch's float32 arithmetic (one rounding, as SGD's fused add_ does it)."""
    return torch.tensor([data]).add_(torch.tensor([grad]), alpha=-lr).item()


def stop_during_step(monkeypatch, control: RunControl, step: int) -> None:
    """Ask for a stop while the loss of global step `step` (1-based) is computed, as a UI thread might."""
    loss_function = module_module.loss_function
    count = iter(range(1, 10**6))

    def patched(name):
        loss = loss_function(name)

        def counting(out, labels):
            if torch.is_grad_enabled() and next(count) == step:  # training steps only, not evaluation
                control.stop()
            return loss(out, labels)

        return counting

    monkeypatch.setattr(module_module, "loss_function", patched)


def test_stop_takes_effect_within_one_batch_and_checkpoints(data, tmp_path, monkeypatch):
    control = RunControl()
    stop_during_step(monkeypatch, control, 3)
    _, summary, events = run(TrainConfig(**{**TINY, "epochs": 3}), data, control, checkpoint_dir=tmp_path)
    assert summary.reason == "stopped" and summary.steps == 3  # the step in flight finishes, no other starts
    assert isinstance(events[-1], RunFinished) and events[-1].reason == "stopped"
    assert of(events, StepEnded)[-1].step == 3 and not of(events, EpochEnded)
    assert events[-1].test_loss is None and not of(events, Evaluation)  # a stopped run is not tested
    progress = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)["progress"]
    assert (progress["step"], progress["epoch"], progress["batch_in_epoch"], progress["samples_seen"]) == (3, 0, 3, 96)
    assert progress["epoch_count"] == 96 and 0 <= progress["epoch_correct"] <= 96 and progress["epoch_loss_sum"] > 0


def test_pause_holds_and_still_answers_stop(data):
    control = RunControl()
    control.pause()
    timer = threading.Timer(1.0, control.stop)
    timer.start()
    _, summary, events = run(TrainConfig(**TINY), data, control)
    timer.join()
    assert summary.reason == "stopped" and summary.steps == 0 and not of(events, EpochEnded)


def test_early_stopping_on_validation_loss(data, monkeypatch):
    evaluate = module_module.MnistModule.evaluate
    flat = torch.full((64, 10), 0.1)
    monkeypatch.setattr(module_module.MnistModule, "evaluate",
                        lambda self, x, y: (1.0, flat) if len(y) == 64 else evaluate(self, x, y))
    _, summary, events = run(TrainConfig(**{**TINY, "epochs": 5, "patience": 1}), data)
    assert summary.reason == "early_stopped" and summary.epochs_completed == 2
    assert len(of(events, EpochEnded)) == 2


def test_divergence_is_reported(data):
    config = TrainConfig(**{**TINY, "epochs": 3, "lr": 10.0, "init": "uniform", "hidden": (64,), "activation": "tanh",
                           "loss": "mse"})
    _, summary, events = run(config, data)
    assert summary.reason == "diverged" and "learning rate" in summary.message
    assert events[-1].reason == "diverged" and events[-1].test_loss is None


@pytest.mark.parametrize("stop_at", [None, 5])
def test_checkpoint_resume_matches_an_uninterrupted_run(data, tmp_path, monkeypatch, stop_at):
    config = TrainConfig(**{**TINY, "optimizer": "momentum", "epochs": 2})
    whole, _, _ = run(config, data)
    control = RunControl()
    if stop_at is None:  # stop at an epoch boundary: train one epoch, then resume for the second
        _, s1, _ = run(config.replace(epochs=1), data, checkpoint_dir=tmp_path)
    else:  # stop mid-epoch: resume replays the same shuffle and skips the batches already trained
        stop_during_step(monkeypatch, control, stop_at)
        _, s1, _ = run(config, data, control, checkpoint_dir=tmp_path)
        monkeypatch.undo()
    assert s1.steps == (8 if stop_at is None else stop_at)
    resumed, s2, events = run(config, data, resume_from=tmp_path / CHECKPOINT_NAME)
    assert events[0].resumed_from_step == s1.steps
    assert s2.reason == "completed" and s2.steps == 16 and s2.epochs_completed == 2
    for a, b in zip(whole.module.net.parameters(), resumed.module.net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("chunk", [1, 3])
def test_any_chunking_trains_the_same_steps(data, tmp_path, monkeypatch, chunk):
    """Lightning batches of 1 or 3 optimiser steps (3 does not divide 8): same stop, watches and weights."""
    config = TrainConfig(**{**TINY, "optimizer": "momentum"})
    whole, _, _ = run(config, data)  # the default chunking
    monkeypatch.setattr(fit_module, "STEPS_PER_CHUNK", chunk)
    control = RunControl(["L1.N0.b"])
    stop_during_step(monkeypatch, control, 5)
    _, s1, events = run(config, data, control, checkpoint_dir=tmp_path)
    assert s1.reason == "stopped" and s1.steps == 5
    assert [w.step for w in of(events, ScalarWatch)] == [1, 2, 3, 4, 5]
    monkeypatch.setattr(fit_module, "STEPS_PER_CHUNK", chunk)
    resumed, s2, events = run(config, data, resume_from=tmp_path / CHECKPOINT_NAME)
    assert s2.steps == 16 and [e.step for e in of(events, EpochEnded)] == [8, 16]
    for a, b in zip(whole.module.net.parameters(), resumed.module.net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_resume_refuses_a_different_network(data, tmp_path):
    run(TrainConfig(**{**TINY, "epochs": 1}), data, checkpoint_dir=tmp_path)
    _, summary, events = run(TrainConfig(**{**TINY, "hidden": (9,)}), data,
                             resume_from=tmp_path / CHECKPOINT_NAME)
    assert summary.reason == "failed" and "does not match" in events[-1].error


@pytest.mark.skipif(CUDA, reason="this machine has a CUDA GPU")
def test_device_gpu_without_cuda_fails_clearly(data):
    _, summary, events = run(TrainConfig(**{**TINY, "device": "gpu"}), data)
    assert len(events) == 1 and isinstance(events[0], RunFailed)  # no RunStarted: a resumed record stays as it was
    assert events[0].error == GPU_MISSING and summary.reason == "failed"


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_gpu_run_names_the_device(data):
    _, summary, events = run(TrainConfig(**{**TINY, "device": "auto", "epochs": 1}), data)
    assert events[0].device == torch.cuda.get_device_name(0)
    assert summary.reason == "completed" and summary.test_accuracy is not None


def test_ensure_single_device():
    ensure_single_device(TrainConfig(backend="lightning"))
    for changes in ({"devices": 2}, {"num_nodes": 2}):
        with pytest.raises(ValueError, match="headless"):
            ensure_single_device(TrainConfig(backend="lightning", **changes))


DDP_SCRIPT = """
import os
import sys
from pathlib import Path
from core.backends import RunControl
from core.backends.lightning import LightningTrainer
from core.backends.lightning.module import MnistModule
from core.config import TrainConfig
from core.data import find_and_load, prepare
from core.records.jsonl import to_json

out, data_dir, stop_at = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
config = TrainConfig(backend="lightning", hidden=(8,), input_size=7, batch_size=32, epochs=2, train_subset=256,
                     val_subset=64, test_subset=128, device="cpu", devices=2, strategy="ddp")
data = prepare(find_and_load(data_dir, allow_download=False), input_size=7, train_subset=256, val_subset=64,
               test_subset=128)
control = RunControl(["L0.N0.w0"])
step = MnistModule.training_step
count = iter(range(1, 100))

def training_step(self, batch, batch_idx):  # only rank zero is asked to stop, as by a signal to one process
    step(self, batch, batch_idx)  # one optimiser step per Lightning batch under DDP
    if next(count) == stop_at and os.environ.get("LOCAL_RANK", "0") == "0":
        control.stop()

MnistModule.training_step = training_step
lines = []
summary = LightningTrainer().fit(config, data, lambda e: lines.append(to_json(e)), control)
if lines:
    out.write_text("\\n".join(lines) + "\\n")
sys.stdout.write(f"SUMMARY {summary.reason} {summary.steps}\\n")  # one write: the ranks share the pipe
"""


@pytest.mark.slow
def test_two_process_ddp_on_cpu_and_a_stop_on_one_rank(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT))
    out = tmp_path / "events.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(script), str(out), str(DATA_DIR), "6"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # 128 digits per rank = 4 steps an epoch; rank zero stops during step 6 and both ranks leave after it
    assert proc.stdout.count("stopped 6") == 2, proc.stdout + proc.stderr[-3000:]
    events = [from_json(line) for line in out.read_text().splitlines()]  # rank zero's only
    assert events[0].device == "cpu x2 (ddp)" and events[-1].reason == "stopped"
    assert len(of(events, RunStarted)) == 1 and [e.epoch for e in of(events, EpochEnded)] == [1]
    assert of(events, StepEnded)[-1].samples_seen == 6 * 32 * 2
    assert [w.step for w in of(events, ScalarWatch)] == list(range(1, 7))
    assert json.loads(out.read_text().splitlines()[0])["type"] == "RunStarted"


def test_library_deprecations_are_debug_lines_and_other_warnings_stay_warnings():
    import warnings

    from core.backends.lightning import route_lightning_logs

    lines: list[LogLine] = []
    with route_lightning_logs(lines.append, "r"), warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
        warnings.warn("check your data", UserWarning, stacklevel=1)
    assert [(e.level, e.message.split(" (")[0]) for e in lines] == [
        ("debug", "DeprecationWarning: old API"),
        ("warning", "UserWarning: check your data"),
    ]
    assert warnings.showwarning is not None and "show_warning" not in warnings.showwarning.__name__


# ---- the run book's epoch means -------------------------------------------------------------------------
def record_training_losses(monkeypatch) -> list[tuple[float, int, int]]:
    """(mean loss, samples, correct) of every training step, as the loss function saw them."""
    seen: list[tuple[float, int, int]] = []
    loss_function = module_module.loss_function

    def patched(name):
        loss = loss_function(name)

        def recording(out, labels):
            value = loss(out, labels)
            if torch.is_grad_enabled():
                correct = int((out.argmax(1) == labels).sum())
                seen.append((value.item(), labels.shape[0], correct))
            return value

        return recording

    monkeypatch.setattr(module_module, "loss_function", patched)
    return seen


def test_epoch_train_loss_and_accuracy_are_sample_weighted_over_the_whole_epoch(data, monkeypatch):
    # 250 digits in batches of 32: seven of 32 and a last one of 26, which must weigh 26/250, not 1/8
    small = data.__class__(train=data.train.__class__(images=data.train.images[:250], labels=data.train.labels[:250]),
                           val=data.val, test=data.test, side=data.side, source=data.source, is_sample=data.is_sample)
    seen = record_training_losses(monkeypatch)
    _, summary, events = run(TrainConfig(**{**TINY, "epochs": 1, "train_subset": 250}), small)
    assert [n for _, n, _ in seen] == [32] * 7 + [26]
    (epoch,) = of(events, EpochEnded)
    assert epoch.train_loss == pytest.approx(sum(v * n for v, n, _ in seen) / 250, rel=1e-6)
    assert epoch.train_accuracy == sum(c for _, _, c in seen) / 250
    assert of(events, StepEnded)[-1].samples_seen == 250


def test_a_resumed_epoch_reports_the_means_over_the_whole_epoch(data, tmp_path, monkeypatch):
    config = TrainConfig(**{**TINY, "epochs": 1})
    _, _, whole = run(config, data)
    control = RunControl()
    stop_during_step(monkeypatch, control, 3)
    run(config, data, control, checkpoint_dir=tmp_path)
    monkeypatch.undo()
    _, _, resumed = run(config, data, resume_from=tmp_path / CHECKPOINT_NAME)
    (a,), (b,) = of(whole, EpochEnded), of(resumed, EpochEnded)
    assert b.train_accuracy == a.train_accuracy and b.train_loss == pytest.approx(a.train_loss, rel=1e-6)


# ---- the probe ------------------------------------------------------------------------------------------
def test_probe_answers_from_a_snapshot_of_values_and_grads_before_the_update(data):
    config = TrainConfig(**{**TINY, "epochs": 1})
    trainer = LightningTrainer()
    assert trainer.probe() is None  # no model yet
    probes = []
    control = RunControl(["L0.N3.w20", "L1.N2.b"])

    def emit(event):
        events.append(event)
        if isinstance(event, StepEnded) and not probes:
            probes.append(trainer.probe())

    events: list = []
    trainer.fit(config, data, emit, control)
    probe = trainer.probe()
    assert probe is probes[0] and probe.layer_sizes == (49, 8, 10) and probe.input_side == 7
    assert probe.backend == "lightning" and probe.graph_nodes is False and probe.graph() is None
    # the last snapshot: final weights, the last step's gradients
    net = trainer.module.net
    assert probe.step() == 8
    assert probe.value("L0.N3.w20") == (net[0].weight[3, 20].item(), net[0].weight.grad[3, 20].item())
    assert probe.values(["L1.N2.b"]) == {"L1.N2.b": (net[2].bias[2].item(), net[2].bias.grad[2].item())}
    weights, grads = probe.incoming(1, 4)
    assert weights == net[2].weight[4].tolist() and grads == net[2].weight.grad[4].tolist()
    rows, biases = probe.layer_weights(0)
    assert rows == net[0].weight.tolist() and biases == net[0].bias.tolist()
    for bad in ("L2.N0.b", "L0.N8.w0", "L0.N0.w49", "L0.N0.z", " L0.N0.b"):
        with pytest.raises(AddressError):
            probe.value(bad)
    with pytest.raises(AddressError, match="L0..L1"):
        probe.incoming(2, 0)


def test_probe_predictions_and_input_gradients_are_the_networks(data):
    trainer, _, _ = run(TrainConfig(**{**TINY, "epochs": 1}), data)
    probe, net = trainer.probe(), trainer.module.net
    images = data.test.images[:3]
    expected = torch.softmax(net(torch.from_numpy(images)), dim=1)
    torch.testing.assert_close(torch.tensor(probe.predict(images.tolist())), expected, rtol=0, atol=1e-6)
    assert probe.predict([]) == []
    x = torch.from_numpy(images[:1]).clone().requires_grad_(True)
    logits = net(x)
    predicted = int(logits.argmax())
    (score_grad,) = torch.autograd.grad(logits[0, predicted], x)
    probs, grad = probe.input_gradient(images[0].tolist())
    assert probs == pytest.approx(expected[0].tolist(), abs=1e-6)
    assert grad == pytest.approx(score_grad[0].tolist(), abs=1e-6)
    x = torch.from_numpy(images[:1]).clone().requires_grad_(True)
    (loss_grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(net(x), torch.tensor([7])), x)
    assert probe.input_gradient(images[0].tolist(), label=7)[1] == pytest.approx(loss_grad[0].tolist(), abs=1e-6)
    with pytest.raises(ValueError, match="0..9"):
        probe.input_gradient(images[0].tolist(), target=10)
    with pytest.raises(ValueError, match="49 pixels"):
        probe.predict([[0.0] * 48])
    check = probe.grad_check("L0.N3.w20")
    assert check.passed and check.address == "L0.N3.w20"


def test_probe_from_checkpoint_reads_the_saved_weights(data, tmp_path):
    config = TrainConfig(**{**TINY, "epochs": 1})
    trainer, _, _ = run(config, data, checkpoint_dir=tmp_path)
    probe = probe_from_checkpoint(tmp_path / CHECKPOINT_NAME, config)
    net = trainer.module.net
    assert probe.step() == 8 and probe.value("L1.N9.w0") == (net[2].weight[9, 0].item(), 0.0)
    assert probe.predict(data.test.images[:2].tolist()) == trainer.probe().predict(data.test.images[:2].tolist())


def test_probe_while_paused_answers_the_step_the_pause_arrived_at(data):
    control = RunControl()
    trainer = LightningTrainer()
    answers = []

    def pause_then_read():
        while trainer.probe() is None or trainer.book.position.step < 2:
            threading.Event().wait(0.001)
        control.pause()
        threading.Event().wait(0.3)
        probe = trainer.probe()
        answers.append((probe.step(), trainer.book.position.step, probe.value("L1.N0.b")))
        control.stop()

    reader = threading.Thread(target=pause_then_read)
    reader.start()
    trainer.fit(TrainConfig(**{**TINY, "epochs": 50, "train_subset": 256}), data, lambda e: None, control)
    reader.join()
    (snap_step, steps_taken, _), = answers
    assert snap_step == steps_taken  # a consistent snapshot of the very step the run paused after


# ---- checkpoints ----------------------------------------------------------------------------------------
def test_resume_refuses_non_finite_parameters_and_impossible_progress(data, tmp_path):
    config = TrainConfig(**{**TINY, "epochs": 1})
    run(config, data, checkpoint_dir=tmp_path)
    path = tmp_path / CHECKPOINT_NAME
    state = torch.load(path, weights_only=True)
    state["model"]["0.weight"][0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    _, summary, events = run(config, data, resume_from=tmp_path / "nan.pt")
    assert summary.reason == "failed" and "NaN or infinite" in events[-1].error
    state = torch.load(path, weights_only=True)
    state["progress"]["epoch"] = 99
    torch.save(state, tmp_path / "epoch.pt")
    _, summary, events = run(config, data, resume_from=tmp_path / "epoch.pt")
    assert summary.reason == "failed" and "epoch 99 of 1" in events[-1].error
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    _, summary, events = run(config, data, resume_from=tmp_path / "junk.pt")
    assert summary.reason == "failed" and "not a readable Lightning-backend checkpoint" in events[-1].error


# ---- threads, CUDA graphs, peers ------------------------------------------------------------------------
def test_thread_policy():
    small = TrainConfig(**TINY)  # 49-8-10 at batch 32: ~40k multiply-adds a step
    big = TrainConfig(**{**TINY, "input_size": 28, "hidden": (128,), "batch_size": 64})  # ~19.5M a step
    assert [choose_threads(small, cores=c) for c in (1, 2, 16)] == [1, 1, 1]
    assert [choose_threads(big, cores=c) for c in (1, 2, 3, 16)] == [1, 1, 2, 3]
    huge = TrainConfig(**{**TINY, "input_size": 28, "hidden": (4096, 4096), "batch_size": 512})
    assert choose_threads(huge, cores=64) == 8 and choose_threads(huge, cores=4) == 3
    assert choose_threads(small.replace(threads=5), cores=2) == 5  # an explicit setting wins


def test_threads_setting_is_used_and_restored(data):
    before = torch.get_num_threads()
    seen = []
    loss_function = module_module.loss_function
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(module_module, "loss_function",
                   lambda name: lambda o, y: (seen.append(torch.get_num_threads()), loss_function(name)(o, y))[1])
        _, summary, events = run(TrainConfig(**{**TINY, "epochs": 1, "threads": 2}), data)
    assert summary.reason == "completed" and events[0].threads == 2 and set(seen) == {2}
    assert torch.get_num_threads() == before


@pytest.mark.skipif(CUDA, reason="this machine has a CUDA GPU")
def test_cuda_graphs_are_refused_on_the_cpu(data):
    _, summary, events = run(TrainConfig(**{**TINY, "cuda_graphs": True}), data)
    assert summary.reason == "failed" and "cuda_graphs needs a CUDA GPU" in events[-1].error


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_cuda_graphs_train_exactly_like_eager_steps(data, optimizer):
    config = TrainConfig(**{**TINY, "device": "gpu", "optimizer": optimizer, "train_subset": 250})
    eager, s1, e1 = run(config, data, RunControl(["L0.N3.w20"]))
    graphed, s2, e2 = run(config.replace(cuda_graphs=True), data, RunControl(["L0.N3.w20"]))
    assert s1.steps == s2.steps == 16 and graphed.module.captured is not None
    for a, b in zip(eager.module.net.parameters(), graphed.module.net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    w1 = [(w.step, w.data) for w in of(e1, ScalarWatch)]
    w2 = [(w.step, w.data) for w in of(e2, ScalarWatch)]
    assert [s for s, _ in w1] == [s for s, _ in w2] == list(range(1, 17))
    assert [d for _, d in w2] == pytest.approx([d for _, d in w1], rel=1e-5, abs=1e-6)
    assert [e.train_accuracy for e in of(e1, EpochEnded)] == [e.train_accuracy for e in of(e2, EpochEnded)]


def test_a_multi_node_run_without_peers_fails_clearly_in_time(data, monkeypatch):
    monkeypatch.setenv("MNIST_DASH_PEER_TIMEOUT", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    _, summary, events = run(TrainConfig(**{**TINY, "num_nodes": 2}), data)
    assert summary.reason == "failed" and summary.seconds < 30
    assert "waited 1 s for the other 1 node(s) of a 2-node run" in events[-1].error


def test_a_stop_while_waiting_for_peers_ends_the_run_at_once(data, monkeypatch):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    control = RunControl()
    timer = threading.Timer(0.5, control.stop)  # what the headless SIGTERM handler does
    timer.start()
    _, summary, events = run(TrainConfig(**{**TINY, "num_nodes": 2}), data, control)
    timer.join()
    assert summary.reason == "stopped" and summary.steps == 0 and summary.seconds < 30
    assert isinstance(events[-1], RunFinished) and events[-1].reason == "stopped"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_learning_rate_change_applies_from_the_next_step_and_is_checkpointed(data, tmp_path, monkeypatch):
    control = RunControl(["L1.N2.b"])
    loss_function = module_module.loss_function
    count = iter(range(1, 10**6))

    def patched(name):
        loss = loss_function(name)

        def counting(out, labels):
            if torch.is_grad_enabled() and next(count) == 3:  # during step 3: effective from step 4
                control.set_lr(0.025, "folder")
            return loss(out, labels)

        return counting

    monkeypatch.setattr(module_module, "loss_function", patched)
    config = TrainConfig(**{**TINY, "epochs": 1})
    _, summary, events = run(config, data, control, checkpoint_dir=tmp_path)
    (change,) = [e for e in events if type(e).__name__ == "LearningRateChanged"]
    assert (change.step, change.lr, change.previous, change.source) == (3, 0.025, 0.1, "folder")
    series = sorted((w.step, w.data, w.grad) for w in of(events, ScalarWatch))
    for (step, d0, g0), (_, d1, _) in zip(series, series[1:], strict=False):
        assert d1 == minus_lr_grad(d0, g0, 0.1 if step <= 3 else 0.025)
    saved = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)["optimizer"]["param_groups"][0]["lr"]
    assert saved == 0.025


def test_a_new_run_saves_its_model_after_its_first_step_for_a_follower(data, tmp_path):
    """As the handmade engine does: a dashboard following the run from another process reads the model from the
    checkpoint, there once the first step is done (with that step's loss sums), not only at the first epoch's end."""
    seen, events = [], []

    def emit(event):  # at the epoch's last step (before its end's checkpoint): the one saved after step 1
        events.append(event)
        if isinstance(event, StepEnded) and event.step > 1 and not seen:
            seen.append(torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)["progress"])

    summary = LightningTrainer().fit(TrainConfig(**{**TINY, "epochs": 1}), data, emit, RunControl(),
                                     checkpoint_dir=tmp_path)
    first = seen[0]
    assert (first["step"], first["epoch"], first["batch_in_epoch"], first["samples_seen"]) == (1, 0, 1, 32)
    assert first["epoch_count"] == 32 and first["epoch_loss_sum"] > 0  # the first step's loss, synced before
    assert of(events, StepEnded)[0].step == 1 and summary.reason == "completed"
    assert torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)["progress"]["epoch"] == 1  # the epoch end's
