"""Following a run another writer is recording: a hand-written record (exact), and a real run in a thread."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest
from waiting import wait_for

from core.backends import RunControl
from core.config import TrainConfig
from core.events import ControlApplied, LearningRateChanged, RunFinished, RunStarted, StepEnded, SystemStats
from core.records.jsonl import read_jsonl
from core.records.runlock import RunLock
from core.records.runs import RunRecorder
from tui.app import make_app
from tui.controller import RunController
from tui.follow import FollowedRun, Following, is_going

SIZE = (160, 48)
CONFIG = TrainConfig(input_size=7, hidden=(8,), batch_size=4, epochs=2, train_subset=48, val_subset=16,
                     test_subset=16, lr=0.1, device="cpu")


@pytest.fixture(autouse=True)
def _no_torch_probe(monkeypatch):
    monkeypatch.setattr("tui.widgets.backend_switch.describe", lambda backend, device: "cpu")



def started(run_id: str, run_dir: Path) -> RunStarted:
    return RunStarted(run_id=run_id, backend="scalar", device="cpu", data_source="test", config=CONFIG.to_dict(),
                      train_size=48, val_size=16, test_size=16, total_steps=24, parameter_count=490,
                      run_dir=str(run_dir))


def step(run_id: str, n: int) -> StepEnded:
    return StepEnded(run_id=run_id, step=n, epoch=1, loss=2.0 - 0.05 * n, accuracy=0.1, samples_per_s=10.0,
                     samples_seen=4 * n, progress=n / 24, total_steps=24)


class Written:
    """A run folder written by hand while holding its lock, as a headless process would."""

    def __init__(self, runs_dir: Path, run_id: str = "scalar-follow") -> None:
        self.run_id = run_id
        self.recorder = RunRecorder(runs_dir, run_id, CONFIG)
        self.path = self.recorder.path
        self.lock = RunLock(self.path, run_id).acquire()

    def write(self, *events) -> None:
        for event in events:
            self.recorder.record(event)
        self.recorder.flush()

    def die(self) -> None:
        """The process is gone: the kernel drops its lock, no summary is written."""
        self.recorder.close()
        self.lock.release()

    def resume(self, step_now: int) -> None:
        """`--resume` into the same folder: the lock taken again, the record reopened, a second RunStarted."""
        self.lock = RunLock(self.path, self.run_id).acquire()
        self.recorder = RunRecorder.reopen(self.path, CONFIG)
        self.write(dataclasses.replace(started(self.run_id, self.path), resumed_from_step=step_now))


def test_a_record_without_a_live_writer_is_not_followed(tmp_path):
    w = Written(tmp_path)
    w.write(started(w.run_id, w.path), step(w.run_id, 1))
    assert is_going(w.path)
    w.die()
    assert not is_going(w.path)  # killed: nothing to follow
    assert Following(RunController()).begin(w.path) is None


def test_following_folds_batches_and_says_the_status(tmp_path):
    w = Written(tmp_path)
    w.write(started(w.run_id, w.path), step(w.run_id, 1), step(w.run_id, 2))
    controller = RunController()
    following = Following(controller)
    run = following.begin(w.path)
    assert run is not None and following.going
    following.take(run.poll())  # the first batch: the whole record so far
    assert controller.history.current.step == 2
    w.write(step(w.run_id, 3), SystemStats(run_id=w.run_id, cpu_percent=42.0, rss_bytes=100 << 20),
            ControlApplied(run_id=w.run_id, step=3, command="pause", source="folder"))
    notes = following.take(run.poll())
    assert controller.history.current.step == 3
    assert [s.cpu_percent for s in controller.marks.system] == [42.0]
    assert run.status == "paused" and following.shown_state("viewing") == "paused · followed"
    assert any("pause at step 3 (from the folder)" in n.text for n in notes)
    w.write(RunFinished(run_id=w.run_id, reason="stopped", steps=3, epochs_completed=0, seconds=1.0))
    notes = following.take(run.poll())
    assert run.ended and following.shown_state("viewing") == "stopped"
    assert any(n.title == "Followed run" and "ended: stopped" in n.text for n in notes)
    w.die()


def test_a_killed_writer_is_called_killed(tmp_path):
    w = Written(tmp_path)
    w.write(started(w.run_id, w.path), step(w.run_id, 1))
    run = FollowedRun(w.path)
    assert run.poll().status == "live"
    w.die()
    assert run.poll().status == "killed"


def test_a_killed_run_resumed_into_its_folder_is_followed_on(tmp_path):
    w = Written(tmp_path)
    w.write(started(w.run_id, w.path), step(w.run_id, 1))
    controller = RunController()
    following = Following(controller)
    run = following.begin(w.path)
    posted: list = []
    worker = threading.Thread(target=run.run, args=(posted.append,))
    worker.start()
    try:
        _wait(lambda: posted and posted[-1].status == "live", "the first batch")
        w.die()
        _wait(lambda: posted[-1].status == "killed", "killed")
        w.resume(1)
        w.write(step(w.run_id, 2))
        _wait(lambda: posted[-1].status == "live" and any(e for p in posted for e in p.events
                                                          if getattr(e, "step", 0) == 2), "the resume")
        assert worker.is_alive()  # the worker goes on after an ending; only `stopped` ends it
    finally:
        run.stopped.set()
        worker.join(30)
    notes = [n for p in posted for n in following.take(p)]
    texts = [n.text for n in notes]
    assert f"the followed run {w.path.name} ended: killed" in texts
    assert f"the followed run {w.path.name} was resumed into the same folder: live again" in texts
    assert controller.history.current.step == 2 and following.shown_state("viewing") == "live · followed"
    w.die()


def _wait(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_rewritten_record_is_reloaded(tmp_path):
    w = Written(tmp_path)
    w.write(started(w.run_id, w.path), *[step(w.run_id, n) for n in range(1, 6)])
    controller = RunController()
    following = Following(controller)
    run = following.begin(w.path)
    following.take(run.poll())
    assert controller.history.current.step == 5
    # A resume rewrites events.jsonl up to its checkpoint (a new file), then appends.
    events = w.path / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)[:3]  # RunStarted and steps 1, 2
    tmp = events.with_suffix(".new")
    tmp.write_bytes(b"".join(lines))
    tmp.replace(events)
    notes = following.take(run.poll())
    assert controller.history.current.step == 2 and controller.history.current.train_loss.count == 2
    assert any("reloaded" in n.text for n in notes)
    w.die()


async def test_dashboard_follows_a_hand_written_run_live(tmp_path):
    w = Written(tmp_path / "runs")
    w.write(started(w.run_id, w.path), step(w.run_id, 1))
    app = make_app(runs_dir=tmp_path / "runs", open_run=w.path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.history.current is not None and app.history.current.step == 1)
        assert app.following.going and not app.query_one("#stop-button").disabled
        w.write(step(w.run_id, 2), LearningRateChanged(run_id=w.run_id, step=2, lr=0.01, previous=0.1,
                                                       source="folder"))
        await wait_for(pilot, lambda: app.history.current.step == 2)
        assert app.controller.marks.lr == 0.01
        assert any("0.1 -> 0.01 at step 2" in text for text, _, _ in app.log_pane.entries)
        w.die()
        await wait_for(pilot, lambda: app.following.run.status == "killed")
        assert app.query_one("#stop-button").disabled
        await pilot.press("x")  # nothing to steer now: a warning, never a traceback
        await pilot.pause()
        w.resume(2)  # the follow worker did not end at "killed": the resume is picked up
        w.write(step(w.run_id, 3))
        await wait_for(pilot, lambda: app.following.run.status == "live" and app.history.current.step == 3)
        assert any("was resumed into the same folder" in text for text, _, _ in app.log_pane.entries)
        assert not app.query_one("#stop-button").disabled
        w.die()


# A real session (record, lock, control inbox, system sampler) around the scripted trainer: its steps sleep, so the
# dashboard in this same process is not starved by an engine holding the interpreter (the handmade engine here
# made this test the slowest of the TUI's); the run book obeys the follower's commands as every backend's does.
SLOW = CONFIG.replace(epochs=50, lr=0.05)


async def test_follow_steer_and_stop_a_real_run(tmp_path, tiny_data, scripted_rates):
    from scripted_trainer import ScriptedTrainer

    runs = tmp_path / "runs"
    control = RunControl()
    run_dirs: list[Path] = []
    from core.session import run_training

    trainer = ScriptedTrainer(steps_per_epoch=5000, delay=0.02)  # for minutes if not stopped
    thread = threading.Thread(target=run_training, args=(SLOW, lambda e: None, control), daemon=True,
                              kwargs=dict(data=tiny_data, runs_dir=runs, on_run_dir=run_dirs.append,
                                          trainer=trainer))
    thread.start()
    try:
        for _ in range(200):
            if run_dirs and (run_dirs[0] / "events.jsonl").is_file():
                break
            threading.Event().wait(0.05)
        app = make_app(runs_dir=runs, open_run=run_dirs[0])
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.following.going and app.history.current is not None
                           and app.history.current.step > 0)
            first = app.history.current.step
            await wait_for(pilot, lambda: app.history.current.step > first)  # the step counter advances
            await pilot.press("L")
            await pilot.pause()
            app.screen.query_one("#lr-input").value = "0.0125"
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.controller.marks.lr == 0.0125)
            await wait_for(pilot, lambda: len(app.controller.marks.system) > 0)  # a SystemStats every 2 s
            await wait_for(pilot, lambda: "cpu" in str(app.system_pane.content))  # at the pane's next redraw
            assert "%" in str(app.system_pane.content)
            await pilot.press("x")
            await wait_for(pilot, lambda: app.following.run.status == "stopped")
            assert app.following.shown_state(app.state) == "stopped"
        thread.join(30)
    finally:
        control.stop()
        thread.join(30)
    events = read_jsonl(run_dirs[0] / "events.jsonl")
    changes = [e for e in events if isinstance(e, LearningRateChanged)]
    assert [(c.lr, c.previous, c.source) for c in changes] == [(0.0125, 0.05, "follower")]
    assert [(c.command, c.source) for c in events if isinstance(c, ControlApplied)] == [("stop", "follower")]
    assert isinstance(events[-1], RunFinished) and events[-1].reason == "stopped"


async def test_an_opened_killed_run_says_killed_not_viewing(tmp_path):
    from textual.widgets import Static

    w = Written(tmp_path / "runs")
    w.write(started(w.run_id, w.path), step(w.run_id, 1))
    w.die()
    app = make_app(runs_dir=tmp_path / "runs", open_run=w.path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.state == "viewing" and app.history.current is not None)
        lines = app.screen.query_one("#status-lines", Static)
        await wait_for(pilot, lambda: "● killed" in str(lines.render()))
        assert app.following.run is None and "viewing" not in str(lines.render())
