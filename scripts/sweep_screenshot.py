"""Run a real sweep on the embedded MNIST sample, then render its sweep screen into screenshots/ (SVG, PNG).

    .venv/bin/python scripts/sweep_screenshot.py [--trials 12] [--workers 2] [--out screenshots]

The sweep is the command of the README's Sweeps section, small: the handmade engine on 14x14 digits, the
learning rate on a log scale and the hidden width among three, the median pruner; then `mnist-dash
--open-sweep` as the real app draws it (SweepApp), saved with Textual's own exporter.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.sweeps.study import sweep_dir  # noqa: E402
from tui.sweep.app import SweepApp  # noqa: E402

SIZE = (140, 44)
FLAGS = ["--input-size", "14", "--train-subset", "1500", "--val-subset", "300", "--test-subset", "300",
         "--epochs", "3", "--batch-size", "8", "--param", "lr=log(0.0003,1)", "--param", "hidden=[16,32,64]"]


async def shoot(folder: Path, out: Path) -> Path:
    app = SweepApp(folder, refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(400):
            if app.screen.loads:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        out.mkdir(parents=True, exist_ok=True)
        return Path(app.save_screenshot(filename="sweep.svg", path=str(out)))


def to_png(svg: Path) -> Path | None:
    if shutil.which("rsvg-convert") is None:
        print("rsvg-convert not found: SVG only (apt-get install librsvg2-bin for PNGs)")
        return None
    png = svg.with_suffix(".png")
    subprocess.run(["rsvg-convert", "--background-color", "#0c0c0c", str(svg), "-o", str(png)], check=True)
    return png


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    args = parser.parse_args()
    runs = Path(tempfile.mkdtemp(prefix="mnist-dash-sweep-shot-")) / "runs"
    command = [sys.executable, "-m", "core", "--headless", "--sweep", "lr-width", *FLAGS, "--trials",
               str(args.trials), "--workers", str(args.workers), "--runs-dir", str(runs)]
    print(" ".join(command[1:]))
    subprocess.run(command, cwd=ROOT, check=True)
    svg = asyncio.run(shoot(sweep_dir(runs, "lr-width"), Path(args.out)))
    print(svg, to_png(svg) or "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
