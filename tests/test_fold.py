"""core.records.fold: the one thinning rule, the one fold of a run's events, read_events (exact, on tiny records)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core import events as ev
from core.records import jsonl as jl
from core.records.fold import RunFold, Series
from core.records.scan import read_events


def step(n: int, loss: float = 0.5, run_id: str = "r") -> ev.StepEnded:
    return ev.StepEnded(run_id=run_id, time=1000.0 + n, step=n, epoch=1, loss=loss, accuracy=0.5,
                        samples_per_s=10.0, samples_seen=n * 8, progress=n / 100)


def started(run_id: str = "r", lr: float = 0.1) -> ev.RunStarted:
    return ev.RunStarted(run_id=run_id, backend="scalar", device="cpu", data_source="x", config={"lr": lr},
                         train_size=1, val_size=1, test_size=1)


def line(event: ev.Event) -> bytes:
    return jl.to_json_bytes(event) + b"\n"


def test_a_series_keeps_an_even_bounded_sample_and_the_last_row():
    rows = Series(capacity=4)
    for i in range(10):
        rows.append(i)
    assert rows.kept == [(0,), (4,), (8,)]
    assert rows.rows() == [(0,), (4,), (8,), (9,)]
    assert rows.count == 10


def test_a_full_series_halves_only_past_its_capacity():
    rows = Series(capacity=4)
    for i in range(4):
        rows.append(i, i * 2)
    assert rows.kept == [(0, 0), (1, 2), (2, 4), (3, 6)] and rows.stride == 1
    rows.append(4, 8)
    assert rows.kept == [(0, 0), (2, 4), (4, 8)] and rows.stride == 2
    assert rows.points() == ([0, 2, 4], [0, 4, 8])


def test_a_keyed_series_keeps_or_drops_a_keys_rows_together():
    rows = Series(capacity=4)
    for key in range(6):
        for address in ("a", "b"):
            rows.add((key, address), key)
    assert rows.kept == [(0, "a"), (0, "b"), (2, "a"), (2, "b"), (4, "a"), (4, "b")]


def test_the_fold_of_a_file_equals_folding_every_event_but_parses_few_steps(tmp_path):
    path = tmp_path / "events.jsonl"
    record = [started()] + [step(n, loss=1 / n) for n in range(1, 1001)]
    record += [ev.EpochEnded(run_id="r", epoch=1, step=1000, train_loss=0.1, train_accuracy=0.9, val_loss=0.2,
                             val_accuracy=0.8, epoch_seconds=1.0),
               ev.LearningRateChanged(run_id="r", step=1000, lr=0.01, previous=0.1, source="folder"),
               ev.ScalarWatch(run_id="r", step=1000, address="loss", data=0.1, grad=1.0)]
    path.write_bytes(b"".join(line(e) for e in record) + b"torn{\n")
    fold = RunFold.read(path, capacity=16)
    slow = RunFold.from_events(jl.read_jsonl(path), capacity=16)
    assert fold.steps.rows() == slow.steps.rows()
    assert len(fold.steps.kept) <= 16
    assert fold.last_step == step(1000, loss=1 / 1000)
    xs, ys = fold.series("loss")
    assert xs[0] == 1 and xs[-1] == 1000 and ys[-1] == 1 / 1000
    assert fold.counts["StepEnded"] == 1000 and fold.skipped == 1
    assert fold.started == record[0] and fold.epochs[0].val_accuracy == 0.8
    assert fold.val_accuracy.points() == ([1000], [0.8])
    assert fold.lr_changes[0].lr == 0.01 and fold.lr == 0.01
    assert fold.watches["loss"].rows.rows() == [(1000, 0.1, 1.0)]
    assert fold.marks().lr_changes == (1000,) and fold.marks().epochs == (1000,)


def test_a_fold_ending_on_a_thinned_step_still_ends_there(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(line(step(n)) for n in range(1, 8)))
    fold = RunFold.read(path, capacity=4)
    assert fold.series("samples_seen")[0][-1] == 7 and fold.series("samples_seen")[1][-1] == 56
    assert fold.train_loss.count == 7 and fold.step == 7


def test_a_second_run_started_clears_how_the_run_ended():
    fold = RunFold.from_events([started(), ev.RunFinished(run_id="r", reason="completed", steps=1,
                                                          epochs_completed=1, seconds=1.0)])
    assert fold.done and fold.status == "completed"
    fold.feed(started())  # resumed after it finished
    assert fold.finished is None and not fold.done and fold.status == "running"
    fold.feed(ev.RunFailed(run_id="r", error="boom"))
    fold.feed(started())
    assert fold.failed is None and fold.status == "running"


def test_marks_commands_watches_and_the_rate_in_force():
    fold = RunFold.from_events([
        started(lr=0.05),
        ev.ControlApplied(run_id="r", step=3, command="pause", source="key"),
        ev.ScalarWatch(run_id="r", step=1, address="L0.N0.b", data=0.5, grad=0.1),
        ev.ScalarWatch(run_id="r", step=2, address="L0.N0.b", data=0.4, grad=0.2),
        ev.LearningRateChanged(run_id="r", step=4, lr=0.02, previous=0.05, source="key"),
    ])
    assert fold.run_id == "r" and fold.marks().commands == ((3, "pause"),)
    assert fold.watches["L0.N0.b"].grad.ys == [0.1, 0.2] and abs(fold.watches["L0.N0.b"].update + 0.1) < 1e-12
    assert fold.lr == 0.02
    before, other = fold.version, RunFold.from_events([started()])
    fold.feed(step(5))
    assert fold.version != before and other.version not in (before, fold.version)
    assert RunFold.from_events([started(lr=0.05)]).lr == 0.05


def test_read_events_thins_by_the_same_rule_and_keeps_the_newest_step(tmp_path):
    path = tmp_path / "events.jsonl"
    record = [started()] + [step(n) for n in range(1, 11)]
    record += [ev.ScalarWatch(run_id="r", step=n, address=a, data=0.0, grad=0.0) for n in range(1, 11)
               for a in ("x", "y")]
    path.write_bytes(b"".join(line(e) for e in record))
    events = read_events(path, capacity=4)
    steps = [e.step for e in events if isinstance(e, ev.StepEnded)]
    watched = [(e.step, e.address) for e in events if isinstance(e, ev.ScalarWatch)]
    assert steps == [1, 5, 9, 10]  # reports 0, 4 and 8 (counted from 0) kept at stride 4, and the newest
    assert watched == [(4, "x"), (4, "y"), (8, "x"), (8, "y"), (10, "x"), (10, "y")]
    assert isinstance(events[0], ev.RunStarted)


def test_rate_scan_reads_the_start_and_then_only_what_was_appended(tmp_path, monkeypatch):
    from core.records import scan as fold_module

    monkeypatch.setattr(fold_module, "CHUNK", 8)  # a change's marker straddles reads
    path = tmp_path / "events.jsonl"
    path.write_bytes(line(started(lr=0.05)) + b"".join(line(step(n)) for n in range(1, 4)))
    scan = fold_module.RateScan()
    assert scan.of(path) == (0.05, False)
    with open(path, "ab") as fh:
        fh.write(line(ev.LearningRateChanged(run_id="r", step=3, lr=0.2, previous=0.05, source="key")))
    assert scan.of(path) == (0.05, True)
    path.write_bytes(line(started(lr=0.3)))  # rewritten (a new file): read again
    assert scan.of(path) == (0.3, False)
    assert scan.of(tmp_path / "missing.jsonl") == (None, False)


def test_folding_read_events_keeps_rows_the_fold_of_the_file_keeps(tmp_path):
    """A record opened in the dashboard (read_events, then folded) draws points of the curve compare draws."""
    for n in (10, 33, 64, 65, 100, 257, 1000):
        path = tmp_path / f"{n}.jsonl"
        path.write_bytes(b"".join(line(step(i, loss=1 / i)) for i in range(1, n + 1)))
        opened = RunFold.from_events(read_events(path, capacity=32), capacity=16).steps.rows()
        direct = RunFold.read(path, capacity=16).steps.rows()
        assert set(opened) <= set(direct) and opened[0] == direct[0] and opened[-1] == direct[-1], n
        assert len(opened) >= len(direct) // 2, n  # at worst every other one (the newest step tips a halving)


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(4, 20), count=st.integers(1, 400))
def test_a_series_is_bounded_even_and_ends_at_the_newest(capacity, count):
    rows = Series(capacity)
    for i in range(count):
        rows.append(i)
    kept = [r[0] for r in rows.kept]
    assert len(kept) <= capacity and kept[0] == 0 and rows.rows()[-1] == (count - 1,)
    assert all(b - a == rows.stride for a, b in zip(kept, kept[1:], strict=False))  # evenly spaced
    assert kept[-1] + rows.stride >= count  # nothing past the last kept one but the newest
    assert rows.stride == 1 or len(kept) > capacity // 2  # halved only when it had to be
