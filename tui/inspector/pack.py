"""Lines broken between phrases, never inside one: what the inspector's panes show at any width."""

from __future__ import annotations

from typing import Sequence

from rich.cells import cell_len
from rich.text import Text

Group = list[tuple[str, str]]  # one phrase as (text, style) pieces: never broken across lines
Row = list[tuple[str, Group]]  # a line's phrases, each after its joiner (the first one's is "")


def plain(phrases: Sequence[tuple[str, str]]) -> Row:
    """A row of unstyled phrases from (joiner, text) pairs."""
    return [(joiner, [(text, "")]) for joiner, text in phrases]


def joined(phrases: Sequence[tuple[str, str]]) -> str:
    """The one-line text of (joiner, text) pairs."""
    return "".join(joiner + text for joiner, text in phrases)


def pack(rows: Sequence[Row], width: int | None, indent: str = "  ") -> Text:
    """Rows of (joiner, group) as lines no wider than `width`, broken only between groups (None: never).

    A row that fits is one line, each group after its joiner; otherwise it goes on over indented lines, and the
    joiner where it breaks is dropped (no dangling "·"). A joiner's spaces end the run before it and the rest
    takes the style of the group after it; the indent is its own dim run: SVG renderers drop a run's leading
    spaces, so a styled run never starts with one.
    """
    text = Text()
    for r, row in enumerate(rows):
        if r:
            text.append("\n")
        used, style = 0, ""
        for g, (joiner, group) in enumerate(row):
            size = sum(cell_len(piece) for piece, _ in group)
            if g and width is not None and used + cell_len(joiner) + size > width:
                text.append("\n")
                text.append(indent, style="dim")
                used = cell_len(indent)
            elif g:
                rest = joiner.lstrip(" ")
                text.append(joiner[:len(joiner) - len(rest)], style=style)  # ends the run before it
                text.append(rest, style=group[0][1] if group else "")
                used += cell_len(joiner)
            for piece, style in group:
                text.append(piece, style=style)
            used += size
    return text
