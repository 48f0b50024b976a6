"""Render the real dashboard (the handmade engine training on the embedded sample) into screenshots/.

Writes SVG with Textual's own exporter and PNG with rsvg-convert when it is installed
(`apt-get install librsvg2-bin`; a dev-only dependency). Usage: python scripts/screenshots.py [--progress 0.45]
"""

from __future__ import annotations

import argparse
import asyncio
import os
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

SIZE = (160, 48)


def write(app, out: Path, name: str) -> None:
    """Save an SVG (spaces preserved, so renderers keep the gaps after styled text) and a PNG."""
    svg = out / f"{name}.svg"
    app.save_screenshot(filename=svg.name, path=str(out))
    text = svg.read_text(encoding="utf-8")
    svg.write_text(text.replace("<svg ", '<svg xml:space="preserve" ', 1), encoding="utf-8")
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", str(svg), "-o", str(out / f"{name}.png")], check=True)
    run = app.history.current
    where = f"{app.state}, step {run.step}" if run else app.state
    png = "(+ png)" if shutil.which("rsvg-convert") else "(no rsvg-convert: svg only)"
    print(f"wrote {svg.relative_to(ROOT)} ({where})", png)


async def wait_for(pilot, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await pilot.pause(0.1)


async def main(progress: float, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mnist-dash-shots-"))
    os.chdir(work)  # so the status shows a realistic relative run directory: runs/<run-id>
    first = TrainConfig(epochs=1, train_subset=1000, lr=0.01)
    app = make_app(first, runs_dir="runs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        write(app, out, "idle")
        await pilot.press("s")  # a first, slower-learning run: it stays on the plot, dimmed
        await wait_for(pilot, lambda: app.state not in ("starting", "running"), 120)
        app.form.load(TrainConfig())
        await pilot.pause(0.3)
        run_id = app.history.current.run_id if app.history.current else ""
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.current is not None and app.history.current.run_id != run_id
                       and app.history.current.last_step is not None
                       and app.history.current.last_step.progress >= progress, 300)
        app.redraw()
        await pilot.pause(0.3)
        write(app, out, "dashboard")
        await pilot.press("question_mark")
        await pilot.pause(0.5)
        write(app, out, "help")
        await pilot.press("escape")
        await pilot.press("x")
        await wait_for(pilot, lambda: app.state == "stopped", 30)
        app.query_one("#cfg-lr").value = "fast"
        app.query_one("#cfg-devices").value = "2"
        await pilot.pause(0.3)
        write(app, out, "invalid-config")
    small = make_app()
    async with small.run_test(size=(90, 24)) as pilot:
        await pilot.pause(0.3)
        write(small, out, "too-small")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--progress", type=float, default=0.45, help="fraction of the second run to show")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    args = parser.parse_args()
    asyncio.run(main(args.progress, args.out.resolve()))
