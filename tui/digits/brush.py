"""The 28×28 drawing surface as plain numbers: a soft round brush like a pen, strokes, erasing.

Pixel (row, col) has its centre at (col + 0.5, row + 0.5). A stamp at (x, y) sets each pixel to the larger
of its value and the brush's intensity there: 1.0 within CORE of the centre, falling linearly to 0 at EDGE.
So a keyboard stamp on a pixel centre gives 1.0 there, 0.75 to its four neighbours and 1 - (√2 - CORE) ≈
0.336 diagonally, like the anti-aliased strokes of real MNIST digits.
"""

from __future__ import annotations

import math

import numpy as np

SIDE = 28
CORE = 0.75  # full ink within this distance of the pen's centre (pixels)
EDGE = 1.75  # no ink beyond this distance


def intensity(distance: np.ndarray) -> np.ndarray:
    """The brush's ink at a distance from its centre."""
    return np.clip(1.0 - (distance - CORE) / (EDGE - CORE), 0.0, 1.0)


class Surface:
    """A side×side image in [0, 1] that a brush paints on."""

    def __init__(self, side: int = SIDE) -> None:
        self.side = side
        self.pixels = np.zeros((side, side), dtype=np.float64)
        rows, cols = np.mgrid[0:side, 0:side]
        self._cx, self._cy = cols + 0.5, rows + 0.5

    def _ink(self, x: float, y: float) -> np.ndarray:
        return intensity(np.hypot(self._cx - x, self._cy - y))

    def stamp(self, x: float, y: float, erase: bool = False) -> None:
        """Paint (or erase) one dab of the brush centred at (x, y) in pixel units."""
        ink = self._ink(x, y)
        if erase:
            np.minimum(self.pixels, 1.0 - ink, out=self.pixels)
        else:
            np.maximum(self.pixels, ink, out=self.pixels)

    def stroke(self, x0: float, y0: float, x1: float, y1: float, erase: bool = False) -> None:
        """Dabs every half pixel from (x0, y0) to (x1, y1), so a fast drag still draws a line."""
        steps = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / 0.5))
        for i in range(1, steps + 1):
            t = i / steps
            self.stamp(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, erase)

    def clear(self) -> None:
        """Blank canvas."""
        self.pixels[:] = 0.0

    def load(self, image: np.ndarray, side: int) -> None:
        """Copy a flat side*side image in [0, 1] onto the surface, enlarged to fit (nearest neighbour)."""
        pixels = np.asarray(image, dtype=np.float64).reshape(side, side)
        factor = self.side // side
        if factor > 1:
            pixels = np.kron(pixels, np.ones((factor, factor)))
        self.pixels[:] = np.clip(pixels[: self.side, : self.side], 0.0, 1.0)

    def downsampled(self, side: int) -> np.ndarray:
        """The image at the model's input size, average-pooled like core.data pools MNIST; flat, float64."""
        factor = self.side // side
        pixels = self.pixels if factor <= 1 else self.pixels.reshape(side, factor, side, factor).mean(axis=(1, 3))
        return pixels.reshape(-1)
