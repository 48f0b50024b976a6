"""A small dialog for a new learning rate of the live run (own or followed), opened with `L`."""

from __future__ import annotations

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from core.records.steer import SteerError, validate


def parse_lr(text: str) -> float:
    """The rate typed, checked as core.records.steer checks it (finite, 0 < lr <= 10); SteerError otherwise."""
    try:
        value = float(text.strip())
    except ValueError:
        raise SteerError(f"{text.strip() or 'nothing'!r} is not a number: type e.g. 0.01") from None
    return float(validate("set_lr", value))  # type: ignore[arg-type]


class LearningRateScreen(ModalScreen["float | None"]):
    """Ask for a learning rate; dismisses with the rate, or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, current: float | None, target: str) -> None:
        super().__init__()
        self.current = current
        self.target = target

    def compose(self) -> ComposeResult:
        now = f"now {self.current:g}" if self.current is not None else "current rate unknown"
        with Vertical(id="lr-box"):
            yield Static(f"[b]Learning rate[/] of {escape(self.target)} ({now}) from the next step on:",
                         id="lr-title")
            yield Input(value="" if self.current is None else f"{self.current:g}", placeholder="e.g. 0.01",
                        id="lr-input")
            yield Static("", id="lr-error")
            yield Static("[dim]enter to apply · escape to cancel · 0 < lr ≤ 10[/]", id="lr-hint")

    def on_mount(self) -> None:
        self.query_one("#lr-input", Input).focus()

    @on(Input.Changed, "#lr-input")
    def check(self, event: Input.Changed) -> None:
        self.query_one("#lr-error", Static).update(self.problem(event.value))

    @on(Input.Submitted, "#lr-input")
    def submit(self, event: Input.Submitted) -> None:
        problem = self.problem(event.value)
        if problem:
            self.query_one("#lr-error", Static).update(problem)
            return
        self.dismiss(parse_lr(event.value))

    @staticmethod
    def problem(text: str) -> str:
        """'' when `text` is a valid rate, else the problem as markup."""
        try:
            parse_lr(text)
        except SteerError as exc:
            return f"[red]{escape(str(exc))}[/]"
        return ""

    def action_cancel(self) -> None:
        self.dismiss(None)
