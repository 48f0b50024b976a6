"""Modal screens: help on `?` and the picker for past runs on `o`."""

from __future__ import annotations

import json
from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

KEYS = (
    ("s", "start a run with the configuration on the left"),
    ("p", "pause / resume the run"),
    ("x", "stop the run (it is recorded as stopped)"),
    ("b", "switch backend: handmade engine <-> Lightning"),
    ("i", "gradient inspector: watch scalars learn"),
    ("o", "open a past run from the runs directory"),
    ("tab", "move between controls (shift+tab back); escape leaves the form"),
    ("?", "this help"),
    ("q", "quit (stops a running run first)"),
)
HELP_WIDTH = 108
# Plain markup, not a Markdown widget: the help must open fast while the engine holds the GIL.
HELP = "\n".join(
    [
        "[b]mnist-dash[/b]: train a digit classifier and watch it learn, with the handmade scalar engine",
        "or PyTorch Lightning.",
        "",
        *[f"  [b $accent]{key:>5}[/]  {text}" for key, text in KEYS],
        "",
        "The form is validated as you type; problems appear under the field. It is locked while a run goes.",
        "Every run is recorded under the runs directory exactly like a headless run: config.json,",
        "events.jsonl, summary.json, checkpoints/. The previous run stays on the plots, dimmed.",
        "The time per epoch next to the backend is an estimate, recalibrated from your last run.",
        "Multi-device Lightning runs belong to headless mode: mnist-dash --headless --devices N.",
    ]
)


class HelpPanel(Vertical):
    """Key bindings and what the panes show: an overlay on the dashboard's own screen.

    Not a modal screen: a modal re-renders and blends the whole dashboard beneath it, and closing it
    repaints everything, which costs a key press hundreds of milliseconds while the engine holds the GIL.
    """

    def compose(self) -> ComposeResult:
        yield Static(HELP, id="help-text")
        yield Static("[dim]? or escape to close[/]", id="help-hint")


def list_runs(runs_dir: str | Path) -> list[tuple[Path, str]]:
    """Run directories under runs_dir, newest first, each with a one-line description."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    found: list[tuple[Path, str]] = []
    for path in sorted(root.iterdir(), reverse=True):
        if not (path / "events.jsonl").is_file():
            continue
        text = "no summary (running or interrupted)"
        try:
            summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
            acc = summary.get("test_accuracy")
            text = f"{summary.get('reason', '?')}, {summary.get('steps', 0)} steps"
            if isinstance(acc, (int, float)):
                text += f", test acc {acc:.1%}"
        except (OSError, ValueError, AttributeError):
            pass
        found.append((path, text))
    return found


class RunsScreen(ModalScreen["Path | None"]):
    """Pick a past run to show its curves again."""

    BINDINGS = [Binding("escape", "close", "cancel")]

    def __init__(self, runs_dir: str | Path) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.runs = list_runs(self.runs_dir)

    def compose(self) -> ComposeResult:
        with Vertical(id="runs-box"):
            yield Static(f"[b]Past runs[/] in {escape(str(self.runs_dir))}", id="runs-title")
            if self.runs:
                yield OptionList(
                    *[Option(f"{escape(p.name)}  [dim]{escape(t)}[/]", id=str(p)) for p, t in self.runs],
                    id="runs-list",
                )
            else:
                yield Static("No recorded runs yet: start one with s.", id="runs-empty")
            yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Path(event.option.id or ""))

    def action_close(self) -> None:
        self.dismiss(None)
