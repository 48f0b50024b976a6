"""Footers that fit narrow terminals: the compact style and no palette key below the full width (issue 23)."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

FULL_WIDTH = 140  # as the dashboard's FULL_SIZE: from here up every footer keeps Textual's roomy style


def fit_footer(screen: Screen, width: int, compact: bool = False) -> bool:
    """Below FULL_WIDTH drop the palette key (ctrl+p still opens it) and, if `compact`, the keys' padding."""
    narrow = width < FULL_WIDTH
    for footer in screen.query(Footer):
        footer.compact = narrow and compact  # compact glues each key to its word: only where still too long
        footer.show_command_palette = not narrow  # the keys need its columns; the key still works
    return narrow
