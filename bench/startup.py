"""Time from launching the dashboard to its first frame on a real pseudo-terminal (target <= 1.5 s).

Also reports whether torch or lightning were imported by the time the app quit (they must not be: the
Lightning backend imports them only when chosen, and then in a background thread).
Usage: python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tui_pty import PtyApp  # noqa: E402

CODE = (
    "import sys\n"
    "from tui.app import make_app\n"
    "make_app().run()\n"
    "print('IMPORTED', 'torch' in sys.modules, 'lightning' in sys.modules, flush=True)\n"
)
FIRST_FRAME = b"Start (s)"  # the start button is part of the first full frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times: list[float] = []
    imported = []
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(args.runs):
            app = PtyApp(CODE, cwd=cwd)
            try:
                seen = app.expect(FIRST_FRAME, timeout=30)
                if seen is None:
                    print("no first frame within 30 s; output tail:", bytes(app.output[-400:]))
                    sys.exit(1)
                times.append(seen - app.launched)
                app.drain(1.0)  # keys typed while Textual switches the terminal to raw mode are flushed
            finally:
                app.close()
            words = bytes(app.output).decode("utf-8", "replace").rsplit("IMPORTED", 1)[-1].split()[:2]
            imported.append(words != ["False", "False"])
    print(f"first frame after launch over {args.runs} runs: median {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s, max {max(times):.3f} s (target <= 1.5 s)")
    print(f"torch or lightning imported by the idle dashboard: {'yes' if any(imported) else 'no'}")


if __name__ == "__main__":
    main()
