"""core.records.export: CSV rows equal the record's events, exactly; smoothing, x axes, window, atomic file."""

from __future__ import annotations

import csv
import io

import pytest
from test_compare import BASE, write_run

from core.events import EpochEnded, StepEnded
from core.records.export import COLUMNS, export_csv, write_rows
from core.records.jsonl import read_jsonl


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_rows_match_the_events_exactly(tmp_path):
    runs = [write_run(tmp_path, "a"), write_run(tmp_path, "b", BASE.replace(lr=0.01), losses=(0.3, 0.2, 0.1, 1e-7))]
    out = tmp_path / "out.csv"
    count = export_csv(runs, out)
    rows = read_csv(out)
    assert rows[0] == list(COLUMNS) and count == len(rows) - 1 == 2 * (8 + 4)
    expected = []
    for run, label in zip(runs, ("lr=0.1", "lr=0.01"), strict=True):
        for e in read_jsonl(run / "events.jsonl"):
            if isinstance(e, StepEnded):
                pairs = (("train_loss", e.loss), ("train_accuracy", e.accuracy))
            elif isinstance(e, EpochEnded):
                pairs = (("val_loss", e.val_loss), ("val_accuracy", e.val_accuracy))
            else:
                continue
            expected += [[run.name, label, s, "step", e.step, e.step, v, v] for s, v in pairs]
    got = [[r[0], r[1], r[2], r[3], int(float(r[4])), int(r[5]), float(r[6]), float(r[7])] for r in rows[1:]]
    assert got == expected


def test_smoothing_axes_and_window(tmp_path):
    run = write_run(tmp_path, "a")
    buffer = io.StringIO()
    write_rows(buffer, [run], x_axis="epoch", smoothing=0.5)
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))[1:]
    train = [r for r in rows if r[2] == "train_loss"]
    assert [float(r[4]) for r in train] == [0.5, 1.0, 1.5, 2.0]
    assert [float(r[7]) for r in train] == pytest.approx([1.0, 1 / 3, 5 / 7, 0.6])
    assert [(r[4], r[6], r[7]) for r in rows if r[2] == "val_loss"] == [("1.0", "0.8", "0.8"), ("2.0", "0.6", "0.6")]
    out = tmp_path / "w.csv"
    export_csv([run], out, x_axis="time", smoothing=0.5, since_step=3)
    kept = [r for r in read_csv(out)[1:] if r[2] == "train_loss"]
    assert [(r[4], r[5]) for r in kept] == [("3.0", "3"), ("4.0", "4")]
    assert float(kept[0][7]) == pytest.approx(5 / 7)  # smoothed over the whole run, then windowed
    with pytest.raises(ValueError, match="x axis must be one of"):
        export_csv([run], out, x_axis="bogus")
    assert len(read_csv(out)) == 7 and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_run_named_by_dot_keeps_its_id(tmp_path, monkeypatch):
    write_run(tmp_path, "run-7")
    monkeypatch.chdir(tmp_path / "run-7")
    out = tmp_path / "dot.csv"
    assert export_csv(["."], out) == 12 and {r[0] for r in read_csv(out)[1:]} == {"run-7"}
