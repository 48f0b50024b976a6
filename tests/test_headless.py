"""The headless printer and the CLI's choice of front end, in process (no training)."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from core import cli, headless
from core.backends import RunSummary
from core.config import TrainConfig
from core.events import EpochEnded, LogLine, RunFailed, RunFinished, RunStarted, ScalarWatch, StepEnded
from core.headless import HeadlessPrinter, exit_status
from core.records.commands import show_run
from core.records.runs import RunRecorder

CFG = TrainConfig(epochs=2, train_subset=64, input_size=7)


def started(**kw) -> RunStarted:
    return RunStarted(run_id="r", backend="scalar", device="cpu", data_source="sample", config=CFG.to_dict(),
                      train_size=64, val_size=32, test_size=32, total_steps=16, parameter_count=5610,
                      run_dir="runs/r", **kw)


def step(n: int) -> StepEnded:
    return StepEnded(run_id="r", step=n, epoch=1, loss=0.5, accuracy=0.25, samples_per_s=100.0, samples_seen=8 * n,
                     progress=n / 16, total_steps=16)


def test_lines_for_a_whole_run():
    out, stream = io.StringIO(), io.StringIO()
    p = HeadlessPrinter(out, jsonl=stream, progress_seconds=0)
    p(started())
    p(ScalarWatch(run_id="r", step=1, address="L0.N0.w3", data=0.5, grad=-0.25))
    p(step(1))
    p(LogLine(run_id="r", level="warning", message="careful", source="lightning"))
    p(LogLine(run_id="r", level="debug", message="quiet-debug"))
    p(EpochEnded(run_id="r", epoch=1, step=8, train_loss=0.5, train_accuracy=0.5, val_loss=0.4,
                 val_accuracy=0.75, epoch_seconds=1.5, samples_per_s=42.0))
    p(RunFinished(run_id="r", reason="completed", steps=16, epochs_completed=2, seconds=3.0, test_loss=0.3,
                  test_accuracy=0.875))
    text = out.getvalue()
    assert "run r: backend scalar on cpu" in text and "model: 49-64-32-10 (5,610 parameters), 16 steps" in text
    assert "config: backend=scalar hidden=64,32" in text
    assert "epoch 1/2 step 1/16 (6%): loss 0.5000 acc 25.0%, 100 samples/s" in text
    assert "watch L0.N0.w3 at step 1: data 0.5 grad -0.25" in text
    assert "[lightning] warning: careful" in text and "quiet-debug" not in text
    assert "epoch 1/2 done: train loss 0.5000 acc 50.0% | val loss 0.4000 acc 75.0% | 1.5s, 42 samples/s" in text
    assert "finished (completed): test accuracy 87.50% (loss 0.3000); 16 steps, 2 epochs, 3.0s" in text
    assert text.splitlines()[-1] == "record: runs/r" and "\r" not in text
    assert [json.loads(line)["type"] for line in stream.getvalue().splitlines()] == [
        "RunStarted", "ScalarWatch", "StepEnded", "LogLine", "LogLine", "EpochEnded", "RunFinished"]


def test_progress_lines_are_rate_limited():
    out = io.StringIO()
    p = HeadlessPrinter(out, progress_seconds=math.inf)
    p(started())
    for n in range(1, 9):
        p(step(n))
    assert " step " not in out.getvalue()


def test_failure_and_closed_pipe():
    class Broken(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    p = HeadlessPrinter(Broken(), jsonl=Broken())
    p(RunFailed(run_id="r", error="no data"))  # does not raise; output stops, training would go on
    assert p.out is None and p.jsonl is None
    out = io.StringIO()
    HeadlessPrinter(out)(RunFailed(run_id="r", error="no data"))
    assert out.getvalue() == "failed: no data\n"


@pytest.mark.parametrize(
    ("reason", "signum", "status"),
    [("completed", None, 0), ("early_stopped", None, 0), ("stopped", 2, 130), ("stopped", 15, 143),
     ("failed", None, 1), ("diverged", None, 1)],
)
def test_exit_status(reason, signum, status):
    summary = RunSummary(run_id="r", reason=reason, steps=1, epochs_completed=0, seconds=0.1)
    assert exit_status(summary, signum) == status


def test_show_run_of_an_incomplete_record(tmp_path, capsys):
    with RunRecorder(tmp_path, "r", CFG) as rec:
        rec(started())
    assert show_run(tmp_path / "r") == 0
    out = capsys.readouterr().out
    # No lock file (written by hand) and fresh: live by its age; its status line is --list-runs' word.
    assert "backend scalar" in out and "\nstatus: live (last event " in out


class FakeFrontEnd:
    """What tui.main plugs into the command line, recording what it was asked to show."""

    def __init__(self, calls: dict) -> None:
        self.calls = calls

    def dashboard(self, config, args, watch):
        self.calls["tui"] = (config, args, watch)
        return 0

    def serve(self, argv, port, token=None):
        self.calls["serve"] = (argv, port, token)
        return 0


@pytest.fixture
def tty(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_stdout_is_terminal", lambda: True)
    monkeypatch.setenv("TERM", "xterm-256color")
    calls: dict = {}
    monkeypatch.setattr(headless, "run_headless", lambda config, **kw: calls.setdefault("headless", (config, kw))
                        and 0)
    real_main = cli.main
    monkeypatch.setattr(cli, "main", lambda argv=None: real_main(argv, front_end=FakeFrontEnd(calls)))
    return calls


def test_terminal_opens_the_dashboard_with_the_settings(tty, tmp_path):
    with RunRecorder(tmp_path, "r", CFG):
        pass
    assert cli.main(["--epochs", "5", "--watch", "L0.N1.w2", "--runs-dir", str(tmp_path),
                     "--open", str(tmp_path / "r")]) == 0
    config, args, watch = tty["tui"]
    assert config.epochs == 5 and watch == ("L0.N1.w2",) and args.runs_dir == str(tmp_path)
    assert args.open_run == str(tmp_path / "r") and args.data_dir is None and "headless" not in tty


@pytest.mark.parametrize(
    ("args", "why"),
    [(["--backend", "lightning", "--devices", "2"], "multi-device runs belong to the headless mode"),
     (["--headless"], None), (["--jsonl", "x.jsonl"], None)],
)
def test_terminal_still_runs_headless_when_it_must(tty, capsys, args, why):
    assert cli.main(args) == 0
    assert "tui" not in tty and "headless" in tty
    err = capsys.readouterr().err
    assert (why in err) if why else err == ""


def test_term_dumb_runs_headless(tty, monkeypatch, capsys):
    monkeypatch.setenv("TERM", "dumb")
    assert cli.main([]) == 0 and "headless" in tty
    assert capsys.readouterr().err == "mnist-dash: TERM=dumb; running headless\n"


def test_test_confusion_matrix_and_recall_close_the_log():
    from core.evaluation import evaluate_predictions
    from core.events import ControlApplied, LearningRateChanged

    probs = np.zeros((4, 10))
    probs[[0, 1, 2, 3], [0, 1, 9, 4]] = 1.0  # the third digit (a 4) is taken for a 9
    event = evaluate_predictions(probs, np.array([0, 1, 4, 4])).to_event("r", 16, 2, "test", 0.5)
    out = io.StringIO()
    p = HeadlessPrinter(out)
    p(evaluate_predictions(probs, np.array([0, 1, 4, 4])).to_event("r", 8, 1, "val", 0.5))
    assert out.getvalue() == ""  # validation matrices stay in the record
    p(event)
    lines = out.getvalue().splitlines()
    assert lines[0] == "test confusion matrix (4 digits):"
    assert lines[2].split() == ["0", "1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "|", "100.0%"]
    assert lines[6].split() == ["4", "0", "0", "0", "0", "1", "0", "0", "0", "0", "1", "|", "50.0%"]
    assert lines[-1].endswith("| accuracy 75.00%")
    p(LearningRateChanged(run_id="r", step=40, lr=0.01, previous=0.05, source="folder"))
    p(ControlApplied(run_id="r", step=41, command="pause", source="dashboard"))
    assert out.getvalue().splitlines()[-2:] == ["learning rate 0.05 -> 0.01 after step 40 (folder)",
                                                "pause at step 41 (dashboard)"]
