"""The help overlay on `?`: the dashboard's keys and what its panes show."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.widgets import Static

KEYS = (
    ("s", "start a run with the configuration on the left"),
    ("p", "pause / resume the run"),
    ("x", "stop the run (it is recorded as stopped)"),
    ("L", "learning rate of the live run (own or followed), from its next step"),
    ("b", "switch backend: handmade engine <-> Lightning"),
    ("i", "gradient inspector: watch scalars learn"),
    ("d", "digits: the model's answers, its confusion matrix, a digit you draw"),
    ("o", "runs table: open a past or live run, or compare several"),
    ("D", "show / hide debug log lines (library chatter)"),
    ("v", "below 140x40: the setup page (form, buttons) or the run page (plots, log)"),
    ("tab", "move between controls (shift+tab back); escape leaves the form"),
    ("?", "this help"),
    ("q", "quit (stops a running run first; so do SIGHUP and SIGTERM)"),
)
HELP_WIDTH = 96  # fits a 100-column terminal: 90 columns of text, the border and the padding
# Plain markup, not a Markdown widget: the help must open fast while the engine holds the GIL.
HELP = "\n".join(
    [
        "[b]mnist-dash[/b]: train a digit classifier and watch it learn, with the handmade scalar",
        "engine or PyTorch Lightning.",
        "",
        *[f"  [b $accent]{key:>5}[/]  {text}" for key, text in KEYS],
        "",
        "The form is checked as you type (problems appear under the field); a run locks it.",
        "Every run is recorded under the runs directory exactly like a headless run. The previous",
        "run stays on the plots, dimmed. The time per epoch next to the backend is an estimate.",
        "Multi-device Lightning runs belong to headless mode: mnist-dash --headless --devices N.",
    ]
)
HELP_HEIGHT = HELP.count("\n") + 1 + 1 + 4  # the text, the hint line, the padding and the border


class HelpPanel(Vertical):
    """Key bindings and what the panes show: an overlay on the dashboard's own screen.

    Not a modal screen: a modal re-renders and blends the whole dashboard beneath it, and closing it
    repaints everything, which costs a key press hundreds of milliseconds while the engine holds the GIL.
    """

    def compose(self) -> ComposeResult:
        yield Static(HELP, id="help-text")
        yield Static("[dim]? or escape to close[/]", id="help-hint")

    def toggle(self, size: Size) -> None:
        """Open (centred on `size`) or close the overlay."""
        if not self.visible:
            width, height = size
            self.styles.offset = (max(0, (width - HELP_WIDTH) // 2), max(0, (height - HELP_HEIGHT) // 2))
        self.visible = not self.visible  # visibility, not display: no relayout of the dashboard

    def close(self) -> bool:
        """Close the overlay; False when it was not open."""
        was_open = self.visible
        self.visible = False
        return was_open
