"""Reading a long record in bounded memory: the thinned rows and the digest (exact, on tiny records)."""

from __future__ import annotations

from core import events as ev
from core.records import jsonl as jl
from core.records.digest import RecordDigest, Thinned, read_digest


def step(n: int, loss: float = 0.5) -> ev.StepEnded:
    return ev.StepEnded(run_id="r", time=1000.0 + n, step=n, epoch=1, loss=loss, accuracy=0.5, samples_per_s=10.0,
                        samples_seen=n * 8, progress=n / 100)


def line(event: ev.Event) -> bytes:
    return jl.to_json_bytes(event) + b"\n"


def test_thinned_keeps_an_even_bounded_sample_and_the_last_row():
    rows = Thinned(capacity=4)
    for i in range(10):
        rows.append((i,))
    assert rows.kept == [(0,), (4,), (8,)]
    assert rows.rows() == [(0,), (4,), (8,), (9,)]
    assert rows.count == 10


def test_a_digest_equals_folding_every_event_but_parses_few_steps(tmp_path):
    path = tmp_path / "events.jsonl"
    started = ev.RunStarted(run_id="r", backend="scalar", device="cpu", data_source="x", config={"lr": 0.1},
                            train_size=1, val_size=1, test_size=1)
    record = [started] + [step(n, loss=1 / n) for n in range(1, 1001)]
    record += [ev.EpochEnded(run_id="r", epoch=1, step=1000, train_loss=0.1, train_accuracy=0.9, val_loss=0.2,
                             val_accuracy=0.8, epoch_seconds=1.0),
               ev.LearningRateChanged(run_id="r", step=1000, lr=0.01, previous=0.1, source="folder"),
               ev.ScalarWatch(run_id="r", step=1000, address="loss", data=0.1, grad=1.0)]
    path.write_bytes(b"".join(line(e) for e in record) + b"torn{\n")
    digest = read_digest(path, capacity=16)
    slow = RecordDigest(capacity=16)
    for event in jl.read_jsonl(path):
        slow.add(event)
    assert digest.steps.rows() == slow.steps.rows()
    assert len(digest.steps.kept) <= 16
    assert digest.last_step == step(1000, loss=1 / 1000)
    xs, ys = digest.series("loss")
    assert xs[0] == 1 and xs[-1] == 1000 and ys[-1] == 1 / 1000
    assert digest.counts["StepEnded"] == 1000 and digest.skipped == 1
    assert digest.started == started and digest.epochs[0].val_accuracy == 0.8
    assert digest.lr_changes[0].lr == 0.01 and digest.watches["loss"].rows() == [(1000, 0.1, 1.0)]


def test_a_digest_ending_on_a_thinned_step_still_ends_there(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(line(step(n)) for n in range(1, 8)))
    digest = read_digest(path, capacity=4)
    assert digest.series("samples_seen")[0][-1] == 7 and digest.series("samples_seen")[1][-1] == 56
    assert read_digest(tmp_path / "missing.jsonl").counts == {}
