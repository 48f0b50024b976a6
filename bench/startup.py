"""Time from launch to first frame: the dashboard against a bare Textual app, started the same way, same run.

Each run launches `python -c CODE` on a real pseudo-terminal, for the dashboard (`make_app().run()`) and for a
bare Textual app (a Static and a Footer), alternately, so both see the same machine load; the first frame is
the first output holding the app's marker text. Reports both medians and the dashboard's lag behind the bare
app (target: within 0.25 s), and whether torch or lightning were imported (they must not be).
Usage: python bench/startup.py [--runs 7] [--size 160x48]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tui_pty import PtyApp  # noqa: E402

DASHBOARD = (
    "import sys\n"
    "from tui.app import make_app\n"
    "make_app().run()\n"
    "print('IMPORTED', 'torch' in sys.modules, 'lightning' in sys.modules, flush=True)\n"
)
BARE = (
    "from textual.app import App\n"
    "from textual.widgets import Footer, Static\n"
    "class Bare(App):\n"
    "    BINDINGS = [('q', 'quit', 'quit')]\n"
    "    def compose(self):\n"
    "        yield Static('bare textual app')\n"
    "        yield Footer()\n"
    "Bare().run()\n"
)
MARKERS = {"dashboard": (DASHBOARD, b"Start (s)"), "bare": (BARE, b"bare textual app")}  # in the first frame
TARGET_LAG_S = 0.25


def first_frame(code: str, marker: bytes, size: tuple[int, int], cwd: str) -> tuple[float, bytes]:
    """Seconds from launch to the first frame showing `marker`, and the output after quitting."""
    app = PtyApp(code, size=size, cwd=cwd)
    try:
        seen = app.expect(marker, timeout=60)
        if seen is None:
            print("no first frame within 60 s; output tail:", bytes(app.output[-400:]))
            sys.exit(1)
        app.drain(0.5)  # keys typed while Textual switches the terminal to raw mode are flushed
        app.send(b"q")
        deadline = time.perf_counter() + 10
        while app.proc.poll() is None and time.perf_counter() < deadline:
            app.drain(0.05)  # read what it still paints: a full pty would block its exit
    finally:
        app.close()
    return seen - app.launched, bytes(app.output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size", default="160x48", help="terminal size, COLSxROWS")
    args = parser.parse_args()
    size = tuple(int(n) for n in args.size.split("x"))
    times: dict[str, list[float]] = {"bare": [], "dashboard": []}
    imported = []
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(args.runs):
            for name, (code, marker) in MARKERS.items():
                seconds, output = first_frame(code, marker, size, cwd)  # type: ignore[arg-type]
                times[name].append(seconds)
                text = output.decode("utf-8", "replace")
                if name == "dashboard" and "IMPORTED" in text:  # absent when it did not quit within 10 s
                    imported.append(text.rsplit("IMPORTED", 1)[-1].split()[:2] != ["False", "False"])
    for name, values in times.items():
        print(f"{name:>9}: first frame over {args.runs} runs at {args.size}: median {statistics.median(values):.3f} s,"
              f" min {min(values):.3f} s, max {max(values):.3f} s")
    lag = statistics.median(times["dashboard"]) - statistics.median(times["bare"])
    print(f"dashboard lag behind the bare Textual app (medians): {lag:+.3f} s (target <= {TARGET_LAG_S} s)")
    print(f"torch or lightning imported by the idle dashboard: {'yes' if any(imported) else 'no'}"
          f" ({len(imported)} of {args.runs} runs quit within 10 s to say)")


if __name__ == "__main__":
    main()
