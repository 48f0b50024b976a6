"""Following a growing record (a real writer thread, partial lines); digesting long ones is test_digest.py."""

from __future__ import annotations

import os
import threading
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import events as ev
from core.records import jsonl as jl
from core.records.follow import Follower, summary_reason
from core.records.runlock import RunLock


def step(n: int, loss: float = 0.5) -> ev.StepEnded:
    return ev.StepEnded(run_id="r", time=1000.0 + n, step=n, epoch=1, loss=loss, accuracy=0.5, samples_per_s=10.0,
                        samples_seen=n * 8, progress=n / 100)


def line(event: ev.Event) -> bytes:
    return jl.to_json_bytes(event) + b"\n"


def test_partial_lines_are_held_until_complete(tmp_path):
    path = tmp_path / "events.jsonl"
    follower = Follower(tmp_path)
    assert follower.poll() == [] and follower.status() == "incomplete"  # nothing recorded, nothing made
    first, second = line(step(1)), line(step(2))
    path.write_bytes(first + second[:10])
    assert follower.poll() == [step(1)]
    assert follower.poll() == []
    with open(path, "ab") as fh:
        fh.write(second[10:-1])
    assert follower.poll() == []  # still no newline
    with open(path, "ab") as fh:
        fh.write(b"\n")
    assert follower.poll() == [step(2)]
    assert follower.last_step == 2


def test_a_writer_thread_flushing_mid_line_loses_and_duplicates_nothing(tmp_path):
    path = tmp_path / "events.jsonl"
    sent = [step(n, loss=n / 7) for n in range(1, 301)]
    blob = b"".join(line(e) for e in sent)

    def write() -> None:
        with open(path, "ab", buffering=0) as fh:
            for i in range(0, len(blob), 37):  # 37-byte pieces: nearly every flush ends mid-line
                fh.write(blob[i:i + 37])
                if i % 370 == 0:
                    time.sleep(0.001)

    path.touch()
    follower = Follower(tmp_path)
    writer = threading.Thread(target=write)
    writer.start()
    got: list[ev.Event] = []
    while writer.is_alive():
        got += follower.poll()
    writer.join()
    got += follower.poll()
    assert got == sent
    assert follower.skipped == 0


def test_a_replaced_or_truncated_file_is_read_again_from_the_top(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(line(step(1)) + line(step(2)))
    follower = Follower(tmp_path)
    assert len(follower.poll()) == 2 and not follower.reset
    tmp = tmp_path / "new.jsonl"
    tmp.write_bytes(line(step(5)))
    os.replace(tmp, path)  # a new inode
    assert follower.poll() == [step(5)] and follower.reset
    assert follower.poll() == [] and not follower.reset
    with open(path, "r+b") as fh:  # the same inode, shorter
        fh.truncate(0)
    with open(path, "ab") as fh:
        fh.write(line(step(1)))
    assert follower.poll() == [step(1)] and follower.reset and follower.resets == 2


def test_status_follows_the_run_from_live_to_its_end(tmp_path):
    (tmp_path / "events.jsonl").write_bytes(line(step(1)))
    follower = Follower(tmp_path)
    with RunLock(tmp_path, "r"):
        follower.poll()
        assert follower.status() == "live"
        with open(tmp_path / "events.jsonl", "ab") as fh:
            fh.write(line(ev.ControlApplied(run_id="r", step=1, command="pause", source="folder")))
        follower.poll()
        assert follower.status() == "paused"
    assert follower.status() == "killed"  # the lock is free and there is no summary
    with open(tmp_path / "events.jsonl", "ab") as fh:  # died after its RunFinished, before its summary
        fh.write(line(ev.RunFinished(run_id="r", reason="early_stopped", steps=1, epochs_completed=1, seconds=1.0)))
    follower.poll()
    assert follower.status() == "early_stopped"
    (tmp_path / "summary.json").write_text('{"reason": "stopped"}')
    assert follower.status() == "stopped"  # the summary's word stands
    (tmp_path / "summary.json").unlink()  # a resume removes it before it writes
    with open(tmp_path / "events.jsonl", "ab") as fh:  # resumed into the same folder: live again
        fh.write(line(ev.RunStarted(run_id="r", backend="scalar", device="cpu", data_source="x", config={},
                                    train_size=1, val_size=1, test_size=1, resumed_from_step=1)))
    follower.poll()
    with RunLock(tmp_path, "r"):
        assert follower.status() == "live"
    with open(tmp_path / "events.jsonl", "ab") as fh:
        fh.write(line(ev.RunFailed(run_id="r", error="boom")))
    follower.poll()
    assert follower.status() == "failed"


def test_without_a_lock_a_quiet_record_is_called_stale(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(line(step(1)))
    os.utime(path, (1000.0, 1000.0))
    follower = Follower(tmp_path, stale_after=30)
    follower.poll()
    assert follower.status(now=1020.0) == "live"
    assert follower.status(now=1042.0) == "stale"
    assert follower.run_status(now=1042.0).detail == "no events for 42 s and no lock to ask: the process may be gone"


def test_summary_reason_reads_failures_and_ignores_junk(tmp_path):
    assert summary_reason(tmp_path) is None
    (tmp_path / "summary.json").write_text('{"reason": "diverged"}')
    assert summary_reason(tmp_path) == "diverged"
    (tmp_path / "summary.json").write_text('{"error": "boom"}')
    assert summary_reason(tmp_path) == "failed"
    (tmp_path / "summary.json").write_bytes(b"\xff[[")
    assert summary_reason(tmp_path) is None


def test_follow_yields_until_the_run_ends(tmp_path):
    path = tmp_path / "events.jsonl"
    path.touch()
    sent = [step(n) for n in range(1, 51)]
    finished = ev.RunFinished(run_id="r", reason="completed", steps=50, epochs_completed=1, seconds=1.0)
    lock = RunLock(tmp_path, "r").acquire()

    def run() -> None:
        with open(path, "ab", buffering=0) as fh:
            for e in sent:
                fh.write(line(e))
            fh.write(line(finished))
        lock.release()

    writer = threading.Thread(target=run)
    writer.start()
    got = list(Follower(tmp_path).follow(interval=0.001))
    writer.join()
    assert got == [*sent, finished]


def test_follow_of_a_killed_run_ends(tmp_path):
    (tmp_path / "events.jsonl").write_bytes(line(step(1)))
    RunLock(tmp_path).acquire().release()
    follower = Follower(tmp_path)
    assert list(follower.follow(interval=0.001)) == [step(1)]
    assert follower.status() == "killed"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12))
def test_any_flush_boundaries_give_the_same_events(tmp_path, cuts):
    sent = [step(n, loss=n / 3) for n in range(1, 11)]
    blob = b"".join(line(e) for e in sent)
    path = tmp_path / f"{len(cuts)}-{sum(cuts)}" / "events.jsonl"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"")
    follower, got, start = Follower(path.parent), [], 0
    for cut in sorted({min(c, len(blob)) for c in cuts} | {len(blob)}):
        with open(path, "ab") as fh:
            fh.write(blob[start:cut])
        start = cut
        got += follower.poll()
    assert got == sent


def test_following_a_real_recorder_through_a_resume(tmp_path):
    from core.config import TrainConfig
    from core.records.runs import RunRecorder

    config = TrainConfig()
    follower = Follower(tmp_path / "run-1")
    with RunRecorder(tmp_path, "run-1", config, flush_interval=0.0) as recorder:
        recorder(step(1))
        recorder(step(2))
        recorder.flush()
        assert follower.poll() == [step(1), step(2)]
    with RunRecorder.reopen(tmp_path / "run-1", config, flush_interval=0.0) as recorder:
        recorder(step(3))
        recorder.flush()
        assert follower.poll() == [step(3)] and not follower.reset


STARTED = ev.RunStarted(run_id="r", backend="scalar", device="cpu", data_source="x", config={}, train_size=1,
                        val_size=1, test_size=1)


class ResumeOnWait(threading.Event):
    """A `stop` for follow(): the first time the follower waits on a killed run, the run is resumed (no timing)."""

    def __init__(self, run_dir) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.resumed = False

    def wait(self, timeout: float | None = None) -> bool:
        from core.records.status import run_status

        if not self.resumed and run_status(self.run_dir).word == "killed":
            self.resumed = True
            with RunLock(self.run_dir, "r"), open(self.run_dir / "events.jsonl", "ab") as fh:
                fh.write(line(STARTED) + line(step(2)))
                fh.write(line(ev.RunFinished(run_id="r", reason="completed", steps=2, epochs_completed=1,
                                             seconds=1.0)))
            return False
        return super().wait(0.001)


def test_follow_waits_for_a_resume_of_a_killed_run_and_follows_on(tmp_path):
    (tmp_path / "events.jsonl").write_bytes(line(STARTED) + line(step(1)))
    RunLock(tmp_path).acquire().release()  # held once, then the process died: killed
    stop = ResumeOnWait(tmp_path)
    got = list(Follower(tmp_path).follow(interval=0.001, stop=stop, resume_wait=60.0))
    assert stop.resumed and [type(e).__name__ for e in got] == ["RunStarted", "StepEnded", "RunStarted",
                                                                 "StepEnded", "RunFinished"]
    # Without resume_wait a killed run ends the follow at once, never waiting (as any ending the run chose).
    other = tmp_path / "other"
    other.mkdir()
    (other / "events.jsonl").write_bytes(line(STARTED) + line(step(1)))
    RunLock(other).acquire().release()
    stop = ResumeOnWait(other)
    assert [type(e).__name__ for e in Follower(other).follow(interval=0.001, stop=stop)] == ["RunStarted",
                                                                                           "StepEnded"]
    assert not stop.resumed
