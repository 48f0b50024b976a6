"""Time opening long records and listing many runs, against plain json.loads measured in the same run.

Usage: python bench/open_record.py [--lines 100000,1000000] [--runs 1000] [--rounds 3]

Writes synthetic but realistic records (mostly StepEnded, some ScalarWatch, LayerGradStats, LogLine,
EpochEnded, Evaluation) into a temporary directory, then for each size reports, best of --rounds:
  json.loads   the baseline: the standard library parsing every line (nothing kept)
  old reader   the wave-1 read_jsonl (json + typing.get_type_hints per event), 100k lines only, one round
  read_jsonl   every event as an object (what --open did in wave 1)
  read_events  what --open does: core.records.scan.read_events, per-step events thinned, rare ones whole
  RunFold.read the one fold (compare, export, curves): thinned StepEnded rows, rare events whole
and each one's tracemalloc peak in a separate pass (tracing slows code down, so times come from untraced runs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
import typing
from dataclasses import fields
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from core import events as ev  # noqa: E402
from core.records import jsonl as jl  # noqa: E402
from core.records.fold import RunFold  # noqa: E402
from core.records.runindex import format_table, list_runs_table  # noqa: E402
from core.records.runlock import RunLock  # noqa: E402
from core.records.scan import read_events  # noqa: E402

CONFIG = {"backend": "scalar", "hidden": [64, 32], "activation": "relu", "loss": "cross_entropy", "optimizer": "sgd",
          "lr": 0.05, "momentum": 0.9, "batch_size": 8, "epochs": 3, "train_subset": 2000, "val_subset": 500,
          "test_subset": 1000, "input_size": 14, "init": "scaled", "seed": 0, "patience": 0, "device": "auto",
          "devices": 1, "strategy": "auto", "num_nodes": 1, "threads": 0, "cuda_graphs": False}


def make_record(path: Path, lines: int) -> None:
    """A record of about `lines` lines in the proportions a watched run writes."""
    t0 = 1.7e9
    with open(path, "wb") as fh:
        fh.write(jl.to_json_bytes(ev.RunStarted(run_id="r", time=t0, backend="scalar", device="cpu",
                                                data_source="embedded", config=CONFIG, train_size=2000,
                                                val_size=500, test_size=1000, total_steps=lines)) + b"\n")
        step = 0
        for i in range(1, lines):
            t = t0 + i * 0.01
            if i % 20 == 0:
                event: ev.Event = ev.ScalarWatch(run_id="r", time=t, step=step, address="L0.N12.w345",
                                                 data=0.01 * (i % 97), grad=-0.001 * (i % 13))
            elif i % 50 == 1:
                event = ev.LayerGradStats(run_id="r", time=t, step=step, layer=i % 3, mean=1e-4, std=2e-3,
                                          max_abs=0.05, histogram=tuple(range(12)),
                                          histogram_edges=tuple(-8.0 + k * 0.5 for k in range(13)),
                                          dead_fraction=0.1, update_ratio=1e-3)
            elif i % 500 == 2:
                event = ev.LogLine(run_id="r", time=t, level="info", message=f"checkpoint at step {step}")
            elif i % 5000 == 3:
                event = ev.EpochEnded(run_id="r", time=t, epoch=i // 5000, step=step, train_loss=0.3,
                                      train_accuracy=0.9, val_loss=0.35, val_accuracy=0.88, epoch_seconds=50.0)
            else:
                step += 1
                event = ev.StepEnded(run_id="r", time=t, step=step, epoch=1 + i // 5000, loss=1.0 / (1 + i * 1e-3),
                                     accuracy=min(1.0, i / lines), samples_per_s=812.5, samples_seen=step * 8,
                                     progress=i / lines, total_steps=lines)
            fh.write(jl.to_json_bytes(event) + b"\n")


def plain_json(path: Path) -> int:
    """The baseline: json.loads on every line, nothing kept."""
    n = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            json.loads(line)
            n += 1
    return n


def old_read_jsonl(path: Path) -> list:
    """Wave 1's reader, kept here as the 'before' (typing.get_type_hints for every event)."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            data = json.loads(line)
            cls = ev.EVENT_TYPES[data.pop("type")]
            hints = typing.get_type_hints(cls)
            assert set(data) <= {f.name for f in fields(cls)}
            for key, value in data.items():
                if isinstance(value, list) and typing.get_origin(hints[key]) is tuple:
                    data[key] = tuple(value)
            out.append(cls(**data))
    return out


def best_of(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def interleaved(readers: dict, rounds: int) -> dict[str, float]:
    """Best time of each reader over `rounds` rounds, each round running every reader once in turn, so a
    burst of load from other processes hits all of them alike."""
    best = {name: float("inf") for name in readers}
    for _ in range(rounds):
        for name, fn in readers.items():
            best[name] = min(best[name], best_of(fn, 1))
    return best


def peak_mib(fn) -> float:
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    return peak / 2**20


def bench_record(root: Path, lines: int, rounds: int) -> None:
    path = root / f"events-{lines}.jsonl"
    make_record(path, lines)
    size = path.stat().st_size / 2**20
    readers = {"json.loads": lambda: plain_json(path)}
    if lines <= 200_000:
        readers["old reader"] = lambda: old_read_jsonl(path)
        readers["read_jsonl"] = lambda: jl.read_jsonl(path)
    readers["read_events"] = lambda: read_events(path)
    readers["RunFold.read"] = lambda: RunFold.read(path)
    old = readers.pop("old reader", None)
    times = interleaved(readers, rounds)
    if old is not None:  # slow enough that one round tells its story
        times["old reader"] = best_of(old, 1)
        readers["old reader"] = old
    base = times["json.loads"]
    print(f"\n{lines:,} lines ({size:.1f} MiB), best of {rounds}:")
    for name, fn in readers.items():
        memory = peak_mib(fn) if name != "old reader" else float("nan")
        print(f"  {name:<12} {times[name]:7.3f} s   {times[name] / base:5.2f}x json.loads   peak {memory:8.1f} MiB")
    if lines <= 200_000:
        events = jl.read_jsonl(path)
        write = interleaved({"json.dumps": lambda: [jl.to_json_exact(e) for e in events],
                             "to_json": lambda: [jl.to_json(e) for e in events]}, rounds)
        print(f"  writing {len(events):,} events: json.dumps(to_dict) {write['json.dumps']:.3f} s, "
              f"to_json {write['to_json']:.3f} s ({write['json.dumps'] / write['to_json']:.1f}x faster)")
    digest = RunFold.read(path)
    print(f"  digest: {digest.counts['StepEnded']:,} StepEnded -> {len(digest.steps.rows())} rows, "
          f"last step {digest.last_step.step if digest.last_step else None}")


def make_runs(root: Path, count: int) -> None:
    """`count` run folders: most finished (summary), every tenth killed mid-run with a 200 KB stream."""
    for i in range(count):
        folder = root / f"20260101-{i:06d}-scalar-bench"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({**CONFIG, "lr": 0.01 * (1 + i % 7)}, indent=2))
        if i % 10 == 9:
            make_record(folder / "events.jsonl", 800)
            RunLock(folder).acquire().release()
        else:
            (folder / "events.jsonl").write_bytes(b"")
            (folder / "summary.json").write_text(json.dumps({
                "reason": "completed", "steps": 750, "epochs_completed": 3, "seconds": 60.0 + i,
                "test_accuracy": 0.9, "best_val_accuracy": 0.91, "started_at": "2026-01-01T00:00:00Z"}, indent=2))


def minimal_read(root: Path) -> int:
    """The baseline for the table: json.loads of each run's config.json and summary.json, nothing more."""
    n = 0
    for folder in sorted(root.iterdir()):
        json.loads((folder / "config.json").read_text())
        summary = folder / "summary.json"
        if summary.exists():
            json.loads(summary.read_text())
        n += 1
    return n


def bench_runs(root: Path, count: int, rounds: int) -> None:
    runs = root / "runs"
    make_runs(runs, count)
    times = interleaved({"base": lambda: minimal_read(runs), "table": lambda: list_runs_table(runs),
                         "text": lambda: format_table(list_runs_table(runs))}, rounds)
    base, table, text = times["base"], times["table"], times["text"]
    rows = list_runs_table(runs)
    statuses = {s: sum(r.status == s for r in rows) for s in {r.status for r in rows}}
    print(f"\nruns table, {count:,} runs, best of {rounds}: {statuses}")
    print(f"  config+summary json.loads {base:6.3f} s")
    print(f"  list_runs_table           {table:6.3f} s   {table / base:5.2f}x   (+ text table {text:.3f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", default="100000,1000000")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="open-record-") as tmp:
        root = Path(tmp)
        for lines in (int(n) for n in args.lines.split(",") if n):
            bench_record(root, lines, args.rounds)
        if args.runs:
            bench_runs(root, args.runs, args.rounds)


if __name__ == "__main__":
    main()
