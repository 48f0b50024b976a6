"""The digits canvas's answer time in the real app while the handmade engine trains the default network.

Usage: python bench/canvas_latency.py [--data-dir DIR]

Starts a run of the default config (196-64-32-10, handmade engine) in the dashboard under Textual's test
harness, opens the digits screen's canvas, paints a pixel at a time and reads the time each answer (the ten
probabilities and the saliency map, from the probe) took, as the screen shows it. Target: about 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.config import TrainConfig  # noqa: E402
from tui.app import make_app  # noqa: E402


async def measure(data_dir: str | None) -> None:
    runs = Path(tempfile.mkdtemp(prefix="mnist-dash-canvas-"))
    app = make_app(TrainConfig(epochs=20), runs_dir=runs, data_dir=data_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("s")
        for _ in range(100):
            await pilot.pause(0.1)
            if app.controller.probe is not None and app.controller.data is not None:
                break
        await pilot.pause(1.0)
        for key in ("d", "w"):
            await pilot.press(key)
            await pilot.pause(0.3)
        pane = app.screen.query_one("DrawPane")
        seen = []
        for i in range(12):
            await pilot.press("down" if i % 2 else "right")
            await pilot.press("space")
            await pilot.pause(0.3)
            seen.append(pane.seconds * 1000)
        print(f"canvas answers while training (probe call): median {statistics.median(seen):.0f} ms, "
              f"max {max(seen):.0f} ms, n={len(seen)}")
        await pilot.press("escape")
        await pilot.press("x")
        await pilot.pause(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "mnist"))
    args = parser.parse_args()
    asyncio.run(measure(args.data_dir if Path(args.data_dir).is_dir() else None))


if __name__ == "__main__":
    main()
