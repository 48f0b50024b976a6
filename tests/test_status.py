"""One status: run_status on real tiny runs, and every reader (--list-runs, --open --headless, the runs table, the
follower, the dashboard's opened run) giving the same word for a completed, stopped, live, paused and killed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.text import Text

from core import events as ev
from core.backends import RunControl
from core.cli import main
from core.records import jsonl as jl
from core.records.runindex import read_row
from core.records.runlock import RunLock
from core.records.runs import open_run
from core.records.status import read_tail, run_status
from core.session import run_training

ROOT = Path(__file__).resolve().parents[1]
# A handmade-engine run on the embedded sample that goes on for minutes unless told to stop (epochs of 12 steps).
LONG = ["--headless", "--backend", "scalar", "--input-size", "7", "--hidden", "8", "--batch-size", "4",
        "--train-subset", "48", "--val-subset", "16", "--test-subset", "16", "--epochs", "10000", "--device", "cpu"]


def _cli(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(tmp_path / "cache"))
    return subprocess.Popen([sys.executable, "-m", "core", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)


def _wait_for(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _recorded(run_dir: Path, needle: bytes) -> bool:
    try:
        return needle in (run_dir / "events.jsonl").read_bytes()
    except OSError:
        return False


def readers(run_dir: Path, capsys) -> dict[str, str]:
    """The status word each reader gives for `run_dir` (normalised: "early-stopped" -> "early_stopped")."""
    from tui.compare.table import row_cells
    from tui.controller import RunController
    from tui.follow import FollowedRun, Following

    capsys.readouterr()
    assert main(["--list-runs", "--runs-dir", str(run_dir.parent), "--jsonl", "-"]) == 0
    listed = {row["run_id"]: row["status"] for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert main(["--open", str(run_dir), "--headless"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("status: "), last
    table = row_cells(read_row(run_dir), Text(" "))[2]
    following = Following(RunController())
    following.controller.run_dir = open_run(run_dir).path  # as controller.view sets it when the run is opened
    return {
        "--list-runs": listed[run_dir.name],
        "--open --headless": last.split()[1],
        "runs table": table.plain.replace("-", "_"),
        "follower": FollowedRun(run_dir).poll().status,
        "dashboard --open": following.shown_state("viewing").replace(" ", "_"),
        "run_status": run_status(run_dir).word,
    }


def _agree(run_dir: Path, capsys, word: str) -> None:
    seen = readers(run_dir, capsys)
    assert seen == dict.fromkeys(seen, word), seen


def test_completed_and_stopped_runs_read_the_same_everywhere(tmp_path, tiny_config, tiny_data, capsys):
    dirs: list[Path] = []
    run_training(tiny_config, lambda e: None, RunControl(), runs_dir=tmp_path, data=tiny_data,
                 on_run_dir=dirs.append)
    stopping = RunControl()
    stopping.stop()  # before its first step: the run stops at once, checkpoint and summary written
    run_training(tiny_config, lambda e: None, stopping, runs_dir=tmp_path, data=tiny_data, on_run_dir=dirs.append)
    done, stopped = dirs
    assert json.loads((done / "summary.json").read_text())["reason"] == "completed"
    _agree(done, capsys, "completed")
    assert json.loads((stopped / "summary.json").read_text())["reason"] == "stopped"
    _agree(stopped, capsys, "stopped")


def test_live_paused_and_killed_runs_read_the_same_everywhere(tmp_path, capsys):
    """The contract: the three former readers (list, open, follower) and the runs table now agree."""
    proc = _cli(tmp_path, *LONG, "--runs-dir", str(tmp_path / "runs"))
    runs = tmp_path / "runs"
    try:
        _wait_for(lambda: runs.is_dir() and any(_recorded(d, b'"StepEnded"') for d in runs.iterdir()),
                  "the first step")
        run_dir = next(runs.iterdir())
        _agree(run_dir, capsys, "live")
        assert run_status(run_dir).pid == proc.pid
        assert main(["--pause", str(run_dir)]) == 0
        _wait_for(lambda: _recorded(run_dir, b'"command":"pause"'), "the pause in the record")
        _agree(run_dir, capsys, "paused")
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
        assert not (run_dir / "summary.json").exists()
        _agree(run_dir, capsys, "killed")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def line(event: ev.Event) -> bytes:
    return jl.to_json_bytes(event) + b"\n"


def step(n: int) -> ev.StepEnded:
    return ev.StepEnded(run_id="r", step=n, epoch=1, loss=1.0, accuracy=0.5, samples_per_s=1.0, samples_seen=n,
                        progress=0.5)


STARTED = ev.RunStarted(run_id="r", backend="scalar", device="cpu", data_source="x", config={}, train_size=1,
                        val_size=1, test_size=1)


def folder(tmp_path: Path, *events: ev.Event, lock: bool = True) -> Path:
    run_dir = tmp_path / "r"
    run_dir.mkdir(exist_ok=True)
    (run_dir / "config.json").write_text("{}")
    (run_dir / "events.jsonl").write_bytes(b"".join(line(e) for e in events))
    if lock:
        RunLock(run_dir).acquire().release()
    return run_dir


def test_each_rule_of_the_decision(tmp_path):
    run_dir = folder(tmp_path)
    assert run_status(run_dir).word == "incomplete"  # lock file, no events: died before its first event
    run_dir = folder(tmp_path, STARTED, step(1))
    assert run_status(run_dir).word == "killed"
    with RunLock(run_dir, "r"):
        assert (run_status(run_dir).word, run_status(run_dir).pid) == ("live", os.getpid())
        with open(run_dir / "events.jsonl", "ab") as fh:
            fh.write(line(ev.ControlApplied(run_id="r", step=1, command="pause", source="cli")))
            fh.write(line(ev.SystemStats(run_id="r", cpu_percent=1.0, rss_bytes=1)))  # not deciding
        assert run_status(run_dir).word == "paused"
        with open(run_dir / "events.jsonl", "ab") as fh:
            fh.write(line(ev.ControlApplied(run_id="r", step=1, command="stop", source="cli")))  # not deciding
        assert run_status(run_dir).word == "paused"
        with open(run_dir / "events.jsonl", "ab") as fh:
            fh.write(line(ev.ControlApplied(run_id="r", step=1, command="resume", source="cli")))
        assert run_status(run_dir).word == "live"
        with open(run_dir / "events.jsonl", "ab") as fh:
            fh.write(line(ev.RunFinished(run_id="r", reason="diverged", steps=1, epochs_completed=0, seconds=1.0)))
        assert run_status(run_dir).word == "diverged"  # ended; its summary is being written
    (run_dir / "summary.json").write_text('{"reason": "early_stopped"}')
    assert run_status(run_dir).word == "early_stopped"  # the summary's word stands
    (run_dir / "summary.json").write_text('{"error": "boom"}')
    assert (run_status(run_dir).word, run_status(run_dir).detail) == ("failed", "boom")
    (run_dir / "summary.json").write_text('{"reason": "exploded"}')
    assert run_status(run_dir).word == "incomplete"
    (run_dir / "summary.json").unlink()
    with open(run_dir / "events.jsonl", "ab") as fh:  # a resume: a new RunStarted after the old ending
        fh.write(line(STARTED))
    assert run_status(run_dir).word == "killed"


def test_without_a_lock_file_the_age_of_the_record_decides(tmp_path):
    run_dir = folder(tmp_path, STARTED, step(1), lock=False)
    os.utime(run_dir / "events.jsonl", (1000.0, 1000.0))
    assert run_status(run_dir, now=1059.0).word == "live"
    assert run_status(run_dir, now=1061.0).word == "stale"
    assert run_status(run_dir, now=1030.0, stale_after=20.0).word == "stale"
    (run_dir / "events.jsonl").write_bytes(b"")
    for name in ("config.json", "events.jsonl"):
        os.utime(run_dir / name, (1000.0, 1000.0))
    assert run_status(run_dir, now=1010.0).word == "live"  # just made, its lock not yet taken: starting
    assert run_status(run_dir, now=1100.0).word == "incomplete"


def test_a_pause_long_before_the_end_of_the_record_is_still_found(tmp_path):
    samples = [ev.SystemStats(run_id="r", cpu_percent=1.0, rss_bytes=n) for n in range(3000)]  # > 64 KiB
    run_dir = folder(tmp_path, STARTED, step(1), ev.ControlApplied(run_id="r", step=1, command="pause"), *samples)
    assert (run_dir / "events.jsonl").stat().st_size > 3 * (64 << 10)
    tail, problem = read_tail(run_dir / "events.jsonl")
    assert (tail.events, tail.paused, tail.ending, problem) == (True, True, None, "")
    with RunLock(run_dir, "r"):
        assert run_status(run_dir).word == "paused"


def test_fifos_in_a_run_folder_are_named_never_opened(tmp_path):
    run_dir = folder(tmp_path, STARTED, step(1), lock=False)
    (run_dir / "events.jsonl").unlink()
    for name in ("summary.json", "events.jsonl", "run.lock"):
        os.mkfifo(run_dir / name)
    status = run_status(run_dir)  # would block for ever opening a FIFO without O_NONBLOCK
    assert status.problems == ("summary.json: " + str(run_dir / "summary.json") + " is a FIFO, not a regular file",
                               "events.jsonl: " + str(run_dir / "events.jsonl") + " is a FIFO, not a regular file")
    assert status.word == "live"  # nothing readable; config.json just written, no lock file to ask


@pytest.mark.parametrize("word", ev.STATUSES)
def test_every_status_has_one_colour(word):
    from tui.status_style import STATUS_STYLE, status_style

    assert STATUS_STYLE[word] and status_style(word.replace("_", " ") + " · followed") == STATUS_STYLE[word]


def test_the_vocabulary_is_defined_once():
    assert ev.REASONS == ("completed", "early_stopped", "diverged", "stopped", "failed", "pruned")
    assert ev.STATUSES == (*ev.REASONS, "killed", "paused", "live", "stale", "incomplete")
    assert set(ev.OK_REASONS) == {"completed", "early_stopped", "stopped", "pruned"}


def test_a_folder_deleted_while_followed_says_it_is_gone(tmp_path):
    import shutil

    from core.records.follow import Follower

    run_dir = folder(tmp_path, STARTED, step(1), lock=False)
    follower = Follower(run_dir)
    assert follower.poll() and follower.status() == "live"
    shutil.rmtree(run_dir)
    assert (follower.status(), follower.run_status().detail) == ("incomplete", f"the run folder {run_dir} is gone")
    assert [e for e in follower.follow(interval=0.001)] == []  # ends at once, not after STALE_AFTER
