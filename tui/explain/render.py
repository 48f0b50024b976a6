"""The explain screen's drawings: the walk so far as text, the path through the layers, the digit."""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text

from core.explain.text import differences, number, step_lines
from core.explain.walk import Explanation, Step
from tui.digits.render import grey, half_blocks, upscale

CURRENT = "bold #f0c674"
DONE = "#8a8a8a"
PHASES = {"forward": "#6fa8dc", "backward": "#e69138"}
SHORT = 96  # characters of a step already walked
PAD = " "


def walk_text(e: Explanation, position: int, width: int = SHORT) -> Text:
    """Steps 0..position: earlier steps one line each, the current one in full; past the last, the result."""
    steps = e.steps
    text = Text()
    for i, step in enumerate(steps[:position + 1]):
        if i == len(e.forward):
            text.append("\nbackward: local derivative × gradient from above, summed over paths\n", "bold")
        elif i == 0:
            text.append("forward: the digit's values, layer by layer\n", "bold")
        lines = step_lines(step)
        if i < position:
            line = f"{lines[0]} · {step.text}"
            room = max(20, width - 6)  # one line each, cut to the pane's width
            text.append(f"  {i + 1:>2}. {line[:room - 1] + '…' if len(line) > room else line}\n", DONE)
            continue
        text.append(f"▶ {i + 1:>2}. {lines[0]}\n", CURRENT)
        text.append(f"    {step.text}\n", PHASES[step.phase])
        text.append_text(terms_text(step))
    if position >= len(steps):
        text.append("\n" + result_text(e).plain)
    return text


def terms_text(step: Step) -> Text:
    """A step's terms in columns that fit 64 cells, with a header saying what the columns are."""
    style = PHASES[step.phase]
    text = Text()
    if step.terms:
        head = "local derivative × from above" if step.phase == "backward" else "weight × input"
        text.append(f"    {'':<18}{head:^27}   = product\n", DONE)
        for t in step.terms:
            text.append(f"    {t.name:<18}{number(t.local):>12} × {number(t.above):>12} = {number(t.product)}\n", style)
    if step.rest_count:
        text.append(f"    … {step.rest_count} more terms sum to {number(step.rest)}\n", style)
    if step.values:
        text.append("    " + "  ".join(f"{name} {v:.4g}" for name, v in step.values) + "\n", style)
    return text


def result_text(e: Explanation) -> Text:
    """The three gradients side by side, with their differences from the walk's."""
    text = Text(f"d loss / d {e.address}\n", "bold")
    for what, value, diff in differences(e):
        tail = "" if what == "the walk" else f"   difference {diff:+.3g}"
        text.append(f"  {what:<28} {number(value):>14}{tail}\n")
    if e.zero_reason:
        text.append(f"  zero because {e.zero_reason}\n", "italic")
    return text


def current_node(e: Explanation, position: int) -> Step | None:
    return e.steps[position] if 0 <= position < len(e.steps) else None


def path_text(e: Explanation, position: int) -> Text:
    """The layers as counts, the chosen neuron named, the row of the current step highlighted."""
    step = current_node(e, position)
    node = step.node if step is not None else ""
    chosen = e.address.split(".")
    layer = int(chosen[0][1:]) if chosen[0].startswith("L") else None
    sizes = e.layer_sizes
    rows = [("input", f"input  {sizes[0]} pixels")]
    for i, width in enumerate(sizes[1:]):
        mark = f"  ● {chosen[1]}" if layer == i else ""
        rows.append((f"L{i}", f"L{i}     {width} neurons{mark}"))
    rows += [("softmax", "softmax  probabilities"), ("loss", f"loss   (label {e.label})")]
    arrow = "↓" if step is None or step.phase == "forward" else "↑"  # the way the walk goes
    text = Text()
    for n, (key, label) in enumerate(rows):
        if n:
            text.append(f"{PAD * 4}{arrow}\n", DONE)
        here = node == key or node.startswith(key + ".") or (key == "loss" and position >= len(e.steps))
        text.append(("▶ " if here else PAD * 2) + label + "\n", CURRENT if here else "")
    return text


def digit_lines(pixels: list[float], side: int, marked: int | None) -> list[Text]:
    """The digit in grey half-blocks, the pixel a first-layer weight multiplies in red."""
    image = np.asarray(pixels, dtype=np.float64).reshape(side, side)
    scale = max(1, 14 // side)
    rgb = grey(upscale(image, scale))
    if marked is not None:
        r, c = divmod(marked, side)
        rgb[r * scale:(r + 1) * scale, c * scale:(c + 1) * scale] = (230, 60, 60)
    return half_blocks(rgb)


def marked_pixel(address: str, inputs: int) -> int | None:
    """The input index of a first-layer weight (None for anything else)."""
    if address.startswith("L0.") and ".w" in address:
        index = int(address.rsplit(".w", 1)[1])
        return index if index < inputs and math.isqrt(inputs) ** 2 == inputs else None
    return None
