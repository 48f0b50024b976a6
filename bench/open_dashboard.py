"""Time `--open` of a long record in the real dashboard, against plain json.loads of the same lines.

Usage: python bench/open_dashboard.py [--lines 100000,1000000]

Writes a synthetic record (bench/open_record.py's mix: mostly StepEnded) into a temporary run folder, then
times make_app(open_run=...) under Textual's test harness until the first frame with the run drawn (the
app's own start-up included), and json.loads over every line of the same file, in the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import open_record  # noqa: E402

from core.config import TrainConfig  # noqa: E402
from core.records.runs import RunRecorder  # noqa: E402


def plain_json(path: Path) -> float:
    started = time.perf_counter()
    with open(path, "rb") as fh:
        for line in fh:
            json.loads(line)
    return time.perf_counter() - started


async def open_in_dashboard(runs: Path) -> tuple[float, int | None]:
    from tui.app import make_app

    started = time.perf_counter()
    app = make_app(TrainConfig(), runs_dir=runs, open_run=runs / "r")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        seconds = time.perf_counter() - started
        current = app.controller.history.current
    return seconds, current.step if current else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", default="100000,1000000", help="record sizes, comma-separated")
    args = parser.parse_args()
    for lines in (int(n) for n in args.lines.split(",")):
        runs = Path(tempfile.mkdtemp(prefix="mnist-dash-open-"))
        with RunRecorder(runs, "r", TrainConfig()) as recorder:
            recorder.write_summary({"reason": "completed"})
        open_record.make_record(runs / "r" / "events.jsonl", lines)
        baseline = plain_json(runs / "r" / "events.jsonl")
        seconds, step = asyncio.run(open_in_dashboard(runs))
        print(f"{lines:,} lines: the dashboard shows the run (step {step:,}) {seconds:.2f} s after make_app; "
              f"json.loads of the same lines {baseline:.2f} s ({seconds / baseline:.2f}x)")


if __name__ == "__main__":
    main()
