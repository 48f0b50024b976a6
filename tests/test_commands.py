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
        # The folder, then its events.jsonl, appear before the first step: wait for the line itself.
        try:
            return any(b'"type":"StepEnded"' in (folder / "events.jsonl").read_bytes() for folder in runs.iterdir())
        except OSError:
            return False

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
    assert main(["--list-runs", "--runs-dir", str(tmp_path / "runs"), "--jsonl", "-"]) == 0
    row = json.loads(capsys.readouterr().out)
    # config.json keeps the rate the run started with (the checkpoint holds the rate it had: see test_runbook).
    assert (row["run_id"], row["status"], row["lr"]) == (run_dir.name, "stopped", 0.05)


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


# --- run folders that fight back, pipes that close (issue 20) ------------------------------------------------

from core import events as ev  # noqa: E402
from core.records import jsonl as jl  # noqa: E402
from core.records.commands import follow_run  # noqa: E402
from core.records.runlock import RunLock  # noqa: E402

STARTED = ev.RunStarted(run_id="r", time=1000.0, backend="scalar", device="cpu", data_source="x", config={},
                        train_size=1, val_size=1, test_size=1)


def _record(folder: Path, *events: ev.Event, summary: dict | None = None, lock: bool = True) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"backend": "scalar", "input_size": 7, "hidden": [8]}')
    (folder / "events.jsonl").write_bytes(b"".join(jl.to_json_bytes(e) + b"\n" for e in events))
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps(summary))
    if lock:
        RunLock(folder).acquire().release()
    return folder


def _ended(folder: Path, reason: str) -> Path:
    end = (ev.RunFailed(run_id="r", error="boom") if reason == "failed" else
           ev.RunFinished(run_id="r", reason=reason, steps=1, epochs_completed=1, seconds=1.0))
    summary = {"error": "boom"} if reason == "failed" else {"reason": reason}
    return _record(folder, STARTED, end, summary=summary)


def _closed_stdout(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the CLI with a stdout pipe whose reader is gone before it writes (as `| head` after one line)."""
    read, write = os.pipe()
    os.close(read)
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(tmp_path / "cache"))
    try:
        return subprocess.run([sys.executable, "-m", "core", *args], stdout=write, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=tmp_path, timeout=120)
    finally:
        os.close(write)


def test_a_closed_pipe_ends_output_quietly_with_status_0(tmp_path):
    run_dir = _ended(tmp_path / "runs" / "r", "completed")
    for args in (["--list-runs", "--runs-dir", str(tmp_path / "runs")],
                 ["--list-runs", "--runs-dir", str(tmp_path / "runs"), "--jsonl", "-"],
                 ["--open", str(run_dir), "--headless", "--follow", "--jsonl", "-"],
                 ["--open", str(run_dir), "--headless", "--follow"],
                 ["--open", str(run_dir), "--export-csv", "-"]):
        done = _closed_stdout(tmp_path, *args)
        assert done.returncode == 0, (args, done.stderr)
        # Quiet: no traceback, no complaint about the pipe (with --jsonl - the log lines go to stderr, as always).
        assert not any(word in done.stderr for word in ("Traceback", "Broken pipe", "BrokenPipe", "cannot write"))
        assert done.stderr == "" or args[-1] == "-" and "--jsonl" in args, (args, done.stderr)


def test_fifos_in_run_folders_never_block_the_list_or_a_stop(tmp_path):
    runs = tmp_path / "runs"
    for name in ("run.lock", "summary.json", "events.jsonl"):
        folder = _record(runs / name.split(".")[0], STARTED, lock=False)
        (folder / name).unlink(missing_ok=True)
        os.mkfifo(folder / name)
    proc = _cli(tmp_path, "--list-runs", "--runs-dir", str(runs), "--jsonl", "-")
    out, err = proc.communicate(timeout=120)  # before the fix: blocked for ever opening the first FIFO
    assert proc.returncode == 0, err
    statuses = {row["run_id"]: row["status"] for row in map(json.loads, out.splitlines())}
    assert set(statuses) == {"run", "summary", "events"}
    assert f"{runs / 'summary' / 'summary.json'} is a FIFO, not a regular file" in err
    assert f"{runs / 'events' / 'events.jsonl'} is a FIFO, not a regular file" in err
    proc = _cli(tmp_path, "--stop", str(runs / "run"))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "the run is not running" in err


def test_a_symlink_loop_in_the_runs_folder_is_skipped(tmp_path, capsys):
    runs = tmp_path / "runs"
    _ended(runs / "good", "completed")
    (runs / "a").symlink_to(runs / "b")
    (runs / "b").symlink_to(runs / "a")
    (runs / "self").symlink_to(runs / "self")
    assert main(["--list-runs", "--runs-dir", str(runs), "--jsonl", "-"]) == 0
    assert [json.loads(line)["run_id"] for line in capsys.readouterr().out.splitlines()] == ["good"]


def test_a_runs_folder_that_cannot_be_read_says_why_and_exits_2(tmp_path, capsys, monkeypatch):
    assert main(["--list-runs", "--runs-dir", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == f"mnist-dash: --runs-dir {tmp_path / 'nowhere'}: no such folder\n"
    (tmp_path / "file").write_text("")
    assert main(["--list-runs", "--runs-dir", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err == f"mnist-dash: --runs-dir {tmp_path / 'file'} is not a folder\n"

    def denied(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "scandir", denied)  # root reads a 000 folder anyway: the refusal, as a user gets it
    assert main(["--list-runs", "--runs-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"mnist-dash: --runs-dir {tmp_path}: cannot read it (Permission denied)\n"
    monkeypatch.undo()
    (tmp_path / "empty").mkdir()
    assert main(["--list-runs", "--runs-dir", str(tmp_path / "empty")]) == 0
    assert capsys.readouterr().err == f"no runs in {tmp_path / 'empty'}\n"


def test_follow_jsonl_writes_the_events_to_stdout_or_a_file(tmp_path, capsys):
    run_dir = _ended(tmp_path / "r", "completed")
    record = (run_dir / "events.jsonl").read_text().splitlines()
    assert follow_run(str(run_dir), jsonl="-") == 0
    out = capsys.readouterr()
    assert [json.loads(line) for line in out.out.splitlines()] == [json.loads(line) for line in record]
    assert "finished (completed)" in out.err  # the log lines go to stderr beside the events
    assert follow_run(str(run_dir), jsonl=str(tmp_path / "events.jsonl")) == 0
    assert (tmp_path / "events.jsonl").read_text().splitlines() == record
    assert "finished (completed)" in capsys.readouterr().out


@pytest.mark.parametrize(("reason", "status"), [("completed", 0), ("stopped", 0), ("early_stopped", 0),
                                                ("diverged", 1), ("failed", 1), ("killed", 1)])
def test_follow_exits_by_how_the_run_ended_and_says_it_once(tmp_path, capsys, reason, status):
    if reason == "killed":
        run_dir = _record(tmp_path / "r", STARTED)
    else:
        run_dir = _ended(tmp_path / "r", reason)
    assert follow_run(str(run_dir), resume_wait=0.0) == status
    out = capsys.readouterr().out
    said = [line for line in out.splitlines() if line.startswith(f"{run_dir}: ")]
    # An ending the record states was printed from its RunFinished/RunFailed; only a death is added.
    assert said == ([f"{run_dir}: killed: the process died mid-run: its lock is free and it wrote no summary"]
                    if reason == "killed" else [])


def test_follow_left_with_ctrl_c_exits_130(tmp_path, monkeypatch):
    from core.records.follow import Follower

    def interrupted(self, **kw):
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(Follower, "follow", interrupted)
    assert follow_run(str(_record(tmp_path / "r", STARTED))) == 130


def test_follow_says_when_the_run_was_resumed(tmp_path, capsys):
    resumed = ev.RunStarted(run_id="r", time=2000.0, backend="scalar", device="cpu", data_source="x", config={},
                            train_size=1, val_size=1, test_size=1, resumed_from_step=1)
    finished = ev.RunFinished(run_id="r", reason="completed", steps=2, epochs_completed=1, seconds=1.0)
    run_dir = _record(tmp_path / "r", STARTED, resumed, finished, summary={"reason": "completed"})
    assert follow_run(str(run_dir)) == 0
    assert f"{run_dir}: resumed into the same folder (live again): following on" in capsys.readouterr().out


def test_open_headless_ends_with_the_status_line(tmp_path, capsys):
    run_dir = _record(tmp_path / "r", STARTED)
    assert main(["--open", str(run_dir), "--headless"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "status: killed (the process died mid-run: its lock is free and it wrote no summary)"
