"""Render the gradient inspector on a real handmade-engine run into screenshots/ (SVG; PNG via rsvg-convert).

    .venv/bin/python scripts/screenshot_inspector.py [--seconds 8] [--out screenshots]

Trains the real scalar engine on the embedded MNIST sample (28x28 inputs, so the heatmap shows a digit-sized
receptive field) for a few seconds, pauses, opens the inspector, runs a gradient check and saves two views:
inspector.svg (watches, layer statistics, heatmap) and inspector-graph.svg (the graph around a node).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import TrainConfig  # noqa: E402
from tui.app import make_app  # noqa: E402

SIZE = (160, 45)
WATCH = ["L0.N5.w406", "L0.N5.b", "L0.N5.z", "L0.N5.a", "L1.N3.b", "loss"]
CONFIG = TrainConfig(hidden=(32,), input_size=28, train_subset=4000, val_subset=200, test_subset=200, epochs=5,
                     batch_size=8, lr=0.05, seed=0)


async def shoot(out: Path, seconds: float, size: tuple[int, int] = SIZE, suffix: str = "") -> list[Path]:
    """inspector{suffix}.svg and inspector-graph{suffix}.svg of a real run at `size`."""
    app = make_app(CONFIG, runs_dir=tempfile.mkdtemp(prefix="mnist-dash-shot-"), watch=WATCH)
    saved: list[Path] = []
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("s")
        deadline = time.monotonic() + seconds + 60
        started = None
        while time.monotonic() < deadline:
            await pilot.pause(0.25)
            run = app.history.current
            if run is not None and run.step > 0 and started is None:
                started = time.monotonic()
            if started is not None and time.monotonic() - started >= seconds:
                break
        await pilot.press("p")  # pause: a still picture of one sample's graph
        await pilot.pause(0.5)
        for _ in range(40):  # the probe publishes its snapshot (after backward, before the update) at once
            probe = app.controller.probe()
            if probe is not None and any(probe.incoming(0, 5)[1]):
                break
            await pilot.pause(0.25)
        await pilot.press("i")
        await pilot.pause(0.5)
        screen = app.screen
        checks = screen.query_one("#gradcheck")
        screen.watch_pane.table.move_cursor(row=1)  # the bias: nonzero whatever the pixel values
        await pilot.press("g")
        for _ in range(240):  # the first check imports torch for the float64 reference
            await pilot.pause(0.25)
            if not checks.busy:
                break
        screen.watch_pane.table.move_cursor(row=2)
        await pilot.press("g")
        for _ in range(120):
            await pilot.pause(0.25)
            if not checks.busy:
                break
        screen.watch_pane.table.move_cursor(row=0)
        screen.refresh_view(force=True)
        await pilot.pause(0.6)
        saved.append(Path(app.save_screenshot(f"inspector{suffix}.svg", path=str(out))))
        screen.watch_pane.table.move_cursor(row=2)
        await pilot.press("n")
        await pilot.pause(0.6)
        saved.append(Path(app.save_screenshot(f"inspector-graph{suffix}.svg", path=str(out))))
        await pilot.press("escape", "x")
        await pilot.pause(0.5)
    return saved


def to_png(svg: Path) -> Path | None:
    """PNG next to the SVG, when rsvg-convert is installed."""
    if shutil.which("rsvg-convert") is None:
        print("rsvg-convert not found: SVG only (apt-get install librsvg2-bin for PNGs)")
        return None
    png = svg.with_suffix(".png")
    subprocess.run(["rsvg-convert", "--background-color", "#0c0c0c", str(svg), "-o", str(png)], check=True)
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="training time before the picture")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for svg in asyncio.run(shoot(args.out, args.seconds)):
        png = to_png(svg)
        print(svg, png or "")


if __name__ == "__main__":
    main()
