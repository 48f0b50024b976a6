"""Run-folder commands end to end: a headless run in one process, followed, listed and steered from others."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli import main

ROOT = Path(__file__).resolve().parents[1]
SLOW = ["--headless", "--backend", "scalar", "--epochs", "20", "--train-subset", "2000", "--val-subset", "100",
        "--test-subset", "100", "--input-size", "28", "--hidden", "128", "--batch-size", "16"]


def _cli(tmp_path: Path, *args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(tmp_path / "cache"))
    return subprocess.Popen([sys.executable, "-m", "core", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path, **kw)


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def live_run(tmp_path, mnist_dir):
    """A headless run training in another process; yields its run folder once it has stepped."""
    proc = _cli(tmp_path, *SLOW, "--data-dir", str(mnist_dir), "--runs-dir", str(tmp_path / "runs"))
    runs = tmp_path / "runs"

    def stepped() -> bool:
        folders = list(runs.iterdir()) if runs.is_dir() else []
        return bool(folders) and b'"type":"StepEnded"' in (folders[0] / "events.jsonl").read_bytes()

    try:
        _wait_for(stepped)
        yield proc, next(runs.iterdir())
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_follow_list_steer_and_stop_a_headless_run(tmp_path, live_run, capsys):
    proc, run_dir = live_run
    follower = _cli(tmp_path, "--open", str(run_dir), "--headless", "--follow")
    assert main(["--list-runs", "--runs-dir", str(tmp_path / "runs")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["run", "status"] and table[1].split()[:2] == [run_dir.name, "live"]
    assert main(["--set-lr", str(run_dir), "0.01"]) == 0
    assert main(["--stop", str(run_dir)]) == 0
    assert "asked" in capsys.readouterr().out
    proc.wait(60)
    assert proc.returncode == 0  # a stop that no signal asked for is not a failure
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reason"] == "stopped" and summary["checkpoint"] == "checkpoints/scalar.json"
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert "learning rate 0.05 -> 0.01" in out and "stop at step" in out and "finished (stopped)" in out
    assert json.loads((run_dir / "config.json").read_text())["lr"] == 0.01
    assert main(["--list-runs", "--runs-dir", str(tmp_path / "runs"), "--jsonl", "-"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["run_id"], row["status"], row["lr"]) == (run_dir.name, "stopped", 0.01)


def test_steering_a_run_that_is_not_running_is_refused(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text("{}")
    assert main(["--pause", str(tmp_path / "r")]) == 2
    assert "the run is not running" in capsys.readouterr().err
    assert main(["--set-lr", str(tmp_path / "r"), "nan"]) == 2
    assert "--set-lr: learning rate must be a finite number" in capsys.readouterr().err
    assert main(["--stop", str(tmp_path / "nowhere")]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["--follow"]) == 2
    assert "--follow needs --open RUN_DIR" in capsys.readouterr().err


def test_export_csv_of_an_opened_run(tmp_path, tiny_config, tiny_data, capsys):
    from core.backends import RunControl
    from core.events import StepEnded
    from core.records.jsonl import read_jsonl
    from core.session import run_training

    dirs = []
    run_training(tiny_config, lambda e: None, RunControl(), runs_dir=tmp_path, data=tiny_data, on_run_dir=dirs.append)
    assert main(["--open", str(dirs[0]), "--export-csv", str(tmp_path / "curves.csv")]) == 0
    rows = (tmp_path / "curves.csv").read_text().splitlines()
    steps = [e for e in read_jsonl(dirs[0] / "events.jsonl") if isinstance(e, StepEnded)]
    loss_rows = [r.split(",") for r in rows[1:] if ",train_loss," in r]
    assert [float(r[-2]) for r in loss_rows] == [e.loss for e in steps]  # raw values, exactly
    assert f"{len(rows) - 1:,} rows written" in capsys.readouterr().err
    assert main(["--export-csv", "x.csv"]) == 2
    assert "--export-csv needs --open RUN_DIR" in capsys.readouterr().err
