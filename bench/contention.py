"""Throughput on a busy CPU: the default Lightning config alone, then beside two CPU-bound competitor processes.

Each measurement trains in a fresh process (as a user's run would start) and reports the median samples/s of
its epochs (EpochEnded.samples_per_s: training steps only). Rows: the Lightning backend with the thread policy
(threads 0 = auto), with torch's default thread count (one per core: how it ran before the policy), and the
handmade engine, each headless, then Lightning and the handmade engine inside the real dashboard (Textual's
test harness), whose UI thread competes too. Competitors are `while True: pass` loops in subprocesses,
started after the idle runs and killed at the end. Target (issue 15): under competition the Lightning
backend keeps at least a third of its idle throughput on a 2-core machine, without losing idle speed.

    .venv/bin/python bench/contention.py [--data-dir DIR] [--repeats 3] [--competitors 2] [--skip-scalar]
                                         [--skip-dashboard]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist"
BUSY = "while True: pass"


def dashboard_child(backend: str, data_dir: str, epochs: int) -> None:
    """Train once in the real dashboard (Textual's test harness: the UI thread runs beside the training thread)."""
    import asyncio
    import tempfile

    from core.config import TrainConfig
    from core.events import EpochEnded, RunStarted
    from core.records.jsonl import read_jsonl
    from tui.app import make_app

    if backend == "lightning":
        config = TrainConfig(backend="lightning", device="cpu", epochs=epochs)
    else:
        config = TrainConfig(backend="scalar", epochs=1, train_subset=400, val_subset=50, test_subset=50)
    runs = Path(tempfile.mkdtemp(prefix="mnist-dash-contention-"))

    async def run() -> None:
        app = make_app(config, runs_dir=runs, data_dir=data_dir)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("s")
            for _ in range(6000):
                await pilot.pause(0.1)
                if app.controller.state in ("completed", "stopped", "failed", "diverged", "early_stopped"):
                    break

    asyncio.run(run())
    (record,) = runs.iterdir()
    events = read_jsonl(record / "events.jsonl")
    rates = [e.samples_per_s for e in events if isinstance(e, EpochEnded)]
    started = next(e for e in events if isinstance(e, RunStarted))
    print(json.dumps({"samples_per_s": statistics.median(rates), "threads": started.threads}))


def child(kind: str, threads: int, data_dir: str, epochs: int) -> None:
    """Train once in this process and print {"samples_per_s": ..., "threads": ...} as the last line."""
    sys.path[0] = str(REPO)  # this file's own folder must not shadow the lightning package
    if kind.startswith("dashboard-"):
        dashboard_child(kind.removeprefix("dashboard-"), data_dir, epochs)
        return
    from core.backends import RunControl, get_trainer
    from core.config import TrainConfig
    from core.data import find_and_load, prepare
    from core.events import EpochEnded, RunFailed, RunStarted

    if kind == "lightning":  # the default config, on the CPU; threads -1 = torch's own default (one per core)
        config = TrainConfig(backend="lightning", device="cpu", epochs=epochs, threads=max(threads, 0))
        if threads < 0:
            import torch

            config = config.replace(threads=torch.get_num_threads())
    else:  # the handmade engine's default network on fewer digits (its epoch takes seconds, not milliseconds)
        config = TrainConfig(backend="scalar", epochs=1, train_subset=400, val_subset=50, test_subset=50)
    raw = find_and_load(data_dir, allow_download=False)
    data = prepare(raw, input_size=config.input_size, seed=config.seed, train_subset=config.train_subset,
                   val_subset=config.val_subset, test_subset=config.test_subset)
    events: list = []
    get_trainer(config.backend).fit(config, data, events.append, RunControl())
    failed = [e for e in events if isinstance(e, RunFailed)]
    if failed:
        raise SystemExit(f"run failed: {failed[0].error}")
    rates = [e.samples_per_s for e in events if isinstance(e, EpochEnded)]
    started = next(e for e in events if isinstance(e, RunStarted))
    print(json.dumps({"samples_per_s": statistics.median(rates), "threads": getattr(started, "threads", 0)}))


def measure(kind: str, threads: int, args: argparse.Namespace) -> tuple[float, int]:
    """(median samples/s over the repeats, threads the run used), each repeat in a fresh process."""
    rates, used = [], 0
    for _ in range(args.repeats):
        cmd = [sys.executable, __file__, "--child", kind, "--threads", str(threads), "--data-dir", str(args.data_dir),
               "--epochs", str(args.epochs)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
        if out.returncode != 0:
            raise SystemExit(f"{kind} run failed:\n{out.stderr[-2000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rates.append(result["samples_per_s"])
        used = result["threads"]
    return statistics.median(rates), used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--competitors", type=int, default=2)
    parser.add_argument("--skip-scalar", action="store_true")
    parser.add_argument("--child", choices=("lightning", "scalar", "dashboard-lightning", "dashboard-scalar"))
    parser.add_argument("--skip-dashboard", action="store_true")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.threads, str(args.data_dir), args.epochs)
        return
    rows = [("lightning, thread policy (auto)", "lightning", 0), ("lightning, torch default threads", "lightning", -1)]
    if not args.skip_scalar:
        rows.append(("handmade engine", "scalar", 0))
    if not args.skip_dashboard:  # the same runs inside the dashboard: its UI thread is one more competitor
        rows.append(("lightning in the dashboard", "dashboard-lightning", 0))
        if not args.skip_scalar:
            rows.append(("handmade engine in the dashboard", "dashboard-scalar", 0))
    print(f"cores available: {len(os.sched_getaffinity(0))}, competitors: {args.competitors} busy loops, "
          f"repeats: {args.repeats} (median), default config (lightning: {args.epochs} epochs of 2,000 digits)")
    idle = {name: measure(kind, threads, args) for name, kind, threads in rows}
    busy_procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.competitors)]
    try:
        time.sleep(0.5)
        busy = {name: measure(kind, threads, args) for name, kind, threads in rows}
    finally:
        for proc in busy_procs:
            proc.kill()
            proc.wait()
    print(f"{'run':34s} {'threads':>7s} {'idle samples/s':>15s} {'busy samples/s':>15s} {'busy/idle':>9s}")
    for name, _, _ in rows:
        (a, used), (b, _) = idle[name], busy[name]
        print(f"{name:34s} {used:7d} {a:15,.0f} {b:15,.0f} {b / a:9.1%}")
    auto, default = idle[rows[0][0]][0], idle[rows[1][0]][0]
    ratio = busy[rows[0][0]][0] / auto
    print(f"policy idle speed vs torch default: {auto / default:.2f}x; "
          f"policy under competition: {ratio:.1%} of idle (target >= 33%): {'met' if ratio >= 1 / 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
