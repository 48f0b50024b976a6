"""Drawing helpers for the digits screen: images and heatmaps as half-block text, probability bars, colours.

Two pixels share one terminal cell: the upper one is the foreground of `▀`, the lower one its background,
so a cell is about square and a 14×14 digit takes 14 columns × 7 rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import groupby
from typing import Union

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.visual import RenderOptions, Visual

EIGHTHS = " ▏▎▍▌▋▊▉█"
RIGHT, WRONG, UNKNOWN = "#4ec94e", "#e0524f", "#8a8a8a"
# Parsed once: a page of tiles must not parse a style string per cell.
BOLD, REVERSE, GREY_TEXT, BAR = Style(bold=True), Style(reverse=True), Style.parse(UNKNOWN), Style.parse("#6fa8dc")
Piece = tuple[str, Union[Style, None]]  # text and its own style (None: the widget's)


@lru_cache(maxsize=4096)
def _cell_style(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Style:
    return Style(color=Color.from_rgb(*top), bgcolor=Color.from_rgb(*bottom))


def quantise(rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 colours -> an even number of rows of int32 colours, 32 levels per channel."""
    if rgb.shape[0] % 2:  # an odd last row gets a black lower half
        rgb = np.concatenate([rgb, np.zeros((1, *rgb.shape[1:]), dtype=rgb.dtype)])
    # Quantise to 32 levels per channel: invisible on screen, and the style cache stays small.
    return (rgb.astype(np.int32) // 8 * 8 + 4).clip(0, 255)


def half_blocks(rgb: np.ndarray) -> list[Text]:
    """(h, w, 3) uint8 colours -> ceil(h/2) lines of `▀` cells (an odd last row gets a black lower half)."""
    q = quantise(rgb)
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


def top3_pieces(probs: np.ndarray | None, width: int = 14) -> list[Piece]:
    """The three likeliest digits, each with a small bar: '7██▌1▎  9▏  ', as styled pieces."""
    if probs is None:
        return [("·" * width, GREY_TEXT)]
    cell = max(2, (width - 2) // 3 - 1)
    pieces: list[Piece] = []
    for n, k in enumerate(np.argsort(-np.asarray(probs), kind="stable")[:3]):
        if n:
            pieces.append((" ", None))
        pieces += [(str(int(k)), BOLD), (bar(float(probs[k]), cell), BAR)]
    return pieces


def top3(probs: np.ndarray | None, width: int = 14) -> Text:
    """The three likeliest digits, each with a small bar: '7██▌1▎  9▏  '."""
    text = Text()
    for piece, style in top3_pieces(probs, width):
        text.append(piece, style)
    return text


# ---- segments: what the grid draws, built without going through rich Text -------------------------------
_SEGMENTS: dict[Style, dict[int, Segment]] = {}  # widget base style -> packed (top, bottom) colours -> `▀`


def half_block_segments(rgb: np.ndarray, base: Style) -> list[list[Segment]]:
    """The cells `half_blocks` draws, as rows of ready segments over the widget's `base` style.

    Each colour pair's style is made once per base, then shared: a page flip only looks them up. A run of
    equal cells is one segment (as the screen shows it: the picture is the same, with fewer segments to filter).
    """
    q = quantise(rgb)
    packed = (q[..., 0] << 16) | (q[..., 1] << 8) | q[..., 2]
    pairs = (packed[0::2].astype(np.int64) << 24) | packed[1::2]
    cache = _SEGMENTS.get(base)
    if cache is None or len(cache) > 65536:
        cache = _SEGMENTS[base] = {}
    rows = []
    for row in pairs.tolist():
        cells = []
        for pair, run in groupby(row):
            segment = cache.get(pair)
            if segment is None:
                top, bottom = pair >> 24, pair & 0xFFFFFF
                style = _cell_style((top >> 16, (top >> 8) & 255, top & 255),
                                    (bottom >> 16, (bottom >> 8) & 255, bottom & 255))
                segment = cache[pair] = Segment("▀", base + style)
            width = sum(1 for _ in run)
            cells.append(segment if width == 1 else Segment("▀" * width, segment.style))
        rows.append(cells)
    return rows


class ImageRow:
    """A placeholder in a line for one row of a tile's image, drawn by the picture's `image_row`."""

    __slots__ = ("key", "row", "width")

    def __init__(self, key: int, row: int, width: int) -> None:
        self.key, self.row, self.width = key, row, width


Item = Union[Piece, ImageRow]


class Picture(Visual):
    """Lines of styled pieces and image rows, turned straight into strips (no rich Text, no markup).

    Pieces cut into segments exactly where a rich Text of the same spans would (unstyled runs merge,
    each styled piece is its own segment), so the screen is the same cell for cell and segment for segment.
    """

    def __init__(self, lines: list[list[Item]],
                 image_row: Callable[[int, int, Style], Sequence[Segment]]) -> None:
        self.lines, self.image_row = lines, image_row

    @property
    def plain(self) -> str:
        """The text without styles (images as `▀`)."""
        return "\n".join("".join("▀" * item.width if isinstance(item, ImageRow) else item[0] for item in line)
                         for line in self.lines)

    def render_strips(self, width: int, height: int | None, style: VisualStyle,
                      options: RenderOptions) -> list[Strip]:
        base = style.rich_style
        strips = []
        for line in self.lines[:height]:
            segments: list[Segment] = []
            plain = ""
            for item in line:
                if isinstance(item, ImageRow):
                    if plain:
                        segments.append(Segment(plain, base))
                        plain = ""
                    segments += self.image_row(item.key, item.row, base)
                elif item[1] is None:
                    plain += item[0]
                else:
                    if plain:
                        segments.append(Segment(plain, base))
                        plain = ""
                    segments.append(Segment(item[0], base + item[1]))
            if plain or not segments:
                segments.append(Segment(plain, base))
            strip = Strip(segments)
            strips.append(strip.crop(0, width) if strip.cell_length > width else strip)
        return strips

    def get_optimal_width(self, rules: object, container_width: int) -> int:
        return container_width

    def get_height(self, rules: object, width: int) -> int:
        return len(self.lines)


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
