"""Sweeps for real: Optuna, worker processes, run folders, a shared SQLite study, a killed worker retried once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli import main
from core.records.files import SUMMARY_FILE
from core.sweeps.study import load, open_storage
from core.sweeps.view import sweep_of, trial_rows

ROOT = Path(__file__).resolve().parents[1]
# 7x7 digits, 16 hidden units, 200 training digits: lr 0.3-0.5 reaches ~50% in one epoch, 1e-6 stays at ~6%.
TINY = ["--input-size", "7", "--hidden", "16", "--batch-size", "8", "--epochs", "2", "--train-subset", "200",
        "--val-subset", "50", "--test-subset", "16"]
WAIT_S = 240  # generous: the suite runs these beside everything else on two cores


def sweep(tmp_path: Path, *args: str, runs: str = "runs") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "core", "--runs-dir", runs, *TINY, *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=WAIT_S)
    return process.returncode, out, err


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / SUMMARY_FILE).read_text())


def study_of(folder: Path, name: str):
    about = json.loads((folder / "sweep.json").read_text())
    return load(open_storage(about["storage"]), name)


@pytest.mark.slow
def test_six_trials_two_workers_agree_with_their_runs_and_the_hopeless_rate_is_pruned(tmp_path, capsys):
    # seed 7: trial 4 draws lr 1e-6 (TPE's start-up draws are seeded per trial number) after trials 0-3 drew
    # 0.3/0.5, and the median pruner prunes from 2 finished trials on: trial 4 is pruned at epoch 1.
    code, out, err = finish(sweep(tmp_path, "--sweep", "six", "--param", "lr=[0.3,0.5,0.000001]", "--trials", "6",
                                  "--workers", "2", "--seed", "7", "--jsonl", "-"))
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["type"] for r in records] == ["SweepTrial"] * 6 + ["SweepSummary"]
    study = study_of(tmp_path / "runs" / "sweeps" / "six", "six")
    rows = trial_rows(study)
    assert [r.number for r in rows] == [0, 1, 2, 3, 4, 5]
    runs = sorted(p for p in (tmp_path / "runs").iterdir() if p.name != "sweeps")
    assert len(runs) == 6 and {str(tmp_path / r.run_dir) for r in rows} == {str(p) for p in runs}
    for row in rows:
        run = tmp_path / row.run_dir
        assert sweep_of(run) == ("six", row.number)  # the record names its sweep and trial
        recorded = summary(run)
        assert row.value == recorded["best_val_accuracy"]  # the study's objective is the run's best, exactly
        assert recorded["reason"] == ("pruned" if row.state == "pruned" else "completed")
        assert json.loads(run.joinpath("config.json").read_text())["lr"] == row.params["lr"]
    hopeless = rows[4]
    assert hopeless.params["lr"] == 1e-6 and hopeless.state == "pruned" and hopeless.pruned_at == 1
    assert summary(tmp_path / hopeless.run_dir)["epochs_completed"] == 1
    best = records[-1]
    assert best["best_value"] == max(r.value for r in rows if r.state == "complete")
    assert best["command"].startswith("mnist-dash --headless --hidden 16 --lr ")
    assert "reproduce: mnist-dash --headless" in err and "best: trial" in err
    # the finished sweep, shown again: --open on its folder, --open-sweep NAME (headless: the table)
    folder = tmp_path / "runs" / "sweeps" / "six"
    assert main(["--open", str(folder), "--headless"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].startswith("sweep six: 6 trials (") and shown[1].split()[:3] == ["trial", "state", "lr"]
    assert len(shown) == 1 + 1 + 6 + 2 and shown[-1] == "reproduce: " + best["command"]
    assert main(["--open-sweep", "six", "--runs-dir", str(tmp_path / "runs"), "--jsonl", "-"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == best
    assert main(["--open-sweep", "nothing", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "not a sweep folder" in capsys.readouterr().err


@pytest.mark.slow
def test_two_processes_with_one_sqlite_storage_share_the_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    args = ["--sweep", "shared", "--param", "lr=log(0.1,0.5)", "--trials", "3", "--workers", "1", "--epochs", "1",
            "--storage", url]
    first = sweep(tmp_path, *args, runs="runs-a")  # two "machines": their own runs folders, one database
    second = sweep(tmp_path, *args, runs="runs-b")
    (code_a, out_a, err_a), (code_b, out_b, err_b) = finish(first), finish(second)
    assert (code_a, code_b) == (0, 0), err_a + err_b
    said = sorted(line.split(";")[0] for line in out_a.splitlines() + out_b.splitlines()
                  if line.startswith("sweep shared: ") and ";" in line)
    assert said == ["sweep shared: created", "sweep shared: joined"]
    rows = trial_rows(load(open_storage(url), "shared"))
    assert len(rows) == 3 and all(r.state == "complete" for r in rows)  # one epoch: nothing to prune
    marks = [sweep_of(p) for folder in ("runs-a", "runs-b") for p in (tmp_path / folder).iterdir()
             if p.name != "sweeps"]
    assert sorted(number for _, number in marks) == [0, 1, 2]  # every trial ran once, on one machine or the other


def test_a_killed_worker_fails_its_trial_which_is_retried_once(tmp_path):
    process = sweep(tmp_path, "--sweep", "dies", "--param", "lr=[0.3]", "--trials", "1", "--epochs", "1",
                    "--prune", "none")
    pid = None
    for line in process.stdout:
        if line.startswith("trial 0: started"):
            pid = int(line.split("pid ")[1].split(",")[0])
            os.kill(pid, signal.SIGKILL)
            break
    assert pid is not None
    code, out, err = finish(process)
    assert code == 0, err
    assert "trial 0: its process died (status -9); failed, retried once" in out
    rows = trial_rows(study_of(tmp_path / "runs" / "sweeps" / "dies", "dies"))
    assert [(r.number, r.state, r.retry_of) for r in rows] == [(0, "failed", None), (1, "complete", 0)]


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="POSIX signals")
def test_sigterm_stops_every_worker_and_leaves_whole_records(tmp_path):
    process = sweep(tmp_path, "--sweep", "stop", "--param", "lr=[0.3,0.5]", "--trials", "4", "--workers", "2",
                    "--epochs", "50", "--prune", "none")
    started = 0
    for line in process.stdout:
        started += line.startswith("trial ") and ": started" in line
        if started == 2:
            break
    deadline = time.monotonic() + WAIT_S  # wait for both run folders to exist, then stop the sweep
    runs = tmp_path / "runs"
    while len([p for p in runs.iterdir() if p.name != "sweeps"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    code, out, err = finish(process)
    assert code == 128 + signal.SIGTERM
    rows = trial_rows(study_of(runs / "sweeps" / "stop", "stop"))
    assert [r.state for r in rows] == ["failed", "failed", "waiting", "waiting"]  # no new trial after the signal
    for row in rows[:2]:
        assert row.error == "stopped"
        assert summary(tmp_path / row.run_dir)["reason"] == "stopped"


@pytest.mark.slow
def test_a_trial_whose_machine_went_silent_is_failed_by_the_heartbeat_and_retried(tmp_path, monkeypatch):
    from core.config import TrainConfig
    from core.sweeps.space import parse_param
    from core.sweeps.study import HEARTBEAT_ENV, SweepSpec, claim, create_or_join

    monkeypatch.setenv(HEARTBEAT_ENV, "1")  # Optuna fails a trial silent for 2 heartbeats: 2 s here
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    storage = open_storage(url)
    spec = SweepSpec(name="gone", spaces=(parse_param("lr=[0.3]"),), base=TrainConfig(epochs=1), trials=1)
    create_or_join(spec, storage)
    taken = claim(storage, "gone")  # another machine took trial 0, beat once, and died
    storage.record_heartbeat(taken)
    code, out, err = finish(sweep(tmp_path, "--sweep", "gone", "--storage", url, "--epochs", "1", "--prune", "none"))
    assert code == 0, err
    rows = trial_rows(load(open_storage(url), "gone"))
    assert [(r.number, r.state, r.retry_of) for r in rows] == [(0, "failed", None), (1, "complete", 0)]
    assert sweep_of(tmp_path / rows[1].run_dir) == ("gone", 1)
