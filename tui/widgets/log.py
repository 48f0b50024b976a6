"""The log pane: LogLine events, warnings and errors from the backends and the app; debug lines on request."""

from __future__ import annotations

from collections import deque

from rich.markup import escape
from textual import events
from textual.reactive import reactive
from textual.widgets import RichLog

LEVEL_STYLE = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}
MAX_LINES = 1000


def line_markup(message: str, level: str = "info", source: str = "") -> str:
    """One log line as console markup, styled by level (the message itself is escaped)."""
    style = LEVEL_STYLE.get(level, "")
    prefix = f"[dim]{escape(source)}:[/] " if source else ""
    tag = f"{level}: " if level in ("warning", "error") else ""
    body = escape(tag + message)
    return f"{prefix}[{style}]{body}[/]" if style else prefix + body


class LogPane(RichLog):
    """A bounded RichLog; library chatter (debug lines) is kept but shown only while `show_debug` is on."""

    show_debug: reactive[bool] = reactive(False, init=False)

    def __init__(self, **kwargs) -> None:
        # min_width: a RichLog renders every line at least 78 wide (cut, with a scrollbar, in a narrower pane)
        super().__init__(max_lines=MAX_LINES, min_width=20, markup=True, wrap=True, highlight=False, **kwargs)
        self.entries: deque[tuple[str, str, str]] = deque(maxlen=MAX_LINES)
        self.hidden = 0  # debug lines kept but not shown
        self.wrapped_at = 0  # the width the shown lines were wrapped at

    def on_mount(self) -> None:
        self.border_title = "log"
        self._subtitle()

    def add(self, message: str, level: str = "info", source: str = "") -> None:
        """Append one line, styled by level (a debug line is only kept while debug lines are hidden)."""
        self.entries.append((message, level, source))
        if level == "debug" and not self.show_debug:
            self.hidden += 1
            self._subtitle()
            return
        self.write(line_markup(message, level, source))

    def watch_show_debug(self, _show: bool) -> None:
        """Rewrite the kept lines with or without the debug ones."""
        self.rewrite()

    def on_resize(self, event: events.Resize) -> None:
        """Wrap the kept lines again: a RichLog wraps a line once, at the width it had when written."""
        if event.size.width != self.wrapped_at:
            self.rewrite()

    def rewrite(self) -> None:
        """Write the kept lines afresh (with or without the debug ones, at the current width)."""
        self.wrapped_at = self.size.width
        self.clear()
        self.hidden = 0
        for message, level, source in self.entries:
            if level == "debug" and not self.show_debug:
                self.hidden += 1
            else:
                self.write(line_markup(message, level, source))
        self._subtitle()

    def _subtitle(self) -> None:
        lines = f"{self.hidden} debug line{'s' if self.hidden > 1 else ''}"
        if self.show_debug:
            self.border_subtitle = "debug lines shown · D hides them"
        else:
            self.border_subtitle = f"{lines} hidden · D shows them" if self.hidden else ""
