"""Drawing helpers for the digits screen: images and heatmaps as half-block text, probability bars, colours.

Two pixels share one terminal cell: the upper one is the foreground of `▀`, the lower one its background,
so a cell is about square and a 14×14 digit takes 14 columns × 7 rows.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text

EIGHTHS = " ▏▎▍▌▋▊▉█"
RIGHT, WRONG, UNKNOWN = "#4ec94e", "#e0524f", "#8a8a8a"


@lru_cache(maxsize=4096)
def _cell_style(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Style:
    return Style(color=Color.from_rgb(*top), bgcolor=Color.from_rgb(*bottom))


def half_blocks(rgb: np.ndarray) -> list[Text]:
    """(h, w, 3) uint8 colours -> ceil(h/2) lines of `▀` cells (an odd last row gets a black lower half)."""
    h = rgb.shape[0]
    if h % 2:
        rgb = np.concatenate([rgb, np.zeros((1, *rgb.shape[1:]), dtype=rgb.dtype)])
    # Quantise to 32 levels per channel: invisible on screen, and the style cache stays small.
    q = (rgb.astype(np.int32) // 8 * 8 + 4).clip(0, 255)
    lines = []
    for r in range(0, q.shape[0], 2):
        top, bottom = q[r].tolist(), q[r + 1].tolist()
        text = Text()
        for t, b in zip(top, bottom, strict=True):
            text.append("▀", _cell_style(tuple(t), tuple(b)))
        lines.append(text)
    return lines


def upscale(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of a 2-D array by an integer factor."""
    return pixels if factor <= 1 else np.kron(pixels, np.ones((factor, factor), dtype=pixels.dtype))


def pool(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Average-pool a square 2-D array by `factor` (the same pooling core.data applies to MNIST)."""
    if factor <= 1:
        return pixels
    side = pixels.shape[0] // factor
    return pixels.reshape(side, factor, side, factor).mean(axis=(1, 3))


def grey(pixels: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> (h, w, 3) grey levels."""
    v = (np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8)
    return np.repeat(v[..., None], 3, axis=2)


def heat(values: np.ndarray) -> np.ndarray:
    """Signed values -> (h, w, 3): red for positive, blue for negative, black for 0, scaled by max |value|."""
    top = float(np.max(np.abs(values))) if values.size else 0.0
    t = values / top if top > 0 else np.zeros_like(values)
    t = np.sign(t) * np.sqrt(np.abs(t))  # sqrt: small gradients stay visible beside the largest one
    rgb = np.zeros((*values.shape, 3), dtype=np.float64)
    rgb[..., 0] = np.clip(t, 0, 1) * 255
    rgb[..., 2] = np.clip(-t, 0, 1) * 255
    rgb[..., 1] = np.abs(t) * 60  # a little green lifts the strongest cells towards white-ish
    return rgb.astype(np.uint8)


def image_lines(image: np.ndarray, side: int, scale: int = 1) -> list[Text]:
    """A flat side*side image in [0, 1] as half-block lines, enlarged by `scale`."""
    return half_blocks(grey(upscale(np.asarray(image, dtype=np.float64).reshape(side, side), scale)))


def heat_lines(values: np.ndarray, side: int, scale: int = 1) -> list[Text]:
    """A flat side*side signed map as a blue/red half-block heatmap."""
    return half_blocks(heat(upscale(np.asarray(values, dtype=np.float64).reshape(side, side), scale)))


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of `width` cells filled to `fraction`, with eighth-block resolution."""
    eighths = int(round(max(0.0, min(1.0, fraction)) * width * 8))
    full, rest = divmod(eighths, 8)
    text = "█" * full + (EIGHTHS[rest] if rest else "")
    return text.ljust(width)


def top3(probs: np.ndarray | None, width: int = 14) -> Text:
    """The three likeliest digits, each with a small bar: '7██▌1▎  9▏  '."""
    text = Text()
    if probs is None:
        return text.append("·" * width, UNKNOWN)
    cell = max(2, (width - 2) // 3 - 1)
    for n, k in enumerate(np.argsort(-np.asarray(probs), kind="stable")[:3]):
        if n:
            text.append(" ")
        text.append(str(int(k)), "bold")
        text.append(bar(float(probs[k]), cell), "#6fa8dc")
    return text


SHADES = 16  # brightness levels of a confusion cell


@lru_cache(maxsize=4096)
def count_level(count: int, largest: int, levels: int = SHADES) -> int:
    """round(levels * log(1 + count) / log(1 + largest)), decided in exact integer arithmetic.

    level >= L + 1/2 exactly when (1 + count) ** (2 * levels) >= (1 + largest) ** (2L + 1): no libm, so no
    machine rounds a boundary case (counts 2 and 8 are exactly level 8 of 16) the other way.
    """
    if count <= 0:
        return 0
    base, top = count + 1, max(largest, 1) + 1
    if base >= top:
        return levels
    power = base ** (2 * levels)
    return sum(1 for step in range(levels) if power >= top ** (2 * step + 1))


def count_colour(count: int, largest: int, diagonal: bool) -> Style:
    """Confusion cell style: darker to brighter with the count (log scale, SHADES integer levels); green on the
    diagonal, red off it."""
    if count == 0:
        return Style(color="#5a5a5a")
    level = count_level(count, largest)
    base = (40, 170, 60) if diagonal else (200, 60, 50)
    bg = tuple(20 + ((c - 20) * level * 2 + SHADES) // (2 * SHADES) for c in base)  # rounded, in integers
    return Style(color="#ffffff" if level * 20 > 7 * SHADES else "#dddddd", bgcolor=Color.from_rgb(*bg))
