"""What of a screen's footer does not show: the helper of every screen's test at 100x30 (issue 23)."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


def cut_footer_keys(screen: Screen) -> list[str]:
    """The footer's keys (key and description) that do not end inside its visible width, left of the palette key."""
    footer = screen.query_one(Footer)
    keys = list(footer.query(FooterKey))
    palette = [key for key in keys if key.has_class("-command-palette")]
    right = min([footer.region.right, *(key.region.x for key in palette)])
    return [f"{key.key_display or key.key} {key.description}" for key in keys
            if key not in palette and key.region.right > right]
