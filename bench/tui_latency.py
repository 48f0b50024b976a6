"""Key-press-to-screen-update latency of the dashboard while the handmade engine trains (target p95 <= 100 ms).

Runs the real app on a pseudo-terminal, starts a run of the scalar engine (it holds the GIL), then
repeatedly presses `p` (pause: measured until "Resume (p)" is drawn; the engine is busy when the key
arrives), `?` (the help overlay opens) and `b` (refused while a run goes: a notification appears), and
reports p50/p95/max per key. With
--compare it also measures the app without its latency measures (the cyclic GC frozen once the model
exists, the trainer stepping aside while a key is handled, a 1 ms GIL switch interval), interleaved.
Usage: python bench/tui_latency.py [--presses 30] [--compare]
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


# The app's three latency measures, each undone by a patch in the child process.
NO_YIELD = "import tui.runner as r\nr.UiControl.ui_busy = lambda self: None\n"
NO_FREEZE = "import tui.runner as r\nr.GcFreeze.freeze = lambda self: None\n"
PLAIN = "import tui.priority as p\np.RUN_SWITCH_INTERVAL = 0.005\n" + NO_YIELD + NO_FREEZE


def measure(presses: int, patch: str = "", train: bool = True) -> dict[str, list[float]]:
    """Latencies per key; with train=False only the help key, on an idle dashboard (the baseline)."""
    results: dict[str, list[float]] = {"pause (p)": [], "help open (?)": [], "backend refused (b)": []}
    if not train:
        results = {"help open (?)": []}
    with tempfile.TemporaryDirectory() as cwd:
        app = PtyApp(CODE.format(patch=patch), cwd=cwd)
        try:
            if app.expect(b"Start (s)", 30) is None:
                raise SystemExit("the app did not draw its first frame")
            app.drain(0.5)
            if train:
                app.send(b"s")
                if app.expect(b"samples/s", 60) is None:
                    raise SystemExit("the run did not start")
            app.drain(1.0)
            rng = random.Random(0)
            for _ in range(presses):
                if not train:
                    sent = app.send(b"?")
                    seen = app.expect(b"this", 10)
                    if seen is not None:
                        results["help open (?)"].append(seen - sent)
                    app.drain(0.2)
                    app.send(b"?")
                    app.drain(rng.uniform(0.2, 0.4))
                    continue
                sent = app.send(b"p")
                seen = app.expect(b"Resume (p)", 10)
                if seen is not None:
                    results["pause (p)"].append(seen - sent)
                app.drain(0.1)
                app.send(b"p")  # resume; not measured (the engine was idle when this key arrived)
                app.expect(b"Pause (p)", 10)
                app.drain(rng.uniform(0.2, 0.4))
                sent = app.send(b"?")
                seen = app.expect(b"this", 10)  # "this help": the compositor may cut the line between words
                if seen is not None:
                    results["help open (?)"].append(seen - sent)
                app.drain(rng.uniform(0.1, 0.3))
                # Close with ? (escape waits ESCDELAY, 100 ms, to tell it from a sequence). Not measured:
                # only the region under the overlay is repainted, with no text that is unique to it.
                app.send(b"?")
                app.drain(rng.uniform(0.2, 0.4))
                sent = app.send(b"b")  # refused while a run goes: a notification appears
                seen = app.expect(b"fixed while", 10)
                if seen is not None:
                    results["backend refused (b)"].append(seen - sent)
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


VARIANTS = {
    "as shipped (GC frozen during runs, trainer yields to the UI, 1 ms switch interval)": "",
    "without the GC freeze": NO_FREEZE,
    "without the GC freeze and without yielding": NO_FREEZE + NO_YIELD,
    "none of the three (a plain Textual app over the same trainer)": PLAIN,
    "baseline: idle dashboard, no training (what the machine's load alone costs)": None,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--compare", action="store_true",
                        help="also measure variants without the app's latency measures, interleaved in rounds "
                             "so that the machine's changing load hits every variant alike")
    parser.add_argument("--rounds", type=int, default=3, help="rounds for --compare")
    args = parser.parse_args()
    started = time.perf_counter()
    if not args.compare:
        report("dashboard while the handmade engine trains (as shipped):", measure(args.presses), args.presses)
    else:
        totals: dict[str, dict[str, list[float]]] = {name: {} for name in VARIANTS}
        per_round = max(1, args.presses // args.rounds)
        for _ in range(args.rounds):
            for name, patch in VARIANTS.items():
                got = measure(per_round, patch or "", train=patch is not None)
                for key, values in got.items():
                    totals[name].setdefault(key, []).extend(values)
        for name, results in totals.items():
            report(name + ":", results, per_round * args.rounds)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
