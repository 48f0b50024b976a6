"""The headless mode as a process: lost log streams, signals, exit statuses (real runs, tiny configs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.backends import RunSummary
from core.config import TrainConfig
from core.events import RunStarted
from core.headless import exit_status
from core.records.commands import show_run
from core.records.runs import RunRecorder

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "mnist"
TINY = ["--headless", "--backend", "scalar", "--epochs", "1", "--train-subset", "64", "--val-subset", "32",
        "--test-subset", "32", "--input-size", "7", "--hidden", "8", "--batch-size", "8"]


CFG = TrainConfig(epochs=1, train_subset=64, input_size=7)


def started() -> RunStarted:
    return RunStarted(run_id="s", backend="scalar", device="cpu", data_source="sample", config=CFG.to_dict(),
                      train_size=64, val_size=32, test_size=32)


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    env.pop("MNIST_DASH_DATA", None)
    return env


def _run(tmp_path: Path, *args: str, stdout=subprocess.PIPE, timeout: float = 120) -> subprocess.CompletedProcess:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} (the shared MNIST files) is not present")
    cmd = [sys.executable, "-m", "core", *TINY, "--data-dir", str(SHARED), "--runs-dir", str(tmp_path / "runs"),
           *args]
    return subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
                          timeout=timeout, cwd=tmp_path)


def _only_run(tmp_path: Path) -> Path:
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_stdout_on_a_full_disk_keeps_training_and_says_so_once(tmp_path):
    with open("/dev/full", "w") as full:
        result = _run(tmp_path, stdout=full)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("cannot write to stdout (No space left on device); training goes on") == 1
    summary = json.loads((_only_run(tmp_path) / "summary.json").read_text())
    assert summary["reason"] == "completed" and summary["test_accuracy"] is not None


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_jsonl_on_a_full_disk_keeps_training(tmp_path):
    result = _run(tmp_path, "--jsonl", "/dev/full")
    assert result.returncode == 0, result.stderr
    assert "cannot write to /dev/full" in result.stderr and "Traceback" not in result.stderr
    assert "finished (completed)" in result.stdout
    assert json.loads((_only_run(tmp_path) / "summary.json").read_text())["reason"] == "completed"


def test_a_stop_without_a_signal_exits_0():
    summary = RunSummary(run_id="r", reason="stopped", steps=1, epochs_completed=0, seconds=0.1)
    assert exit_status(summary, None) == 0


def _start_slow_run(tmp_path: Path) -> subprocess.Popen:
    """A run whose steps take long enough (28x28 inputs, a wide layer, big batches) to signal it mid-epoch."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} (the shared MNIST files) is not present")
    args = [sys.executable, "-m", "core", "--headless", "--backend", "scalar", "--epochs", "5", "--train-subset",
            "4000", "--input-size", "28", "--hidden", "256", "--batch-size", "64", "--data-dir", str(SHARED),
            "--runs-dir", str(tmp_path / "runs"), "--jsonl", "-"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
                            cwd=tmp_path)
    for line in proc.stdout:  # wait until training is under way
        if '"type":"StepEnded"' in line:
            return proc
    pytest.fail(f"the run never stepped: {proc.stderr.read()}")


def test_first_ctrl_c_stops_and_saves(tmp_path):
    proc = _start_slow_run(tmp_path)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    run_dir = _only_run(tmp_path)
    assert json.loads((run_dir / "summary.json").read_text())["reason"] == "stopped"
    assert (run_dir / "checkpoints" / "scalar.json").is_file()


def test_second_ctrl_c_quits_at_once_without_the_stop(tmp_path):
    proc = _start_slow_run(tmp_path)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    # Quitting at once skips the stop's summary: a record without summary.json is what tells the two apart.
    assert not (_only_run(tmp_path) / "summary.json").exists()


def test_open_without_events_says_so_and_honours_jsonl_file(tmp_path, capsys):
    with RunRecorder(tmp_path, "r", CFG):
        pass
    (tmp_path / "r" / "events.jsonl").unlink()
    assert show_run(tmp_path / "r") == 0
    assert "no events recorded in" in capsys.readouterr().out
    with RunRecorder(tmp_path, "s", CFG) as rec:
        rec(started())
    assert show_run(tmp_path / "s", jsonl=str(tmp_path / "out.jsonl")) == 0
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["RunStarted"]
