"""A sweep's pictures as Rich text: parallel coordinates, the best-so-far curve and parameter importance.

Drawn on a Braille canvas (2x4 dots a cell). Colours are integer levels of the objective (worst to best), so
the same trials draw the same picture on every machine.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from rich.text import Text

from core.sweeps.space import Space
from core.sweeps.view import TrialRow, fmt_value

LEVELS = ("#d7263d", "#f46036", "#e2c044", "#8ac926", "#1b998b")  # worst .. best objective
DIM = "#5f5f5f"  # pruned trials, axes
RUNNING = "#3a3a3a"
BRAILLE = 0x2800
DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][column] bit of a Braille cell


class Canvas:
    """Cells of Braille dots, each cell in the colour of the last line drawn through it."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = max(1, width), max(1, height)
        self.bits = [[0] * self.width for _ in range(self.height)]
        self.styles: list[list[str]] = [[""] * self.width for _ in range(self.height)]

    @property
    def px(self) -> tuple[int, int]:
        """Dots across and down."""
        return self.width * 2, self.height * 4

    def dot(self, x: int, y: int, style: str) -> None:
        if 0 <= x < self.width * 2 and 0 <= y < self.height * 4:
            row, col = y // 4, x // 2
            self.bits[row][col] |= DOTS[y % 4][x % 2]
            self.styles[row][col] = style

    def line(self, x0: int, y0: int, x1: int, y1: int, style: str) -> None:
        """Bresenham: every dot between the two ends, integers only."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.dot(x0, y0, style)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self) -> Text:
        out = Text()
        for r in range(self.height):
            if r:
                out.append("\n")
            for c in range(self.width):
                bits = self.bits[r][c]
                out.append(chr(BRAILLE + bits) if bits else " ", style=self.styles[r][c] or None)
        return out


def position(space: Space | None, value: Any, low: float, high: float) -> float | None:
    """Where a value sits on its axis, 0 (bottom) .. 1 (top); None when it is not on the axis."""
    if space is not None and space.kind == "choice":
        choices = list(space.choices)
        if value not in choices:
            return None
        return 0.5 if len(choices) == 1 else choices.index(value) / (len(choices) - 1)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return None
    if space is not None and space.kind == "log":
        value, low, high = math.log10(value), math.log10(low), math.log10(high)
    if high <= low:
        return 0.5
    return min(1.0, max(0.0, (value - low) / (high - low)))


def level(value: float, worst: float, best: float) -> int:
    """0 (worst) .. 4 (best): the objective's colour level."""
    if best == worst:
        return len(LEVELS) - 1
    return max(0, min(len(LEVELS) - 1, round((value - worst) / (best - worst) * (len(LEVELS) - 1))))


def objective_range(rows: Sequence[TrialRow], direction: str) -> tuple[float, float] | None:
    """(worst, best) objective among complete trials (a pruned trial's value is partial; it is drawn clipped)."""
    values = [r.value for r in rows if r.state == "complete" and r.value is not None and math.isfinite(r.value)]
    if not values:
        return None
    return (min(values), max(values)) if direction == "maximize" else (max(values), min(values))


def parallel(rows: Sequence[TrialRow], spaces: Sequence[Space], direction: str, width: int, height: int) -> Text:
    """Parallel coordinates: one line per trial through each parameter's axis and the objective's (rightmost,
    best at the top), coloured by objective; pruned trials dim, running ones dark; the best drawn last."""
    canvas = Canvas(width, max(1, height - 1))
    axes = len(spaces) + 1
    xs = [round(i * (canvas.px[0] - 1) / max(1, axes - 1)) for i in range(axes)]
    top = canvas.px[1] - 1  # values use dots 1..top-1: a line at an end of its axis stays off the frame
    for x in xs:
        canvas.line(x, 0, x, top, DIM)
    span = objective_range(rows, direction)
    bounds = []
    for space in spaces:
        if space.kind == "choice":
            bounds.append((0.0, 1.0))
        else:
            bounds.append((float(space.low), float(space.high)))

    def ys(row: TrialRow) -> list[int | None]:
        out: list[int | None] = []
        for space, (low, high) in zip(spaces, bounds, strict=True):
            p = position(space, row.params.get(space.field), low, high)
            out.append(None if p is None else 1 + round((1 - p) * (top - 2)))
        if row.value is not None and span is not None:
            worst, best = span
            p = 0.5 if best == worst else min(1.0, max(0.0, (row.value - worst) / (best - worst)))
            out.append(1 + round((1 - p) * (top - 2)))
        else:
            out.append(None)
        return out

    def order(row: TrialRow) -> tuple[int, float]:  # running, pruned, then complete worst to best
        rank = {"running": 0, "pruned": 1}.get(row.state, 2)
        if row.value is None or span is None:
            return rank, 0.0
        worst, best = span
        return rank, (row.value - worst) / (best - worst) if best != worst else 1.0

    for row in sorted((r for r in rows if r.state in ("running", "pruned", "complete")), key=order):
        if row.state == "running":
            style = RUNNING
        elif row.state == "pruned" or span is None or row.value is None:
            style = DIM
        else:
            style = LEVELS[level(row.value, *span)]
        points = ys(row)
        for i in range(axes - 1):
            if points[i] is not None and points[i + 1] is not None:
                canvas.line(xs[i], points[i], xs[i + 1], points[i + 1], style)
            elif points[i] is not None:
                canvas.dot(xs[i], points[i], style)
    out = canvas.text()
    out.append("\n")
    names = [axis_name(s) for s in spaces]
    names.append("objective" + (f" {fmt_value(span[0])}..{fmt_value(span[1])}" if span else ""))
    out.append(axis_labels(names, [x // 2 for x in xs], canvas.width))
    return out


def axis_name(space: Space) -> str:
    """An axis's label: the field and what its ends are (bottom..top)."""
    if space.kind == "choice":
        return f"{space.field} [{','.join(map(str, space.choices))}]"
    scale = " log" if space.kind == "log" else ""
    return f"{space.field} {fmt_value(space.low)}..{fmt_value(space.high)}{scale}"


def axis_labels(names: Sequence[str], columns: Sequence[int], width: int) -> Text:
    """Each axis's name under it (the first from its axis, the last up to it, the others centred); where they
    would overlap, the one on the left is clipped (the objective's label, rightmost, stays whole)."""
    line = [" "] * width
    last = len(names) - 1
    limit = width  # the first column the label being placed must not reach
    for i in range(last, -1, -1):
        name, col = names[i], columns[i]
        start = col if i == 0 else col - len(name) + 1 if i == last else col - len(name) // 2
        start = max(0, min(start, limit - 1 - (0 if i == last else 1), width - len(name)))
        label = name[:max(0, limit - start - (0 if i == last else 1))]
        for j, ch in enumerate(label):
            line[start + j] = ch
        limit = start
    return Text("".join(line).rstrip(), style="bold")


def best_curve(points: Sequence[tuple[int, float]], values: Sequence[float], width: int, height: int,
               direction: str) -> Text:
    """The best objective after each finished trial (a line), each trial's own value (dots); its range named."""
    label_w = 7
    canvas = Canvas(max(1, width - label_w), max(1, height))
    if not points:
        return Text("no finished trial yet", style="dim")
    everything = [v for _, v in points] + [v for v in values if math.isfinite(v)]
    low, high = min(everything), max(everything)
    cols, rows = canvas.px
    n = max(2, len(points))

    def xy(i: int, v: float) -> tuple[int, int]:
        x = round(i * (cols - 1) / (n - 1))
        y = rows - 1 if high == low else round((high - v) / (high - low) * (rows - 1))
        return x, y

    for i, v in enumerate(values[:len(points)]):
        if math.isfinite(v):
            canvas.dot(*xy(i, v), DIM)
    previous = None
    for i, (_, v) in enumerate(points):
        here = xy(i, v)
        if previous is not None:  # a step: flat, then up (or down) to the new best
            canvas.line(previous[0], previous[1], here[0], previous[1], LEVELS[-1])
            canvas.line(here[0], previous[1], here[0], here[1], LEVELS[-1])
        canvas.dot(*here, LEVELS[-1])
        previous = here
    body = canvas.text()
    out = Text()
    for r, line in enumerate(body.split()):
        tag = fmt_value(high) if r == 0 else fmt_value(low) if r == canvas.height - 1 else ""
        out.append(tag.rjust(label_w - 1)[:label_w - 1] + " ", style="dim")
        out.append(line)
        if r < canvas.height - 1:
            out.append("\n")
    return out


def importance_bars(importances: dict[str, float], width: int) -> Text:
    """One bar per parameter, largest first (Optuna's importances, normalised to sum to 1)."""
    if not importances:
        return Text("importance: after two complete trials with different values", style="dim")
    name_w = max(len(n) for n in importances)
    bar_w = max(1, width - name_w - 7)
    out = Text()
    for i, (name, share) in enumerate(sorted(importances.items(), key=lambda kv: (-kv[1], kv[0]))):
        if i:
            out.append("\n")
        filled = round(share * bar_w)
        out.append(name.ljust(name_w) + " ", style="bold")
        out.append("█" * filled, style=LEVELS[-1])
        out.append("·" * (bar_w - filled), style=DIM)
        out.append(f" {share:4.0%}")
    return out
