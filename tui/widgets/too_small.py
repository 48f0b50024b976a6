"""A clear message instead of a squashed layout when the terminal is too small for the dashboard."""

from __future__ import annotations

from textual.geometry import Size
from textual.widgets import Static

MIN_WIDTH, MIN_HEIGHT = 100, 30


class TooSmall(Static):
    """Hidden unless its screen carries the `-too-small` class, which `check` sets from the terminal size."""

    def check(self, size: Size) -> bool:
        """Set the screen's class for `size`; True when the terminal is too small."""
        width, height = size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.screen.set_class(small, "-too-small")
        if small:
            self.update(f"mnist-dash needs a terminal of at least {MIN_WIDTH}x{MIN_HEIGHT}; this one is "
                        f"{width}x{height}.\nMake the window larger (it reflows), or press q to quit.")
        return small
