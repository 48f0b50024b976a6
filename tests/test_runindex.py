"""The runs table: statuses (live, killed, finished), the columns, filtering, sorting, the text and JSON forms."""

from __future__ import annotations

import json
import os

import orjson

from core import events as ev
from core.records import jsonl as jl
from core.records.runindex import filter_rows, format_table, list_runs_table, read_row, sort_rows
from core.records.runlock import RunLock

CONFIG = {"backend": "scalar", "hidden": [64, 32], "input_size": 14, "optimizer": "adam", "lr": 0.01, "epochs": 3,
          "seed": 0}


def make_run(root, name, *, config=None, summary=None, events=(), lock=False):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(CONFIG if config is None else config))
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "events.jsonl").write_bytes(b"".join(jl.to_json_bytes(e) + b"\n" for e in events))
    if lock:
        RunLock(folder).acquire().release()  # a run that held its lock once, then died
    return folder


def epoch(n, acc, t):
    return ev.EpochEnded(run_id="r", time=t, epoch=n, step=n * 10, train_loss=0.5, train_accuracy=0.5, val_loss=0.4,
                         val_accuracy=acc, epoch_seconds=1.0)


STARTED = ev.RunStarted(run_id="r", time=1000.0, backend="scalar", device="cpu", data_source="x", config=CONFIG,
                        train_size=1, val_size=1, test_size=1)
SUMMARY = {"reason": "early_stopped", "steps": 30, "epochs_completed": 2, "seconds": 75.0, "test_accuracy": 0.9125,
           "best_val_accuracy": 0.925, "started_at": "2026-01-02T03:04:05Z"}


def test_every_kind_of_run_gets_its_status_and_columns(tmp_path):
    make_run(tmp_path, "a-done", summary=SUMMARY, lock=True)
    make_run(tmp_path, "b-killed", events=[STARTED, epoch(1, 0.5, 1010.0), epoch(2, 0.75, 1030.0),
                                           epoch(3, 0.625, 1042.5)], lock=True)
    live = make_run(tmp_path, "c-live", events=[STARTED])
    make_run(tmp_path, "d-failed", summary={"reason": "failed", "error": "boom", "steps": 0})
    bad = make_run(tmp_path, "e-bad", lock=True)
    (bad / "config.json").write_bytes(b"\xff\xfe" + b"[" * 100_000)
    old = make_run(tmp_path, "f-old", events=[STARTED])  # no lock file: an older version's record
    os.utime(old / "events.jsonl", (1000.0, 1000.0))
    (tmp_path / "not-a-run").mkdir()
    with RunLock(live, "c-live"):
        rows = list_runs_table(tmp_path)
    assert [r.run_id for r in rows] == ["a-done", "b-killed", "c-live", "d-failed", "e-bad", "f-old"]
    done, killed, running, failed, broken, older = rows
    assert (done.status, done.epochs_done, done.best_val_accuracy, done.test_accuracy, done.seconds) == \
        ("early_stopped", 2, 0.925, 0.9125, 75.0)
    assert (done.backend, done.shape, done.optimizer, done.lr, done.epochs) == \
        ("scalar", "196-64-32-10", "adam", 0.01, 3)
    assert done.started == 1767323045.0
    assert (killed.status, killed.epochs_done, killed.best_val_accuracy, killed.seconds, killed.steps) == \
        ("killed", 3, 0.75, 42.5, 30)
    assert (running.status, running.pid) == ("live", os.getpid())
    assert failed.status == "failed"
    assert broken.status == "incomplete" and broken.problem == "config.json is unreadable" and broken.shape == ""
    assert older.status == "stale"  # no lock to ask and quiet for long


def test_a_lockless_record_written_just_now_counts_as_live(tmp_path):
    folder = make_run(tmp_path, "r", events=[STARTED])
    os.utime(folder / "events.jsonl", (5000.0, 5000.0))
    assert read_row(folder, now=5010.0).status == "live"
    assert read_row(folder, now=5100.0).status == "stale"


def test_only_the_edges_of_a_long_stream_are_read(tmp_path):
    steps = [ev.StepEnded(run_id="r", time=1000.0 + n, step=n, epoch=1, loss=0.5, accuracy=0.5, samples_per_s=1.0,
                          samples_seen=n, progress=0.0) for n in range(1, 5001)]
    folder = make_run(tmp_path, "long", events=[STARTED, *steps, epoch(1, 0.5, 6001.0)], lock=True)
    row = read_row(folder)
    assert (row.steps, row.epochs_done, row.seconds, row.started) == (5000, 1, 5001.0, 1000.0)


def test_filter_by_typed_words_and_sort(tmp_path):
    make_run(tmp_path, "1", summary={**SUMMARY, "reason": "completed", "test_accuracy": 0.5})
    make_run(tmp_path, "2", config={**CONFIG, "backend": "lightning", "lr": 0.1}, summary=SUMMARY)
    make_run(tmp_path, "3", config={**CONFIG, "hidden": [16]}, events=[STARTED], lock=True)
    rows = list_runs_table(tmp_path)
    assert [r.run_id for r in filter_rows(rows, "light")] == ["2"]
    assert [r.run_id for r in filter_rows(rows, "early-stopped")] == ["2"]
    assert [r.run_id for r in filter_rows(rows, "lr=0.01")] == ["1", "3"]
    assert [r.run_id for r in filter_rows(rows, "scalar 196-16-10")] == ["3"]
    assert [r.run_id for r in filter_rows(rows, "")] == ["1", "2", "3"]
    assert [r.run_id for r in sort_rows(rows, "test_accuracy", descending=True)] == ["2", "1", "3"]
    assert [r.run_id for r in sort_rows(rows, "test_accuracy")] == ["1", "2", "3"]


def test_text_table_and_json_lines(tmp_path):
    make_run(tmp_path, "run-1", summary=SUMMARY)
    rows = list_runs_table(tmp_path)
    lines = format_table(rows, ["run_id", "status", "best_val_accuracy", "seconds", "lr"]).splitlines()
    assert lines == ["run    status         best val  time   lr", "run-1  early-stopped  92.50%    1m15s  0.01"]
    obj = orjson.loads(orjson.dumps(rows[0].to_dict()))
    assert obj["status"] == "early_stopped" and obj["path"] == str(tmp_path / "run-1")
    assert obj["started_at"] == "2026-01-02T03:04:05Z" and obj["config"]["lr"] == 0.01


def test_a_summary_without_best_val_accuracy_takes_it_from_the_stream(tmp_path):
    old_summary = {k: v for k, v in SUMMARY.items() if k != "best_val_accuracy"}
    folder = make_run(tmp_path, "old", summary=old_summary, events=[STARTED, epoch(1, 0.5, 1.0), epoch(2, 0.875, 2.0),
                                                                      epoch(3, 0.75, 3.0)])
    assert read_row(folder).best_val_accuracy == 0.875
    (folder / "summary.json").write_text(json.dumps({**SUMMARY, "best_val_accuracy": None}))
    assert read_row(folder).best_val_accuracy is None  # the summary's word stands


def test_a_live_run_whose_first_event_is_system_stats_has_its_start_time(tmp_path):
    # Every Lightning run and the first scalar run record a SystemStats sample before their RunStarted.
    sample = ev.SystemStats(run_id="r", time=999.0, cpu_percent=5.0, rss_bytes=1 << 20)
    folder = make_run(tmp_path, "r", events=[sample, STARTED, epoch(1, 0.5, 1030.0)])
    with RunLock(folder, "r"):
        row = read_row(folder)
    assert (row.status, row.started, row.seconds, row.epochs_done) == ("live", 1000.0, 30.0, 1)
    assert format_table([row], ["run_id", "seconds"]).splitlines()[1] == "r    30s"
