"""Render the explain screen of the real app on real runs of both backends into screenshots/ (SVG; PNG too).

    .venv/bin/python scripts/screenshot_explain.py [--out screenshots]

Trains the default network (196-64-32-10) for one epoch of 3,000 digits of the embedded sample on each backend
(seeded: the same numbers as the README's worked example), opens the run in the dashboard, watches the README's
weight in the inspector and explains it on validation digit 0 (`e`), then steps as a reader would. Writes
explain-160x45 (the backward walk at the hidden neuron's sum over paths), explain-100x30 (the three gradients)
and explain-lightning-160x45 (a first-layer weight of a zero pixel, on Lightning).
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

README_WEIGHT = "L1.N17.w11"  # a weight of the second layer; its unit fires on validation digit 0 (a 6)
ZERO_PIXEL_WEIGHT = "L0.N3.w100"  # pixel 100 of validation digit 0 is 0


def train(backend: str, runs_dir: Path) -> Path:
    from core.backends import RunControl
    from core.session import run_training

    config = TrainConfig(backend=backend, train_subset=3000, epochs=1, device="cpu")
    dirs: list[Path] = []
    run_training(config, lambda event: None, RunControl(), runs_dir=runs_dir, on_run_dir=dirs.append)
    return dirs[0]


def write(app, out: Path, name: str) -> None:
    svg = out / f"{name}.svg"
    app.save_screenshot(filename=svg.name, path=str(out))
    text = svg.read_text(encoding="utf-8")
    svg.write_text(text.replace("<svg ", '<svg xml:space="preserve" ', 1), encoding="utf-8")  # keep indents
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", str(svg), "-o", str(out / f"{name}.png")], check=True)
    print(f"wrote {svg}")


async def wait_for(pilot, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        await pilot.pause(0.1)


async def explain_view(run_dir: Path, address: str, size: tuple[int, int], keys: list[str], out: Path,
                       name: str) -> None:
    from tui.explain import ExplainScreen
    from tui.inspector import InspectorScreen

    app = make_app(runs_dir=run_dir.parent, open_run=run_dir)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.controller.data is not None and app.controller.probe() is not None)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectorScreen) and hasattr(app.screen, "watch_pane"))
        app.screen.add_watch(address)
        app.screen.watch_pane.table.focus()
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExplainScreen) and app.screen.explanation is not None)
        await pilot.press(*keys)
        await pilot.pause(0.5)
        write(app, out, name)


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        scalar, lightning = train("scalar", Path(work) / "runs"), train("lightning", Path(work) / "runs")
        await explain_view(scalar, README_WEIGHT, (160, 45), ["end", "left", "left", "left"], out, "explain-160x45")
        await explain_view(scalar, README_WEIGHT, (100, 30), ["end"], out, "explain-100x30")
        await explain_view(lightning, ZERO_PIXEL_WEIGHT, (160, 45), ["end"], out, "explain-lightning-160x45")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    asyncio.run(main(parser.parse_args().out))
