"""The log pane: LogLine events, warnings and errors from the backends and the app."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import RichLog

LEVEL_STYLE = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red"}


class LogPane(RichLog):
    """A bounded RichLog with one styled line per message."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=1000, markup=True, wrap=True, highlight=False, **kwargs)

    def add(self, message: str, level: str = "info", source: str = "") -> None:
        """Append one line, styled by level."""
        style = LEVEL_STYLE.get(level, "")
        prefix = f"[dim]{escape(source)}:[/] " if source else ""
        tag = f"{level}: " if level in ("warning", "error") else ""
        body = escape(tag + message)
        self.write(f"{prefix}[{style}]{body}[/]" if style else prefix + body)
