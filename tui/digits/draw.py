"""Draw a digit: the canvas, what the model sees, its ten probabilities and the saliency map beside them."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from tui.digits.canvas import DrawCanvas
from tui.digits.render import UNKNOWN, bar, heat_lines, image_lines

clock = time.perf_counter  # a name of its own so snapshot tests can fix the shown latency
SHOWN_PIXELS = 28  # the saliency map is drawn 28 pixels wide whatever the input size


def saliency_caption(probe: Any, target: int) -> str:
    """Where the gradient comes from, in words (the handmade engine says it is its own backward pass)."""
    n = probe.input_side * probe.input_side
    if getattr(probe, "graph_nodes", False):
        return (f"d(score of {target}) / d(pixel), by the Scalar graph's own backward pass into the {n} "
                "input pixels: each pixel is a Scalar leaf. Red raises the score, blue lowers it.")
    return (f"d(score of {target}) / d(pixel), by torch autograd into the {n} input pixels. "
            "Red raises the score, blue lowers it.")


class DrawPane(Horizontal):
    """Canvas on the left; the model's answer, refreshed in a thread worker as you draw, on the right."""

    DEFAULT_CSS = """
    DrawPane { height: 1fr; }
    DrawPane #draw-left { width: 30; padding: 0 1; }
    DrawPane #draw-probs { width: 30; padding: 0 1; }
    DrawPane #draw-saliency { width: 1fr; min-width: 30; padding: 0 1; }
    DrawPane .draw-title { text-style: bold; }
    DrawPane #draw-help, DrawPane #saliency-caption { color: $text-muted; }
    """

    def __init__(self, probe_source: Callable[[], Any], side: int, id: str | None = None) -> None:
        super().__init__(id=id)
        self.probe_source = probe_source
        self.side = side  # the run's input size, until a probe says otherwise
        self.dirty = True
        self.busy = False
        self.answer: tuple[list[float], list[float]] | None = None
        self.seconds = 0.0
        self.release: Callable[[], None] | None = None  # lets the training thread go on once the answer is in
        self.answered_step = -1

    def compose(self) -> ComposeResult:
        with Vertical(id="draw-left"):
            yield Static("Draw a digit", classes="draw-title")
            yield DrawCanvas(id="canvas")
            yield Static("", id="draw-seen")
        with Vertical(id="draw-probs"):
            yield Static("The model's answer", classes="draw-title")
            yield Static("", id="draw-probabilities")
            yield Static("arrows move · space paint · shift+arrows draw · backspace erase · c clear · "
                         "mouse: drag (right button erases) · on the grid, e copies a digit here · enter explains "
                         "a gradient on it", id="draw-help")
        with Vertical(id="draw-saliency"):
            yield Static("Saliency", classes="draw-title")
            yield Static("", id="saliency-map")
            yield Static("", id="saliency-caption")

    @property
    def canvas(self) -> DrawCanvas:
        return self.query_one(DrawCanvas)

    def on_mount(self) -> None:
        self.show()

    @on(DrawCanvas.Changed)
    def _canvas_changed(self) -> None:
        self.dirty = True
        self.show_seen()

    def model_side(self, probe: Any) -> int:
        return int(getattr(probe, "input_side", 0) or self.side)

    def image(self, side: int) -> np.ndarray:
        """The canvas at the model's input size, flat."""
        return self.canvas.surface.downsampled(side)

    def tick(self) -> None:
        """Called a few times a second: ask the model again if the drawing or the model changed."""
        if self.busy:
            return
        probe = self.probe_source()
        if probe is None:
            return
        step = probe.step()
        if not self.dirty and step == self.answered_step:
            return
        self.dirty, self.busy = False, True
        image = self.image(self.model_side(probe)).tolist()
        # An app that trains beside the UI (the dashboard) lets this answer have the GIL to itself.
        hold = getattr(self.app, "hold_training", None)
        self.release = hold() if hold is not None else None
        self.run_worker(lambda: self._ask(probe, image, step), thread=True, group="draw", exit_on_error=False)

    def _ask(self, probe: Any, image: list[float], step: int) -> None:
        started = clock()
        try:
            answer = probe.input_gradient(image)
        except Exception as exc:  # a probe that fails must not take the screen down
            self.app.call_from_thread(self._failed, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._answered, answer, clock() - started, step, probe)

    def _done(self) -> None:
        self.busy = False
        if self.release is not None:
            self.release, release = None, self.release
            release()

    def _failed(self, message: str) -> None:
        self._done()
        self.query_one("#saliency-caption", Static).update(Text(f"the model could not answer: {message}", "red"))

    def _answered(self, answer: tuple[list[float], list[float]], seconds: float, step: int, probe: Any) -> None:
        self._done()
        self.answer, self.seconds, self.answered_step = answer, seconds, step
        self.show(probe)

    def show_seen(self) -> None:
        probe = self.probe_source()
        side = self.model_side(probe)
        seen = self.query_one("#draw-seen", Static)
        if side == self.canvas.surface.side:
            seen.update(Text(f"the model sees it as drawn ({side}×{side})", UNKNOWN))
            return
        lines = [Text(f"what the model sees ({side}×{side}):", UNKNOWN),
                 *image_lines(self.image(side), side, max(1, 14 // side))]
        seen.update(Text("\n").join(lines))

    def show(self, probe: Any = None) -> None:
        """Redraw the probabilities and the saliency map from the last answer."""
        self.show_seen()
        probs_view = self.query_one("#draw-probabilities", Static)
        if self.answer is None:
            probs_view.update(Text("No model yet: start a run, or open a finished one.", UNKNOWN))
            return
        probs, grads = self.answer
        best = int(np.argmax(probs))
        lines = []
        for k, p in enumerate(probs):
            style = "bold #4ec94e" if k == best else ""
            lines.append(Text.assemble((f"{k} ", "bold"), (bar(p, 18), style or "#6fa8dc"), f" {p:6.1%}"))
        lines += [Text(), Text(f"answer: {best} ({probs[best]:.0%})", "bold"),
                  Text(f"model step {self.answered_step} · {self.seconds * 1000:.0f} ms", UNKNOWN)]
        probs_view.update(Text("\n").join(lines))
        side = int(round(len(grads) ** 0.5))
        heat = heat_lines(np.asarray(grads), side, max(1, SHOWN_PIXELS // side))
        self.query_one("#saliency-map", Static).update(Text("\n").join(heat))
        if probe is not None:
            self.query_one("#saliency-caption", Static).update(saliency_caption(probe, best))
