"""Time how long the digits grid takes to draw one page: the widget's render path, repeated; median and p95.

Two measures, in one headless app of the given size, with every digit answered (labels, bars, colours):
  render: a page flip (`action_page`) then the widget's `render_lines` over its whole region, the work
          Textual does on the next refresh, timed alone;
  press:  `pilot.press("pagedown")` then one `pilot.pause()`, the key's whole trip through the app.

    .venv/bin/python bench/digits_render.py --size 250x80 --repeat 40
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App, ComposeResult  # noqa: E402
from textual.geometry import Region  # noqa: E402

from core.data import read_sample  # noqa: E402
from tui.digits.grid import PredictionGrid  # noqa: E402
from tui.digits.selection import LivePredictions  # noqa: E402

SIDE = 14


def digits(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n real digits from the embedded sample, pooled to 14x14 floats in [0, 1]."""
    raw = read_sample()
    images, labels = raw["test_images"], raw["test_labels"].astype(np.int64)
    reps = -(-n // len(images))
    images, labels = np.concatenate([images] * reps)[:n], np.concatenate([labels] * reps)[:n]
    f = 28 // SIDE
    x = images.astype(np.float64).reshape(n, SIDE, f, SIDE, f).mean(axis=(2, 4)) / 255.0
    return x.reshape(n, SIDE * SIDE).astype(np.float32), labels


def quantiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return f"median {statistics.median(ms):7.2f} ms  p95 {p95:7.2f} ms  (n={len(ms)})"


class Bench(App[None]):
    """A bare app holding one focused, fully answered prediction grid."""

    def __init__(self, n: int) -> None:
        super().__init__()
        images, labels = digits(n)
        live = LivePredictions(n)
        rng = np.random.default_rng(0)
        live.update(range(n), rng.dirichlet(np.full(10, 0.3), size=n), step=100)
        self.grid = PredictionGrid(images, labels, SIDE, live=live, id="grid")
        self.grid.step = 100

    def compose(self) -> ComposeResult:
        yield self.grid


async def measure(size: tuple[int, int], repeat: int, n: int) -> None:
    app = Bench(n)
    async with app.run_test(size=size) as pilot:
        grid = app.grid
        grid.focus()
        await pilot.pause()
        cols, rows = grid.layout_grid()
        print(f"terminal {size[0]}x{size[1]}: {cols}x{rows} tiles a page, {grid.tile_pixels}px tiles, "
              f"{len(grid.order())} digits")
        region = Region(0, 0, grid.size.width, grid.size.height)
        for zoomed in (False, True):
            if grid.zoomed != zoomed:
                grid.action_zoom()
                await pilot.pause()
            render = []
            for _ in range(repeat):
                grid.action_page(1) if grid._has_page(1) else grid.action_page(-grid.page)
                t0 = time.perf_counter()
                grid.render_lines(region)
                render.append(time.perf_counter() - t0)
            press = []
            for _ in range(repeat):
                key = "pagedown" if grid._has_page(1) else "pageup"
                t0 = time.perf_counter()
                await pilot.press(key)
                await pilot.pause()
                press.append(time.perf_counter() - t0)
            label = "zoomed" if zoomed else "normal"
            print(f"{label:6} render: {quantiles(render)}")
            print(f"{label:6} press : {quantiles(press)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="250x80", help="terminal WIDTHxHEIGHT (default 250x80)")
    parser.add_argument("--repeat", type=int, default=40, help="page flips per measure (default 40)")
    parser.add_argument("--digits", type=int, default=2000, help="digits in the split (default 2000)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    asyncio.run(measure((width, height), args.repeat, args.digits))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
