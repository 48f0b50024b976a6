"""The Lightning backend on CPU: event contract, control, exact watches, checkpoints, devices, DDP (gloo)."""

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

from core.backends import RunControl  # noqa: E402
from core.backends.lightning import (  # noqa: E402
    CHECKPOINT_NAME,
    GPU_MISSING,
    LightningTrainer,
    ensure_single_device,
)
from core.config import TrainConfig  # noqa: E402
from core.data import find_and_load, prepare  # noqa: E402
from core.events import (  # noqa: E402
    EpochEnded,
    LayerGradStats,
    LogLine,
    RunFailed,
    RunFinished,
    RunStarted,
    ScalarWatch,
    StepEnded,
    from_json,
    to_json,
)

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
        assert 0 <= s.dead_fraction <= 1 and s.update_ratio > 0 and s.max_abs >= abs(s.mean)
    watches = of(events, ScalarWatch)
    assert sorted({w.address for w in watches}) == ["L0.N3.w20", "L1.N2.b"]
    assert [w.step for w in watches if w.address == "L1.N2.b"] == list(range(1, 17))  # every step
    warnings = [e.message for e in of(events, LogLine) if e.level == "warning" and "watch" in e.message]
    assert len(warnings) == 2 and any("handmade engine" in w for w in warnings)
    assert finish.reason == "completed" and finish.steps == 16 and finish.epochs_completed == 2
    assert 0 <= finish.test_accuracy <= 1 and summary.test_accuracy == finish.test_accuracy
    assert summary.reason == "completed" and summary.best_val_loss == min(e.val_loss for e in epochs)
    for event in events:  # every event survives its JSONL line
        assert from_json(to_json(event)) == event
    err = capfd.readouterr().err
    assert "GPU available" not in err and "LOCAL_RANK" not in err  # Lightning's chatter became LogLines
    assert any("GPU available" in e.message for e in of(events, LogLine))


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
    from core.backends import _lightning_impl

    loss_function = _lightning_impl.loss_function
    count = iter(range(1, 10**6))

    def patched(name):
        loss = loss_function(name)

        def counting(out, labels):
            if torch.is_grad_enabled() and next(count) == step:  # training steps only, not evaluation
                control.stop()
            return loss(out, labels)

        return counting

    monkeypatch.setattr(_lightning_impl, "loss_function", patched)


def test_stop_takes_effect_within_one_batch_and_checkpoints(data, tmp_path, monkeypatch):
    control = RunControl()
    stop_during_step(monkeypatch, control, 3)
    _, summary, events = run(TrainConfig(**{**TINY, "epochs": 3}), data, control, checkpoint_dir=tmp_path)
    assert summary.reason == "stopped" and summary.steps == 3  # the step in flight finishes, no other starts
    assert isinstance(events[-1], RunFinished) and events[-1].reason == "stopped"
    assert of(events, StepEnded)[-1].step == 3 and not of(events, EpochEnded)
    state = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert (state["step"], state["epoch"], state["batch_in_epoch"]) == (3, 0, 3)


def test_pause_holds_and_still_answers_stop(data):
    control = RunControl()
    control.pause()
    timer = threading.Timer(1.0, control.stop)
    timer.start()
    _, summary, events = run(TrainConfig(**TINY), data, control)
    timer.join()
    assert summary.reason == "stopped" and summary.steps == 0 and not of(events, EpochEnded)


def test_early_stopping_on_validation_loss(data, monkeypatch):
    from core.backends import _lightning_impl

    evaluate = _lightning_impl.MnistModule.evaluate
    calls = iter([(1.0, 0.5), (1.0, 0.5), (1.0, 0.5)])
    monkeypatch.setattr(_lightning_impl.MnistModule, "evaluate",
                        lambda self, x, y: next(calls) if len(y) == 64 else evaluate(self, x, y))
    _, summary, events = run(TrainConfig(**{**TINY, "epochs": 5, "patience": 1}), data)
    assert summary.reason == "early_stopped" and summary.epochs_completed == 2
    assert len(of(events, EpochEnded)) == 2


def test_divergence_is_reported(data):
    config = TrainConfig(**{**TINY, "epochs": 3, "lr": 10.0, "init": "uniform", "hidden": (64,), "activation": "tanh",
                           "loss": "mse"})
    _, summary, events = run(config, data)
    assert summary.reason == "diverged" and "--lr" in summary.message
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
    from core.backends import _lightning_run

    config = TrainConfig(**{**TINY, "optimizer": "momentum"})
    whole, _, _ = run(config, data)  # the default chunking
    monkeypatch.setattr(_lightning_run, "STEPS_PER_CHUNK", chunk)
    control = RunControl(["L1.N0.b"])
    stop_during_step(monkeypatch, control, 5)
    _, s1, events = run(config, data, control, checkpoint_dir=tmp_path)
    assert s1.reason == "stopped" and s1.steps == 5
    assert [w.step for w in of(events, ScalarWatch)] == [1, 2, 3, 4, 5]
    monkeypatch.setattr(_lightning_run, "STEPS_PER_CHUNK", chunk)
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
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFailed)
    assert events[-1].error == GPU_MISSING and summary.reason == "failed"


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
from core.backends import RunControl, _lightning_impl
from core.backends.lightning import LightningTrainer
from core.config import TrainConfig
from core.data import find_and_load, prepare
from core.events import to_json

out, data_dir, stop_at = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
config = TrainConfig(backend="lightning", hidden=(8,), input_size=7, batch_size=32, epochs=2, train_subset=256,
                     val_subset=64, test_subset=128, device="cpu", devices=2, strategy="ddp")
data = prepare(find_and_load(data_dir, allow_download=False), input_size=7, train_subset=256, val_subset=64,
               test_subset=128)
control = RunControl(["L0.N0.w0"])
step = _lightning_impl.MnistModule.training_step
count = iter(range(1, 100))

def training_step(self, batch, batch_idx):  # only rank zero is asked to stop, as by a signal to one process
    step(self, batch, batch_idx)  # one optimiser step per Lightning batch under DDP
    if next(count) == stop_at and os.environ.get("LOCAL_RANK", "0") == "0":
        control.stop()

_lightning_impl.MnistModule.training_step = training_step
lines = []
summary = LightningTrainer().fit(config, data, lambda e: lines.append(to_json(e)), control)
if lines:
    out.write_text("\\n".join(lines) + "\\n")
sys.stdout.write(f"SUMMARY {summary.reason} {summary.steps}\\n")  # one write: the ranks share the pipe
"""


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
