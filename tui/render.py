"""Text rendering helpers of the dashboard: number formatting, diverging colours, half-block heatmaps, sparklines.

Pure functions over plain numbers (rich only for the heatmap's styled Text); nothing here knows a backend.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

from rich.text import Text

HALF_BLOCK = "▀"  # top pixel in the foreground colour, bottom pixel in the background colour
BARS = "▁▂▃▄▅▆▇█"


def fmt(v: float) -> str:
    """Compact, fixed-width-ish number for tables: 4 significant digits."""
    return f"{v: .4g}" if math.isfinite(v) else f"{v}"


def grid_shape(n: int, side: int | None = None) -> tuple[int, int]:
    """(rows, cols) to lay out n values: the input's square for pixels, else a near-square block."""
    if side and side * side == n:
        return side, side
    root = math.isqrt(n)
    if root * root == n:
        return root, root
    cols = max(1, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def heatmap_cells(values: Sequence[float], side: int | None = None) -> list[list[tuple[float | None, float | None]]]:
    """Pairs (top, bottom) per character cell: ceil(rows/2) lines of cols cells; None where there is no pixel."""
    rows, cols = grid_shape(len(values), side)

    def at(r: int, c: int) -> float | None:
        i = r * cols + c
        return float(values[i]) if r < rows and i < len(values) else None

    return [[(at(r, c), at(r + 1, c)) for c in range(cols)] for r in range(0, rows, 2)]


def colour(value: float | None, scale: float) -> str | None:
    """Diverging colour: blue for negative, red for positive, near black for ~0; None for no pixel."""
    if value is None:
        return None
    if not math.isfinite(value):
        return "rgb(255,255,0)"  # NaN/inf stand out in yellow
    t = min(1.0, abs(value) / scale) if scale > 0 else 0.0
    t = math.sqrt(t)  # small weights would all look black on a linear ramp
    base = 24
    hi = round(base + (255 - base) * t)
    mid = round(base + (110 - base) * t)
    return f"rgb({hi},{mid},{base})" if value > 0 else f"rgb({base},{mid},{hi})"


def heatmap_text(values: Sequence[float], side: int | None = None, scale: float | None = None) -> Text:
    """`values` (one neuron's incoming weights or grads) drawn with half-block characters."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    scale = scale if scale is not None else (max(finite) if finite else 0.0)
    text = Text(no_wrap=True, overflow="crop")
    for line_no, line in enumerate(heatmap_cells(values, side)):
        if line_no:
            text.append("\n")
        for top, bottom in line:
            fg, bg = colour(top, scale), colour(bottom, scale)
            if fg is None:
                text.append(" ")
            elif bg is None:
                text.append(HALF_BLOCK, style=fg)
            else:
                text.append(HALF_BLOCK, style=f"{fg} on {bg}")
    return text


def heatmap_legend(scale: float) -> str:
    """The scale a heatmap was drawn with (full colour at |value| = scale); blue is < 0, red > 0."""
    return f"|max| {scale:.3g}"


def sparkline_data(values: Iterable[float]) -> list[float]:
    """Values fit for a sparkline: non-finite points dropped (they would blank the whole line)."""
    return [float(v) for v in values if math.isfinite(v)]


def spark_text(values: Sequence[float], width: int = 10) -> str:
    """A one-line sparkline of a whole series, averaged into `width` buckets (of a strided sample)."""
    stride = max(1, len(values) // (4 * width))  # dozens of rows redraw twice a second: a sample will do
    values = sparkline_data(values[::stride])
    if not values:
        return ""
    if len(values) > width:
        step = len(values) / width
        values = [sum(b) / len(b) for b in (values[int(i * step):int((i + 1) * step)] for i in range(width)) if b]
    lo, hi = min(values), max(values)
    span = hi - lo
    if span <= 1e-12 * max(1.0, abs(hi)):
        return BARS[3] * len(values)
    return "".join(BARS[min(7, int((v - lo) / span * 8))] for v in values)
