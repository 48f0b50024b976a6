"""Key-press-to-screen-update latency while the handmade engine trains, on every screen (target p95 <= 100 ms).

Runs the real app on a pseudo-terminal, starts a run of the scalar engine (it holds the GIL), then, in rounds,
presses keys on each of the four screens and times each key from the byte written to the first frame that
shows its effect:
- dashboard: `p` (pause: until "Resume (p)" is drawn; the engine is busy when the key arrives), `?` (the help
  overlay opens) and `b` (refused while a run goes: a notification appears);
- inspector: `i` (the screen opens), `p` (the header says "paused") and `i` back to the dashboard;
- digits: `d` (the screen opens), `.` and `,` (next and previous page of digits);
- compare: `o` (the runs table opens; a finished run is made beforehand so there are two), `c` after selecting
  both (the compare screen opens), `l` twice (the loss axis: log10, then linear).
Keys pressed while the engine is paused (resume) are not measured. With --compare it also measures the app
without its latency measures (the cyclic GC frozen once the model exists, the trainer stepping aside while a
key is handled, a 1 ms GIL switch interval), interleaved, and the idle dashboard as a baseline.
Usage: python bench/tui_latency.py [--presses 20] [--screens dashboard,inspector,digits,compare] [--compare] [--busy 1]
       [--raw]
The machine's load (uptime) is printed: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tui_pty import ROOT, PtyApp, percentile  # noqa: E402

CODE = (
    "import tui.app as a\n"
    "from core.config import TrainConfig\n"
    "{patch}"
    "a.make_app(TrainConfig(epochs=100, train_subset=2000)).run()\n"
)
SCREENS = ("dashboard", "inspector", "digits", "compare")
ESC_WAIT = 0.3  # escape is told from an escape sequence by waiting (ESCDELAY, 100 ms): never measured

# The app's three latency measures, each undone by a patch in the child process.
NO_YIELD = "import tui.runner as r\nr.UiControl.ui_busy = lambda self: None\n"
NO_FREEZE = "import tui.runner as r\nr.GcFreeze.freeze = lambda self: None\n"
PLAIN = "import tui.priority as p\np.RUN_SWITCH_INTERVAL = 0.005\n" + NO_YIELD + NO_FREEZE
ONE_FRAME = "import tui.priority as p\np.SETTLE_FRAMES = 0\n"


class Session:
    """One app on a pty, training; `key` presses and times one key."""

    def __init__(self, app: PtyApp, results: dict[str, list[float]], rng: random.Random, train: bool) -> None:
        self.app, self.results, self.rng, self.train = app, results, rng, train

    def key(self, name: str | None, data: bytes, marker: bytes, timeout: float = 10.0) -> bool:
        """Press `data`, wait for `marker`; record the latency under `name` (None: not measured)."""
        sent = self.app.send(data)
        seen = self.app.expect(marker, timeout)
        if seen is not None and name is not None:
            self.results.setdefault(name, []).append(seen - sent)
        self.app.drain(self.rng.uniform(0.15, 0.35))
        return seen is not None

    def dashboard(self) -> None:
        if self.train:
            self.key("dashboard: pause (p)", b"p", b"Resume (p)")
            self.key(None, b"p", b"Pause (p)")  # resume: the engine was idle when this key arrived
        self.key("dashboard: help (?)", b"?", b"this")  # "this help": the compositor may cut between words
        self.key(None, b"?", b"")  # close; only the region under the overlay is repainted
        if self.train:
            self.key("dashboard: refused (b)", b"b", b"fixed while")

    def inspector(self) -> None:
        if not self.key("inspector: open (i)", b"i", b"Gradient inspector"):
            return
        if self.train:
            self.key("inspector: pause (p)", b"p", b"paused")
            self.key(None, b"p", b"running")
        self.key("inspector: back (i)", b"i", b"Start (s)" if not self.train else b"Pause (p)")

    def digits(self) -> None:
        if not self.key("digits: open (d)", b"d", b"page 1/"):
            return
        self.key("digits: next page (.)", b".", b"page 2/")
        self.key("digits: previous page (,)", b",", b"page 1/")
        self.app.send(b"\x1b")
        self.app.drain(ESC_WAIT)

    def compare(self) -> None:
        if not self.key("compare: runs table (o)", b"o", b"Runs in"):
            return
        self.app.send(b" ")  # select the first run, then the second
        self.app.drain(0.2)
        self.app.send(b"\x1b[B")
        self.app.drain(0.2)
        self.app.send(b" ")
        if self.app.expect(b"2 selected", 10) is not None:
            self.app.drain(0.2)
            if self.key("compare: open (c)", b"c", b"smoothing"):
                self.key("compare: log loss (l)", b"l", b"loss log10")
                self.key("compare: linear loss (l)", b"l", b"loss linear")
                self.app.send(b"\x1b")
                self.app.drain(ESC_WAIT)
        self.app.send(b"\x1b")
        self.app.drain(ESC_WAIT)
        self.app.send(b"\x1b")  # from the table back to the dashboard (once the table returns there itself)
        self.app.expect(b"Pause (p)" if self.train else b"Start (s)", 5)
        self.app.drain(ESC_WAIT)


def finished_run(cwd: str) -> None:
    """Write one small finished run into cwd/runs, so that the runs table has two runs to compare."""
    subprocess.run([sys.executable, "-m", "core", "--headless", "--backend", "scalar", "--epochs", "1",
                    "--train-subset", "200", "--val-subset", "100", "--test-subset", "100", "--hidden", "8"],
                   cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, check=True,
                   timeout=300)


def measure(presses: int, screens: tuple[str, ...], patch: str = "", train: bool = True) -> dict[str, list[float]]:
    """Latencies per key; with train=False the same screens with no run going (the baseline: UI work alone)."""
    results: dict[str, list[float]] = {}
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as cwd:
        if "compare" in screens:
            finished_run(cwd)
            if not train:
                finished_run(cwd)
        app = PtyApp(CODE.format(patch=patch), cwd=cwd)
        session = Session(app, results, rng, train)
        try:
            if app.expect(b"Start (s)", 30) is None:
                raise SystemExit("the app did not draw its first frame")
            app.drain(0.5)
            if train:
                app.send(b"s")
                if app.expect(b"samples/s", 60) is None:
                    raise SystemExit("the run did not start")
            app.drain(1.0)
            for _ in range(presses):
                for screen in screens:
                    getattr(session, screen)()
        finally:
            app.close()
    return results


def report(title: str, results: dict[str, list[float]], presses: int, raw: bool = False) -> list[float]:
    """Print each key's p50/p95/p99/max and every screen's (`raw`: each press too); return all latencies in ms."""
    print(title)
    by_screen: dict[str, list[float]] = {}
    for key, values in results.items():
        ms = [v * 1000 for v in values]
        by_screen.setdefault(key.split(":")[0], []).extend(ms)
        print(f"  {key:28s} p50 {statistics.median(ms):6.1f}   p95 {percentile(ms, 95):6.1f}   "
              f"max {max(ms):6.1f} ms   ({len(ms)}/{presses} seen)")
        if raw:
            print("      in order: " + " ".join(f"{v:.0f}" for v in ms))
    every = [v for ms in by_screen.values() for v in ms]
    for screen, ms in [*by_screen.items(), ("all keys", every)]:
        if ms:
            print(f"  == {screen:25s} p50 {statistics.median(ms):6.1f}   p95 {percentile(ms, 95):6.1f}   "
                  f"p99 {percentile(ms, 99):6.1f} ms   ({len(ms)} keys; target p95 <= 100, p99 <= 150)")
    return every


# name -> (title, patch); patch None: no run (the baseline).
VARIANTS = {
    "shipped": ("as shipped (GC frozen during runs, the trainer aside until the UI settles, 1 ms switch interval)",
                ""),
    "one-frame": ("the trainer aside for one frame only (wave 2's hold)", ONE_FRAME),
    "no-freeze": ("without the GC freeze", NO_FREEZE),
    "no-yield": ("without the GC freeze and without yielding", NO_FREEZE + NO_YIELD),
    "plain": ("none of the measures (a plain Textual app over the same trainer)", PLAIN),
    "idle": ("baseline: the same screens with no run going (the UI's own work and the machine's load)", None),
}


def load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} cores"
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=20, help="rounds over the screens (each key once a round)")
    parser.add_argument("--screens", default=",".join(SCREENS), help=f"comma-separated, of {', '.join(SCREENS)}")
    parser.add_argument("--compare", action="store_true",
                        help="also measure variants without the app's latency measures, interleaved in rounds "
                             "so that the machine's changing load hits every variant alike")
    parser.add_argument("--rounds", type=int, default=3, help="rounds for --compare")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"for --compare, comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--idle", action="store_true", help="only the baseline: the screens with no run going")
    parser.add_argument("--raw", action="store_true", help="also print every press's latency, in order")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="measure beside N CPU-bound processes (`while True: pass`), started first, killed after")
    args = parser.parse_args()
    competitors = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        run(args, parser)
    finally:
        for competitor in competitors:
            competitor.kill()
            competitor.wait()


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """The measurements the arguments ask for, reported."""
    screens = tuple(s for s in args.screens.split(",") if s)
    if unknown := set(screens) - set(SCREENS):
        parser.error(f"unknown screens: {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    print(f"load average before: {load()}" + (f"; beside {args.busy} busy process(es)" if args.busy else ""))
    if args.idle:
        report("no run going (the baseline):", measure(args.presses, screens, train=False), args.presses, args.raw)
    elif not args.compare:
        report("while the handmade engine trains (as shipped):", measure(args.presses, screens), args.presses,
               args.raw)
    else:
        names = [v for v in args.variants.split(",") if v]
        if unknown := set(names) - set(VARIANTS):
            parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
        totals: dict[str, dict[str, list[float]]] = {name: {} for name in names}
        per_round = max(1, args.presses // args.rounds)
        for _ in range(args.rounds):
            for name in names:
                patch = VARIANTS[name][1]
                got = measure(per_round, screens, patch or "", train=patch is not None)
                for key, values in got.items():
                    totals[name].setdefault(key, []).extend(values)
        for name, results in totals.items():
            report(VARIANTS[name][0] + ":", results, per_round * args.rounds, args.raw)
    print(f"load average after: {load()}   ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
