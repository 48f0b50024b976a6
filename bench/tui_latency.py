"""Key-press-to-screen-update latency of the dashboard while the handmade engine trains (target p95 <= 100 ms).

Runs the real app on a pseudo-terminal, starts a run of the scalar engine (it holds the GIL), then
repeatedly presses `p` (pause: measured until "Resume (p)" is drawn; the engine is busy when the key
arrives) and `?` twice (help screen open, close) and reports p50/p95/max per key. With
--switch-interval it also measures the app with Python's default 5 ms GIL switch interval for contrast.
Usage: python bench/tui_latency.py [--presses 30] [--switch-interval 0.005]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tui_pty import PtyApp, percentile  # noqa: E402

CODE = (
    "import tui.app as a\n"
    "from core.config import TrainConfig\n"
    "{patch}"
    "a.make_app(TrainConfig(epochs=100, train_subset=2000)).run()\n"
)


def measure(presses: int, switch_interval: float | None) -> dict[str, list[float]]:
    patch = f"a.RUN_SWITCH_INTERVAL = {switch_interval!r}\n" if switch_interval else ""
    results: dict[str, list[float]] = {"pause (p)": [], "help open (?)": [], "help close (?)": []}
    with tempfile.TemporaryDirectory() as cwd:
        app = PtyApp(CODE.format(patch=patch), cwd=cwd)
        try:
            if app.expect(b"Start (s)", 30) is None:
                raise SystemExit("the app did not draw its first frame")
            app.drain(0.5)
            app.send(b"s")
            if app.expect(b"samples/s", 60) is None:
                raise SystemExit("the run did not start")
            app.drain(1.0)
            rng = random.Random(0)
            for _ in range(presses):
                sent = app.send(b"p")
                seen = app.expect(b"Resume (p)", 10)
                if seen is not None:
                    results["pause (p)"].append(seen - sent)
                app.drain(0.1)
                app.send(b"p")  # resume; not measured (the engine was idle when this key arrived)
                app.expect(b"Pause (p)", 10)
                app.drain(rng.uniform(0.2, 0.4))
                sent = app.send(b"?")
                seen = app.expect(b"this help", 10)
                if seen is not None:
                    results["help open (?)"].append(seen - sent)
                app.drain(rng.uniform(0.1, 0.3))
                sent = app.send(b"?")  # not escape: terminals wait ESCDELAY (100 ms) to tell it from a sequence
                seen = app.expect(b"Pause (p)", 10)
                if seen is not None:
                    results["help close (?)"].append(seen - sent)
                app.drain(rng.uniform(0.2, 0.4))
        finally:
            app.close()
    return results


def report(title: str, results: dict[str, list[float]], presses: int) -> None:
    print(title)
    for key, values in results.items():
        if not values:
            print(f"  {key:18s} no screen update seen")
            continue
        ms = [v * 1000 for v in values]
        print(f"  {key:18s} p50 {statistics.median(ms):6.1f} ms   p95 {percentile(ms, 95):6.1f} ms   "
              f"max {max(ms):6.1f} ms   ({len(ms)}/{presses} seen)")
    every = [v * 1000 for values in results.values() for v in values]
    if every:
        print(f"  {'all keys':18s} p50 {statistics.median(every):6.1f} ms   p95 {percentile(every, 95):6.1f} ms"
              "   (target p95 <= 100 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="also measure with this GIL switch interval during runs (e.g. 0.005)")
    args = parser.parse_args()
    started = time.perf_counter()
    report("dashboard while the handmade engine trains (switch interval as shipped):",
           measure(args.presses, None), args.presses)
    if args.switch_interval:
        report(f"same, with sys.setswitchinterval({args.switch_interval}) during runs:",
               measure(args.presses, args.switch_interval), args.presses)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
