"""The digits screen in a terminal: drawing with keys and mouse, picking a confusion cell, filters, snapshots.

Real digits (the embedded sample) and a small trained handmade network (tests/tui/test_digits_support.py).
Update snapshots after an intended change: pytest tests/tui/test_digits_screen.py --snapshot-update.
"""

from __future__ import annotations

import numpy as np
import pytest
from footer_fit import cut_footer_keys
from test_digits_support import tiny_data, trained_probe
from textual.app import App
from waiting import wait_for

from core.evaluation import evaluate_predictions
from tui.digits import DigitsScreen
from tui.digits.canvas import DrawCanvas
from tui.digits.draw import DrawPane

SIZE = (100, 30)


def evaluations(probe) -> list:
    """Two val evaluations of the same model (epochs 1 and 2; the second's loss differs)."""
    data = tiny_data()
    result = evaluate_predictions(np.array(probe.predict(data.val.images.tolist())), data.val.labels)
    return [result.to_event("run-t", step=10 * k, epoch=k, split="val", loss=1.0 / k) for k in (1, 2)]


class Host(App[None]):
    """A bare app that opens the digits screen, as the dashboard does on `d`."""

    def __init__(self, probe=None, evaluations_list=()) -> None:
        super().__init__()
        self.probe = probe or trained_probe()
        self.evaluations_list = list(evaluations_list)

    def on_mount(self) -> None:
        self.push_screen(DigitsScreen(lambda: self.probe, tiny_data(), lambda: self.evaluations_list))


async def settle(app: App, pilot, until=lambda: True) -> None:
    """Let timers fire and thread workers finish (bounded)."""
    for _ in range(40):
        await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        if until():
            break
    await pilot.pause()


def screen_of(app: App) -> DigitsScreen:
    assert isinstance(app.screen, DigitsScreen)
    return app.screen


async def test_drawing_with_keys_paints_exact_pixels_and_asks_the_model():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        canvas = app.screen.query_one(DrawCanvas)
        assert canvas.has_focus and canvas.cursor == (14, 14)
        await pilot.press("space")
        px = canvas.pixels
        assert px[14, 14] == 1.0 and px[13, 14] == px[15, 14] == px[14, 13] == px[14, 15] == 0.75
        assert np.count_nonzero(px) == 9
        await pilot.press("right", "right", "backspace")
        assert canvas.cursor == (16, 14)
        assert px[14, 15] == 0.25 and px[14, 14] == 1.0 and px[14, 16] == 0.0
        await pilot.press("shift+down", "shift+down")
        assert px[15, 16] == 1.0 and px[16, 16] == 1.0 and canvas.cursor == (16, 16)
        pane = app.screen.query_one(DrawPane)
        await settle(app, pilot, lambda: pane.answer is not None and not pane.dirty and not pane.busy)
        expected = app.probe.input_gradient(canvas.surface.downsampled(14).tolist())
        assert pane.answer == expected
        shown = str(app.screen.query_one("#draw-probabilities").render())
        best = int(np.argmax(expected[0]))
        assert f"answer: {best} ({expected[0][best]:.0%})" in shown
        await pilot.press("c")
        assert not canvas.pixels.any()


async def test_drawing_with_the_mouse_paints_a_stroke_and_right_button_erases():
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        canvas = app.screen.query_one(DrawCanvas)
        await pilot.mouse_down(canvas, offset=(5, 3))  # cell (5, 3) holds pixel rows 6 and 7 of column 5
        px = canvas.pixels
        assert px[6, 5] == px[7, 5] == 1.0 and px[5, 5] == px[8, 5] == 0.25
        await pilot.hover(canvas, offset=(9, 3))
        await pilot.mouse_up(canvas, offset=(9, 3))
        assert (px[6:8, 5:10] == 1.0).all() and px[6, 11] == 0.0
        await pilot.hover(canvas, offset=(20, 10))  # released: moving paints nothing
        assert px[20, 20] == 0.0
        await pilot.mouse_down(canvas, offset=(7, 3), button=3)
        await pilot.mouse_up(canvas, offset=(7, 3))
        assert px[6, 7] == px[7, 7] == 0.0 and px[6, 5] == 1.0


async def test_picking_a_confusion_cell_shows_exactly_that_cells_digits():
    probe = trained_probe()
    evs = evaluations(probe)
    data = tiny_data()
    predicted = np.array(probe.predict(data.val.images.tolist())).argmax(axis=1)
    (t, p), _ = max(((int(a), int(b)), 0) for a, b in zip(data.val.labels, predicted, strict=True) if a != b)
    app = Host(probe, evs)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("m")
        screen = screen_of(app)
        await pilot.press(*["down"] * t, *["right"] * p)
        assert screen.matrix.cursor == (t, p)
        grid = screen.cell_grid
        want = [int(i) for i in np.flatnonzero((data.val.labels == t) & (predicted == p))]
        assert sorted(grid.order()) == want and grid.filter.describe() == f"{t}s predicted as {p}"
        await pilot.press(*["left"] * (p - t) if p > t else ["right"] * (t - p))  # onto the diagonal
        assert screen.matrix.cursor == (t, t)
        assert grid.order() == [int(i) for i in np.flatnonzero((data.val.labels == t) & (predicted == t))]
        assert grid.note == ""  # complete: fewer than 200 mistakes
        await pilot.press("left_square_bracket")
        assert screen.matrix.current is evs[0]
        await pilot.press("enter", "e")  # into the cell's digits, then copy the first onto the canvas
        canvas = screen.query_one(DrawCanvas)
        first = grid.order()[0]
        assert np.array_equal(canvas.surface.downsampled(14), data.val.images[first].astype(np.float64))


async def test_grid_filters_sorting_and_live_answers():
    probe = trained_probe()
    evs = evaluations(probe)
    data = tiny_data()
    app = Host(probe, evs)
    async with app.run_test(size=SIZE) as pilot:
        screen = screen_of(app)
        grid = screen.grid
        await settle(app, pilot, lambda: grid.live.known().all())
        probs = np.array(probe.predict(data.val.images.tolist()))
        assert np.allclose(grid.live.probs, probs)  # the whole split answered, the page first
        await pilot.press("3")
        assert grid.order() == [int(i) for i in np.flatnonzero(data.val.labels == 3)]
        await pilot.press("x")
        assert grid.order() == [m[0] for m in evs[-1].mistakes]  # recorded order: most confident first
        await pilot.press("a", "s")
        confidence = probs.max(axis=1)
        assert grid.order() == sorted(range(len(confidence)), key=lambda i: (-confidence[i], i))
        await pilot.press("pagedown")
        assert grid.page == 1 and grid.visible() == grid.order()[grid.page_size:2 * grid.page_size]


async def test_no_model_yet_shows_labels_only():
    app = Host()
    app.probe = None
    async with app.run_test(size=SIZE) as pilot:
        grid = screen_of(app).grid
        await settle(app, pilot, lambda: grid.note != "")  # the grid's first tick (4 a second), even when loaded
        assert grid.note.startswith("no model yet") and not grid.live.known().any()


# ---- snapshots --------------------------------------------------------------------------------------------
@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setattr("tui.digits.draw.clock", lambda: 0.0)


def snapshot_app(keys: tuple[str, ...]):
    probe = trained_probe()
    app = Host(probe, evaluations(probe))

    async def run_before(pilot) -> None:
        grid = screen_of(app).grid
        await settle(app, pilot, lambda: grid.live.known().all())
        await pilot.press(*keys)
        pane = app.screen.query_one(DrawPane)
        await settle(app, pilot, lambda: grid.live.known().all() and not pane.busy and not pane.dirty
                     and screen_of(app).cell_grid.live.known()[screen_of(app).cell_grid.visible()].all())

    return app, run_before


@pytest.mark.parametrize("view, keys", [
    ("grid", ("x",)),
    ("confusion", ("m", *["down"] * 9, *["right"] * 4)),  # the 9s taken for 4s
    ("draw", ("w", "up", "up", "up", "up", "up", "up", "left", "left", "left", "shift+right", "shift+right",
              "shift+right", "shift+right", "shift+right", "shift+down", "shift+down", "shift+down",
              "shift+down", "shift+down", "shift+down", "shift+down", "shift+down", "shift+down",
              "shift+down", "shift+down", "shift+down")),
])
def test_snapshot(view, keys, snap_compare, fixed_clock):
    app, run_before = snapshot_app(keys)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_the_real_scalar_probe_answers_the_canvas():
    probe_module = pytest.importorskip("core.backends.scalar.probe")
    from core.config import TrainConfig

    config = TrainConfig()  # the default network, 196-64-32-10
    sizes = config.layer_sizes
    from core.nn import MLP

    model = MLP(sizes[0], list(sizes[1:]), activation=config.activation, seed=1)
    box = probe_module.SnapshotBox()
    box.publish(probe_module.take_snapshot(7, config, model.parameters(), None))
    app = Host(probe_module.ScalarProbe(box))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w", "space", "shift+down", "shift+down")
        pane = app.screen.query_one(DrawPane)
        await settle(app, pilot, lambda: pane.answer is not None and not pane.dirty and not pane.busy)
        probs, grads = app.probe.input_gradient(pane.image(14).tolist())
        assert pane.answer == (probs, grads) and len(grads) == 196 and any(grads)
        assert "Scalar graph's own backward pass" in str(app.screen.query_one("#saliency-caption").render())


async def test_mistakes_are_the_ones_the_model_makes_now():
    import dataclasses

    probe = trained_probe()
    data = tiny_data()
    evs = evaluations(probe)
    probs = np.array(probe.predict(data.val.images.tolist()))
    right = next(i for i in range(len(data.val.labels)) if probs[i].argmax() == data.val.labels[i])
    label = int(data.val.labels[right])
    # the last evaluation recorded this digit as a mistake; the model shown now gets it right
    stale = dataclasses.replace(evs[-1], mistakes=((right, label, (label + 1) % 10, 0.9), *evs[-1].mistakes))
    app = Host(probe, [evs[0], stale])
    async with app.run_test(size=SIZE) as pilot:
        grid = screen_of(app).grid
        await wait_for(pilot, lambda: grid.live.known().all())  # the whole split answered
        await pilot.press("x")
        assert right not in grid.order()
        assert grid.order() == [m[0] for m in evs[-1].mistakes]  # exactly the current mistakes
        assert all(probs[i].argmax() != data.val.labels[i] for i in grid.order())
        assert "mistakes now" in str(grid.render().plain.splitlines()[0])


async def test_a_followed_run_gets_its_model_when_its_checkpoint_appears():
    class Followed(App[None]):
        def __init__(self) -> None:
            super().__init__()
            self.probe, self.checkpoint, self.asked = None, False, 0

        def reload(self) -> str:  # the controller's load_viewed_probe: '' or why not
            self.asked += 1
            if not self.checkpoint:
                return "cannot look inside run-f: ValueError: run-f: the run has no checkpoint to look inside"
            self.probe = trained_probe()
            return ""

        def on_mount(self) -> None:
            self.push_screen(DigitsScreen(lambda: self.probe, tiny_data(), reload=self.reload))

    app = Followed()
    async with app.run_test(size=SIZE) as pilot:
        grid = screen_of(app).grid
        await wait_for(pilot, lambda: app.asked >= 1 and "checkpoint" in grid.note)  # RELOAD_S apart
        assert grid.note == "no model to read yet (the run has no checkpoint to look inside): labels only"
        app.checkpoint = True  # the followed run saved one (the end of its first epoch)
        await wait_for(pilot, lambda: grid.live.known().any() and grid.note == "")


@pytest.mark.parametrize("tab", ["g", "m", "w"])
async def test_the_footer_fits_whole_at_100_columns_on_every_tab(tab):
    app = Host(evaluations_list=evaluations(trained_probe()))
    app.bind("q", "quit", description="quit")  # the dashboard app's own key shows in every screen's footer
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press(tab)
        await settle(app, pilot)
        assert cut_footer_keys(screen_of(app)) == []


async def test_the_confusion_cells_title_is_whole_at_100_columns():
    from textual.geometry import Region

    app = Host(evaluations_list=evaluations(trained_probe()))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("m")
        await settle(app, pilot)
        grid = screen_of(app).cell_grid
        width = grid.content_size.width
        assert width < 40  # beside the matrix: the title does not fit on one line

        def shown() -> list[str]:  # the lines drawn, without the pane's left border
            return [strip.text.rstrip()[1:] for strip in grid.render_lines(Region(0, 0, *grid.outer_size))]

        total = len(grid.order())
        pages = -(-total // grid.page_size)
        lines = shown()
        # broken between its parts, each whole: what is shown, then how many and which page
        assert lines[0] == " 0s predicted right" and lines[1] == f" {total:,} · page 1/{pages}", lines[:3]
        cols, rows = grid.layout_grid()
        assert 2 + rows * (7 + 3) <= grid.size.height  # the tiles under the two title lines, none cut off
        grid.note = "the record keeps only the 200 most confident mistakes"
        grid.refresh()
        await pilot.pause()
        lines = shown()
        assert all(len(line) <= width for line in lines)
        note = " ".join(line.strip() for line in lines[2:4])
        assert note == grid.note, lines[:5]  # broken between words only where a part is wider than a line
