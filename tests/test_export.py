"""core.records.export: CSV rows equal the record's events, exactly; smoothing as on screen, x axes, window, the
output never replacing what is not a regular file, inputs named when missing."""

from __future__ import annotations

import csv
import io
import os

import pytest
from run_records import BASE, write_run

from core.compare import build_view
from core.events import EpochEnded, StepEnded
from core.records import jsonl
from core.records.commands import export_run
from core.records.curves import load_run, smooth
from core.records.export import COLUMNS, ExportError, export_csv, write_rows
from core.records.jsonl import read_jsonl
from core.settings import ChartSettings, save_settings


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_rows_match_the_events_exactly(tmp_path):
    runs = [write_run(tmp_path, "a"), write_run(tmp_path, "b", BASE.replace(lr=0.01), losses=(0.3, 0.2, 0.1, 1e-7))]
    out = tmp_path / "out.csv"
    count = export_csv(runs, out, smoothing=0.0)
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


def test_the_smoothed_column_is_the_compare_screens_at_the_same_setting(tmp_path):
    run = write_run(tmp_path, "a")
    save_settings(ChartSettings(smoothing=0.5))  # the chart setting the compare screen shows
    buffer = io.StringIO()
    write_rows(buffer, [run])  # no smoothing given: the chart settings'
    train = [r for r in csv.reader(io.StringIO(buffer.getvalue())) if r[2] == "train_loss"]
    line = next(li for li in build_view([load_run(run)], ChartSettings(smoothing=0.5)).lines
                if li.series == "train_loss")
    assert [float(r[7]) for r in train] == line.ys == smooth([1.0, 0.0, 1.0, 0.5], 0.5)
    assert [float(r[7]) for r in train] != [float(r[6]) for r in train]


def test_open_export_to_stdout_smooths_by_default(tmp_path, capsys):
    run = write_run(tmp_path, "a")
    assert export_run(str(run), "-") == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    train = [r for r in rows[1:] if r[2] == "train_loss"]
    assert [float(r[7]) for r in train] == smooth([1.0, 0.0, 1.0, 0.5], ChartSettings().smoothing)
    assert [r[6] for r in train] != [r[7] for r in train]


def test_an_export_of_a_long_run_is_the_plots_thinned_points(tmp_path):
    run = write_run(tmp_path, "long", losses=tuple(1 / n for n in range(1, 2001)),
                    accuracies=tuple(0.5 for _ in range(2000)), val=((0.8, 0.5),) * 1000)
    rows = [r for r in read_csv_rows(run) if r[2] == "train_loss"]
    curve = load_run(run).curves["train_loss"]
    assert [int(r[5]) for r in rows] == [int(s) for s in curve.step] and len(rows) <= 1025
    assert int(rows[-1][5]) == 2000


def read_csv_rows(run):
    buffer = io.StringIO()
    write_rows(buffer, [run], smoothing=0.0)
    return list(csv.reader(io.StringIO(buffer.getvalue())))[1:]


@pytest.mark.parametrize("kind", ["fifo", "folder", "link to a device"])
def test_a_non_regular_output_is_refused_never_replaced(tmp_path, kind):
    run = write_run(tmp_path, "a")
    out = tmp_path / "out.csv"
    if kind == "fifo":
        os.mkfifo(out)
    elif kind == "folder":
        out.mkdir()
    else:
        out.symlink_to("/dev/null")
    with pytest.raises(ExportError, match="not a regular file: not replaced"):
        export_csv([run], out)
    assert (out.is_fifo(), out.is_dir(), out.is_symlink()) == (kind == "fifo", kind == "folder",
                                                               kind == "link to a device")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_link_is_followed_and_kept_and_a_files_mode_kept(tmp_path):
    run = write_run(tmp_path, "a")
    target = tmp_path / "real.csv"
    target.write_text("old")
    os.chmod(target, 0o600)
    other = tmp_path / "hard.csv"
    os.link(target, other)
    link = tmp_path / "out.csv"
    link.symlink_to(target)
    assert export_csv([run], link, smoothing=0.0) == 12
    assert link.is_symlink() and read_csv(target)[0] == list(COLUMNS)
    assert target.stat().st_mode & 0o777 == 0o600
    assert other.read_text() == "old"  # a new file is written: another hard link keeps the old content


def test_a_missing_or_odd_record_is_named_not_the_output(tmp_path, capsys):
    run = write_run(tmp_path, "a")
    (run / "events.jsonl").unlink()
    out = tmp_path / "out.csv"
    with pytest.raises(ExportError, match=r"a: no events.jsonl"):
        export_csv([run], out)
    assert export_run(str(run), str(out)) == 2
    assert "no events.jsonl" in capsys.readouterr().err and not out.exists()
    (run / "events.jsonl").mkdir()
    with pytest.raises(ExportError, match=r"events.jsonl is a folder, not a regular file"):
        export_csv([run], out)


def test_a_record_with_an_endless_line_exports_what_it_can_and_says_so(tmp_path, capsys):
    run = write_run(tmp_path, "a")
    with open(run / "events.jsonl", "ab") as fh:
        fh.write(b"\0" * (jsonl.MAX_LINE + 10))
    out = tmp_path / "out.csv"
    assert export_run(str(run), str(out)) == 0
    assert len(read_csv(out)) == 13
    assert "1 line(s) longer than" in capsys.readouterr().err
