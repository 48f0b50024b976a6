"""Render every screen of the real app (the handmade engine training on the embedded sample) into screenshots/.

At 160x45 (NAME.svg) and at 100x30 (NAME-100x30.svg, the compact layout): the dashboard idle, training, its
help, an invalid form, the learning-rate dialog, the digits screen (grid, confusion, a drawn digit), the runs
table, three runs compared, the inspector (and its graph view); the too-small message once. SVG with Textual's
own exporter, PNG with rsvg-convert when installed (`apt-get install librsvg2-bin`; a dev-only dependency).
Usage: python scripts/screenshots.py [--progress 0.45] [--sizes 160x45,100x30]
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
sys.path.insert(0, str(ROOT / "scripts"))

from core.config import TrainConfig  # noqa: E402
from tui.app import make_app  # noqa: E402

WIDE, SMALL = (160, 45), (100, 30)
SUFFIX = ""  # "" at 160x45, "-100x30" at 100x30 (set by main for each size)


def write(app, out: Path, name: str) -> None:
    """Save an SVG (spaces preserved, so renderers keep the gaps after styled text) and a PNG."""
    svg = out / f"{name}{SUFFIX}.svg"
    app.save_screenshot(filename=svg.name, path=str(out))
    text = svg.read_text(encoding="utf-8")
    svg.write_text(text.replace("<svg ", '<svg xml:space="preserve" ', 1), encoding="utf-8")
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", str(svg), "-o", str(svg.with_suffix(".png"))], check=True)
    run = app.history.current
    where = f"{app.state}, step {run.step}" if run else app.state
    png = "(+ png)" if shutil.which("rsvg-convert") else "(no rsvg-convert: svg only)"
    print(f"wrote {svg.relative_to(ROOT)} ({where})", png)


async def wait_for(pilot, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await pilot.pause(0.1)


async def digits_views(app, pilot, out: Path) -> None:
    """The digits screen of the run in progress: its grid, its confusion matrix, a digit drawn by keys."""
    await pilot.press("d")
    screen = app.screen
    await wait_for(pilot, lambda: screen.grid.live.known().sum() >= 24, 60)
    await pilot.pause(0.5)
    write(app, out, "digits-grid")
    await pilot.press("m")
    await pilot.pause(0.5)
    write(app, out, "digits-confusion")
    await pilot.press("w")
    # A 7: the top bar, then the diagonal down to the bottom left (shift+arrows draw).
    await pilot.press(*["up"] * 9, *["left"] * 7, "space", *["shift+right"] * 13)
    for _ in range(17):
        await pilot.press("shift+down", "shift+left" if _ % 3 else "shift+down")
    await wait_for(pilot, lambda: False, 1.5)  # the canvas asks the model at most 10 times a second
    write(app, out, "digits-draw")
    await pilot.press("escape")
    await pilot.pause(0.3)


def lr_runs(runs_dir: Path) -> list[Path]:
    """Three tiny real runs of the handmade engine that differ only by learning rate."""
    from core.backends import RunControl
    from core.session import run_training

    dirs = []
    for lr in (0.1, 0.05, 0.01):
        config = TrainConfig(hidden=(32,), epochs=2, train_subset=1500, val_subset=300, test_subset=300, lr=lr)
        summary = run_training(config, lambda event: None, RunControl(), runs_dir=runs_dir)
        dirs.append(runs_dir / summary.run_id)
    return dirs


async def compare_views(out: Path, runs_dir: Path, size: tuple[int, int]) -> None:
    """The runs table and three learning rates overlaid (0.05 pinned as the baseline, smoothed, log loss)."""
    app = make_app(runs_dir=runs_dir)
    async with app.run_test(size=size) as pilot:
        await pilot.press("o")
        await pilot.pause(0.5)
        write(app, out, "runs-table")
        await pilot.press("space", "down", "space", "b", "down", "space", "c")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen" and app.screen.runs, 30)
        await pilot.press("plus", "l")  # smoothing 0.6 -> 0.8, log10 of the loss
        await pilot.pause(0.8)
        write(app, out, "compare")


async def dashboard_views(out: Path, progress: float, size: tuple[int, int]) -> None:
    """Idle, a finished run under a training one, help, the rate dialog, the digits screen, an invalid form."""
    first = TrainConfig(epochs=1, train_subset=1000, lr=0.01)
    app = make_app(first, runs_dir="runs")
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.5)
        write(app, out, "idle")
        await pilot.press("s")  # a first, slower-learning run: it stays on the plot, dimmed
        await wait_for(pilot, lambda: app.state not in ("starting", "running"), 120)
        await pilot.press("v")  # compact: back to the form (the full layout has no pages: v does nothing)
        app.form.load(TrainConfig())
        await pilot.pause(0.3)
        run_id = app.history.current.run_id if app.history.current else ""
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.current is not None and app.history.current.run_id != run_id
                       and app.history.current.last_step is not None
                       and app.history.current.last_step.progress >= progress, 300)
        app.redraw(force=True)
        await pilot.pause(0.3)
        write(app, out, "dashboard")
        await pilot.press("L")  # while the run goes: its rate can change
        await pilot.pause(0.5)
        write(app, out, "learning-rate")
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause(0.5)
        write(app, out, "help")
        await pilot.press("escape")
        await digits_views(app, pilot, out)
        await pilot.press("x")
        await wait_for(pilot, lambda: app.state == "stopped", 30)
        await pilot.press("v")
        app.query_one("#cfg-lr").value = "fast"
        app.query_one("#cfg-devices").value = "2"
        await pilot.pause(0.3)
        write(app, out, "invalid-config")


async def main(progress: float, out: Path, sizes: list[tuple[int, int]]) -> None:
    global SUFFIX
    import screenshot_inspector

    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mnist-dash-shots-"))
    os.chdir(work)  # so the status shows a realistic relative run directory: runs/<run-id>
    os.environ["XDG_CONFIG_HOME"] = str(work / "config")  # chart settings of this script, not the user's
    lr_runs(work / "lr-runs")
    for size in sizes:
        SUFFIX = "" if size == WIDE else f"-{size[0]}x{size[1]}"
        await dashboard_views(out, progress, size)
        await compare_views(out, work / "lr-runs", size)
        for svg in await screenshot_inspector.shoot(out, 8.0, size=size, suffix=SUFFIX):
            screenshot_inspector.to_png(svg)
            print(f"wrote {svg.relative_to(ROOT)}")
    SUFFIX = ""
    small = make_app()
    async with small.run_test(size=(90, 24)) as pilot:
        await pilot.pause(0.3)
        write(small, out, "too-small")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--progress", type=float, default=0.45, help="fraction of the second run to show")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--sizes", default="160x45,100x30", help="terminal sizes, COLSxROWS, comma-separated")
    args = parser.parse_args()
    sizes = [tuple(int(n) for n in size.split("x")) for size in args.sizes.split(",")]
    asyncio.run(main(args.progress, args.out.resolve(), sizes))  # type: ignore[arg-type]
