"""The drawing canvas: 28×28 pixels in 28 columns × 14 rows, drawn with the mouse or the keyboard."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

from tui.digits.brush import SIDE, Surface
from tui.digits.render import half_blocks

CURSOR = np.array([255, 170, 0], dtype=np.uint8)


class DrawCanvas(Widget, can_focus=True):
    """Arrows move the cursor, space paints, backspace erases, shift+arrows paint as they move, c clears.

    Mouse: drag with the left button to paint, with the right button to erase. A terminal cell holds two
    pixel rows, so a mouse dab is centred between them.
    """

    BINDINGS = [
        Binding("left", "move(-1, 0)", "cursor", show=False),
        Binding("right", "move(1, 0)", "cursor", show=False),
        Binding("up", "move(0, -1)", "cursor", show=False),
        Binding("down", "move(0, 1)", "cursor", show=False),
        Binding("shift+left", "move(-1, 0, True)", "paint", show=False),
        Binding("shift+right", "move(1, 0, True)", "paint", show=False),
        Binding("shift+up", "move(0, -1, True)", "paint", show=False),
        Binding("shift+down", "move(0, 1, True)", "paint", show=False),
        Binding("space", "paint", "paint"),
        Binding("backspace", "erase", "erase"),
        Binding("c", "clear", "clear"),
    ]
    DEFAULT_CSS = "DrawCanvas { width: 28; height: 14; }"

    class Changed(Message):
        """The drawing changed."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.surface = Surface(SIDE)
        self.cursor = (SIDE // 2, SIDE // 2)  # (x, y) in pixels
        self._last: tuple[float, float] | None = None
        self._erasing = False

    @property
    def pixels(self) -> np.ndarray:
        return self.surface.pixels

    def _changed(self) -> None:
        self.refresh()
        self.post_message(self.Changed())

    # ---- keyboard -------------------------------------------------------------------------------------
    def action_move(self, dx: int, dy: int, paint: bool = False) -> None:
        x, y = self.cursor
        nx, ny = min(SIDE - 1, max(0, x + dx)), min(SIDE - 1, max(0, y + dy))
        self.cursor = (nx, ny)
        if paint:
            self.surface.stroke(x + 0.5, y + 0.5, nx + 0.5, ny + 0.5)
            self._changed()
        else:
            self.refresh()

    def action_paint(self) -> None:
        x, y = self.cursor
        self.surface.stamp(x + 0.5, y + 0.5)
        self._changed()

    def action_erase(self) -> None:
        x, y = self.cursor
        self.surface.stamp(x + 0.5, y + 0.5, erase=True)
        self._changed()

    def action_clear(self) -> None:
        self.surface.clear()
        self._changed()

    def load(self, image: np.ndarray, side: int) -> None:
        """Put a digit on the canvas to edit."""
        self.surface.load(image, side)
        self._changed()

    # ---- mouse ----------------------------------------------------------------------------------------
    @staticmethod
    def _point(event: events.MouseEvent) -> tuple[float, float]:
        return event.x + 0.5, event.y * 2 + 1.0

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self.focus()
        self.capture_mouse()
        self._erasing = event.button == 3
        self._last = self._point(event)
        self.cursor = (min(SIDE - 1, max(0, event.x)), min(SIDE - 1, max(0, event.y * 2)))
        self.surface.stamp(*self._last, erase=self._erasing)
        self._changed()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._last is None:  # not pressed (the mouse is captured from down to up)
            return
        point = self._point(event)
        self.surface.stroke(*self._last, *point, erase=self._erasing)
        self._last = point
        self._changed()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        self._last = None
        self.release_mouse()

    # ---- drawing --------------------------------------------------------------------------------------
    def render(self) -> Text:
        v = (np.clip(self.surface.pixels, 0, 1) * 255).astype(np.uint8)
        rgb = np.repeat(v[..., None], 3, axis=2)
        if self.has_focus:
            x, y = self.cursor
            rgb[y, x] = CURSOR if v[y, x] < 128 else CURSOR // 2
        return Text("\n").join(half_blocks(rgb))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
