"""KeptScreen: a screen composed once and pushed again and again, restyled on a push only when styles changed.

Textual restyles every node of a screen each time it is pushed (`ScreenResume.refresh_styles`), because styles
may have changed while it was away. For the screens the app keeps installed (inspector, digits, compare) that
was about a third of opening them beside a training run (bench/tui_latency.py; the inspector's ~110 nodes).
What can change a kept screen's styles while it is away: the theme (its variables) and the ANSI-colour mode. A
class or focus change on one of its own widgets restyles that widget when it happens, away or not.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.screen import Screen


class KeptScreen(Screen[Any]):
    """Mix in first: `class InspectorScreen(KeptScreen, ...)`; subclasses may define `on_screen_resume` freely."""

    _styled_for: tuple[Any, ...] | None = None  # what the styles were last computed for

    def _style_inputs(self) -> tuple[Any, ...]:
        return self.app.theme, self.app.ansi_color

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Textual dispatches this handler of each class in the MRO, subclass first: clearing the flag here is
        # seen by Screen's own `_on_screen_resume`, which runs next.
        inputs = self._style_inputs()
        if inputs == self._styled_for:
            event.refresh_styles = False
        self._styled_for = inputs
