"""core.compare on tiny fixed records: x axes, smoothing, legend names, seed groups, diff, crosshair, window."""

from __future__ import annotations

import os
import zlib

import pytest
from run_records import BASE, LOSSES, write_run

from core.compare import (
    PALETTE,
    assign_colours,
    build_view,
    config_diff,
    crosshair_stops,
    legend_names,
    percentile,
    readings_at,
    run_colour,
    y_range,
    zoom_range,
)
from core.events import StepEnded
from core.records.curves import load_run, smooth
from core.records.runs import RunRecorder
from core.settings import ChartSettings


def test_smoothing_is_tensorboards_debiased_average():
    assert smooth([1.0, 0.0, 1.0, 0.5], 0.5) == pytest.approx([1.0, 1 / 3, 5 / 7, 0.6], abs=1e-15)
    assert smooth([2.0, 4.0], 0.0) == [2.0, 4.0]
    out = smooth([1.0, float("nan"), 3.0], 0.5)  # NaN passes through and does not poison what follows
    assert out[0] == 1.0 and out[1] != out[1] and out[2] == pytest.approx((0.5 * 0.5 + 1.5) / 0.75)


def test_load_run_gives_every_x_axis(tmp_path):
    run = load_run(write_run(tmp_path, "run-a"))
    train, val = run.curves["train_loss"], run.curves["val_accuracy"]
    assert train.step == [1, 2, 3, 4] and train.value == list(LOSSES)
    assert train.epoch == [0.5, 1.0, 1.5, 2.0]  # 2 steps per epoch (total_steps / epochs)
    assert train.samples == [4, 8, 12, 16] and train.time == [1, 2, 3, 4]
    assert val.step == [2, 4] and val.epoch == [1, 2] and val.samples == [8, 16] and val.time == [2.5, 4.5]
    assert val.value == [0.5, 0.75]
    assert run.row.status == "completed" and run.config["lr"] == 0.1 and run.newest_step == 4


def test_load_run_is_bounded(tmp_path):
    with RunRecorder(tmp_path, "long", BASE) as rec:
        for step in range(1, 5001):
            rec(StepEnded(run_id="long", time=float(step), step=step, epoch=1, loss=1.0 / step, accuracy=0.5,
                          samples_per_s=1.0, samples_seen=step, progress=0.0))
    run = load_run(tmp_path / "long", capacity=64)
    steps = run.curves["train_loss"].step
    assert len(steps) <= 66 and steps[0] == 1 and steps[-1] == 5000


def test_legend_names_say_what_differs():
    a, b = BASE.to_dict(), BASE.replace(lr=0.01).to_dict()
    assert legend_names({"r1": a, "r2": b}) == {"r1": "lr=0.1", "r2": "lr=0.01"}
    c = BASE.replace(backend="lightning").to_dict()
    assert legend_names({"r1": a, "r3": c}) == {"r1": "backend=scalar", "r3": "backend=lightning"}
    assert legend_names({"r1": a, "r2": dict(a)}) == {"r1": "r1", "r2": "r2"}  # nothing differs: the ids
    d = BASE.replace(hidden=(16, 8), lr=0.5, epochs=3, seed=4).to_dict()
    assert legend_names({"r1": a, "r4": d})["r4"] == "hidden=16-8, lr=0.5, epochs=3, +1 more"


def test_colours_are_stable_and_apart():
    assert assign_colours(["x"]) == {"x": run_colour("x")}
    ids = [f"run-{i}" for i in range(40)]
    a = next(i for i in ids if zlib.crc32(i.encode()) % len(PALETTE) == 0)
    b = next(i for i in ids if i != a and zlib.crc32(i.encode()) % len(PALETTE) == 0)
    first, second = sorted([a, b])
    colours = assign_colours([second, first, "zzz"])
    assert colours[first] == run_colour(first) == PALETTE[0] and colours[second] != PALETTE[0]


def test_view_overlays_runs_with_baseline_last(tmp_path):
    runs = [load_run(write_run(tmp_path, rid, BASE.replace(lr=lr))) for rid, lr in (("a", 0.1), ("b", 0.01))]
    view = build_view(runs, ChartSettings(smoothing=0.5), baseline="a")
    loss = view.plot("loss")
    assert [(li.label, li.series) for li in loss] == [
        ("lr=0.01", "train_loss"), ("lr=0.01", "val_loss"), ("lr=0.1 (baseline)", "train_loss"),
        ("lr=0.1 (baseline)", "val_loss")]
    assert loss[2].ys == pytest.approx([1.0, 1 / 3, 5 / 7, 0.6]) and loss[2].raw == list(LOSSES)
    assert loss[3].ys == [0.8, 0.6]  # validation is not smoothed
    assert view.plot("accuracy")[0].raw == [25.0, 50.0, 75.0, 100.0]
    assert [li.label for li in view.legend()] == ["lr=0.1 (baseline)", "lr=0.01"]
    assert loss[0].colour == assign_colours(["a", "b"])["b"]


def test_view_settings_log_window_axis_outliers(tmp_path):
    runs = [load_run(write_run(tmp_path, "a", losses=(10.0, 1.0, 0.1, 0.01)))]
    view = build_view(runs, ChartSettings(smoothing=0.0, log_loss=True, window=2, x_axis="samples"))
    train = view.plot("loss")[0]
    assert train.xs == [8, 12, 16] and train.ys == pytest.approx([0.0, -1.0, -2.0])  # log10, last 2 steps
    assert view.x_label == "samples seen"
    assert build_view(runs, ChartSettings(x_axis="time")).plot("loss")[1].xs == [2.5, 4.5]
    assert y_range(range(101), "outliers") == pytest.approx((1 - 4.9, 99 + 4.9))
    assert y_range(range(101)) == pytest.approx((-5.0, 105.0))
    assert y_range([2.0, 2.0]) == pytest.approx((1.9, 2.1)) and y_range([]) == (0.0, 1.0)
    assert percentile([1, 2, 3, 4], 50) == 2.5


def test_seed_runs_become_mean_with_band(tmp_path):
    runs = [load_run(write_run(tmp_path, "s0", BASE)),
            load_run(write_run(tmp_path, "s1", BASE.replace(seed=1), losses=(3.0, 2.0, 1.0, 0.5))),
            load_run(write_run(tmp_path, "other", BASE.replace(lr=0.01)))]
    view = build_view(runs, ChartSettings(smoothing=0.0))
    train = [li for li in view.lines if li.series == "train_loss"]
    assert [li.label for li in train] == ["lr=0.01", "lr=0.1 mean of 2 seeds"]
    group = train[1]
    assert group.members == ("s0", "s1") and group.key == "seeds:s0"
    assert group.ys == [2.0, 1.0, 1.0, 0.5] and group.low == [1.0, 0.0, 1.0, 0.5] and group.high == [3.0, 2.0, 1.0, 0.5]
    ungrouped = build_view(runs, ChartSettings(smoothing=0.0), group_seeds=False)
    assert sorted({li.label for li in ungrouped.lines}) == ["lr=0.01, seed=0", "lr=0.1, seed=0", "lr=0.1, seed=1"]


def test_config_diff_shows_only_what_differs_and_outcomes(tmp_path):
    runs = [load_run(write_run(tmp_path, "a")), load_run(write_run(tmp_path, "b", BASE.replace(lr=0.01),
                                                                    test_accuracy=0.625))]
    headings, cells = config_diff([r.row for r in runs])
    assert headings == ["run", "lr", "status", "best val", "test", "time"]
    assert cells == [["a", "0.1", "completed", "75.00%", "70.00%", "12s"],
                     ["b", "0.01", "completed", "75.00%", "62.50%", "12s"]]


def test_crosshair_reads_the_nearest_point_of_every_line(tmp_path):
    runs = [load_run(write_run(tmp_path, "a")), load_run(write_run(tmp_path, "b", BASE.replace(lr=0.01),
                                                                    losses=(4.0, 3.0, 2.0, 1.0)))]
    view = build_view(runs, ChartSettings(smoothing=0.0), baseline="b")
    assert crosshair_stops(view) == [1, 2, 3, 4]
    readings = readings_at(view.plot("loss"), 2.6)
    assert [(r.label, r.series, r.step, r.value) for r in readings] == [
        ("lr=0.1", "train_loss", 3, 1.0), ("lr=0.1", "val_loss", 2, 0.8),
        ("lr=0.01 (baseline)", "train_loss", 3, 2.0), ("lr=0.01 (baseline)", "val_loss", 2, 0.8)]
    assert readings_at(view.plot("loss"), 2.5)[0].step == 2  # a tie takes the earlier point


def test_zoom_keeps_inside_the_data(tmp_path):
    assert zoom_range((0.0, 10.0), 2) == (5.0, 10.0)
    assert zoom_range((0.0, 10.0), 2, 1.0) == (0.0, 5.0)
    assert zoom_range((0.0, 10.0), 2, 6.0) == (3.5, 8.5)
    assert zoom_range((0.0, 10.0), 1, 6.0) == (0.0, 10.0)
    view = build_view([load_run(write_run(tmp_path, "a"))], ChartSettings(smoothing=0.0), zoom=2)
    assert view.x_range == (2.5, 4.0) and view.plot("loss")[0].xs == [3, 4]


def test_a_validation_reading_belongs_to_the_step_it_was_measured_at(tmp_path):
    view = build_view([load_run(write_run(tmp_path, "a"))], ChartSettings(smoothing=0.0))
    at = {x: {r.series: r.step for r in readings_at(view.lines, x)} for x in (1.0, 2.0, 3.0, 4.0)}
    assert [at[x].get("val_loss") for x in (1.0, 2.0, 3.0, 4.0)] == [None, 2, 2, 4]
    assert [at[x]["train_loss"] for x in (1.0, 2.0, 3.0, 4.0)] == [1, 2, 3, 4]


def test_an_unchanged_record_is_not_read_again(tmp_path, monkeypatch):
    import core.records.curves as curves_module

    run = write_run(tmp_path, "a", finish=False)
    first = load_run(run)
    reads = []
    real = curves_module._read_on
    monkeypatch.setattr(curves_module, "_read_on", lambda tail, path: reads.append(tail.offset) or real(tail, path))
    again = load_run(run, previous=first)
    assert reads == [] and again.curves is first.curves
    size = (run / "events.jsonl").stat().st_size
    with open(run / "events.jsonl", "ab") as fh:
        fh.write(b"\n")  # the record grew (a live run): read on from where the last read stopped
    assert load_run(run, previous=again).curves is not first.curves and reads == [size]


def lines_of(run_dir):
    return (run_dir / "events.jsonl").read_bytes().splitlines(keepends=True)


def test_a_growing_record_read_on_in_pieces_folds_as_one_read_of_it_all(tmp_path):
    # A long record, thinned (capacity 64), written in pieces that end mid-line: each load reads on from the
    # last complete line and the curves come out exactly as one read of the whole record.
    with RunRecorder(tmp_path, "whole", BASE) as rec:
        for step in range(1, 1201):
            rec(StepEnded(run_id="whole", time=float(step), step=step, epoch=1 + step // 400, loss=1.0 / step,
                          accuracy=0.5, samples_per_s=1.0, samples_seen=step, progress=0.0))
    whole = tmp_path / "whole"
    data = (whole / "events.jsonl").read_bytes()
    grown = tmp_path / "grown"
    grown.mkdir()
    (grown / "config.json").write_bytes((whole / "config.json").read_bytes())
    run = previous = None
    cuts = [0, 1000, 1001, 5000, 5003, 60000, len(data) - 7, len(data)]
    for start, stop in zip(cuts, cuts[1:], strict=False):
        with open(grown / "events.jsonl", "ab") as fh:
            fh.write(data[start:stop])
        run = load_run(grown, capacity=64, previous=previous)
        assert run.tail.offset == data.rfind(b"\n", 0, stop) + 1  # a line still being written waits
        previous = run
    expected = load_run(whole, capacity=64)
    assert run.curves == expected.curves and len(run.curves["train_loss"].step) <= 66
    assert run.curves["train_loss"].step[-1] == 1200


def test_a_record_replaced_or_truncated_is_read_afresh(tmp_path):
    run_dir = write_run(tmp_path, "a", losses=(4.0, 3.0, 2.0, 1.0))
    first = load_run(run_dir)
    lines = lines_of(run_dir)
    replacement = tmp_path / "replacement.jsonl"
    replacement.write_bytes(b"".join(lines[:3]))  # shorter, another inode
    os.replace(replacement, run_dir / "events.jsonl")
    again = load_run(run_dir, previous=first)
    assert again.curves == load_run(run_dir).curves and again.tail.offset == len(b"".join(lines[:3]))
    (run_dir / "events.jsonl").write_bytes(b"".join(lines[:2]))  # truncated in place (same inode)
    third = load_run(run_dir, previous=again)
    assert third.curves == load_run(run_dir).curves and third.tail.offset == len(b"".join(lines[:2]))
