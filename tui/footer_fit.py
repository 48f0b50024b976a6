"""Footers that fit narrow terminals: the compact style and no palette key below the full width (issue 23)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

try:  # FooterKey is not exported by textual.widgets: without it, KeyFooter only skips the rebuilds
    from textual.widgets._footer import FooterKey
except ImportError:  # pragma: no cover - a Textual that moved it
    FooterKey = None  # type: ignore[assignment,misc]

FULL_WIDTH = 140  # as the dashboard's FULL_SIZE: from here up every footer keeps Textual's roomy style


def fit_footer(screen: Screen, width: int, compact: bool = False) -> bool:
    """Below FULL_WIDTH drop the palette key (ctrl+p still opens it) and, if `compact`, the keys' padding."""
    narrow = width < FULL_WIDTH
    for footer in screen.query(Footer):
        footer.compact = narrow and compact  # compact glues each key to its word: only where still too long
        footer.show_command_palette = not narrow  # the keys need its columns; the key still works
    return narrow


class KeyFooter(Footer):
    """Textual's Footer, rebuilt only when the keys it shows change, its keys born in the footer's style.

    Textual's Footer recomposes whenever its screen's bindings may have changed: each time the screen is shown again,
    although a screen's keys are then what they were (returning to the dashboard rebuilt its 16 keys, 15% of that
    frame). And a FooterKey starts compact and is bound to its footer's `compact`, so in a roomy footer each key
    restyled itself twice on mount (the class added, then removed): 15% of opening the inspector (cProfile).
    """

    _shown: tuple = ()  # what the footer was last composed from (see `shown_keys`)

    def shown_keys(self) -> tuple:
        """Everything a composed footer depends on: the keys shown, their words and states, and the footer's style."""
        keys = tuple((key, binding.action, binding.description, binding.key_display, binding.group, enabled, tooltip)
                     for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items() if binding.show)
        return keys, self.compact, self.show_command_palette, self.app.ENABLE_COMMAND_PALETTE

    def bindings_changed(self, screen: Screen) -> None:
        ready = getattr(self, "_bindings_ready", False)  # Footer's own flag: it has composed its keys once
        if ready and self.is_attached and screen is self.screen and self.shown_keys() == self._shown:
            return  # nothing it shows changed: no rebuild
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        if getattr(self, "_bindings_ready", False):
            self._shown = self.shown_keys()
        for widget in super().compose():  # grouped keys pass here too, yielded inside their group's `with`
            if (FooterKey is not None and isinstance(widget, FooterKey)
                    and not widget.has_class("-command-palette")):  # that one stays compact, as in Textual's
                widget.set_reactive(FooterKey.compact, self.compact)
                widget.set_class(self.compact, "-compact", update=False)
            yield widget
