"""The explain screen: step one digit forward and backward through the network, down to one Scalar.

Pushed from the inspector (`e` on a selected scalar) and from the digits screen (`e` on a digit of the grid or
on the canvas). The walk is computed off the UI thread from a copy of the weights the probe holds (never the
trainer), so a run keeps training; `r` takes the weights again at the run's current step.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from core.address import AddressError, parse
from core.explain.walk import Explanation, explain
from tui.explain.render import digit_lines, marked_pixel, path_text, walk_text
from tui.explain.source import Digits, ModelSource
from tui.footer_fit import KeyFooter

PLAY_S = 0.6  # seconds per step while playing


class ExplainScreen(Screen[None]):
    """One Scalar's gradient for one digit, one node at a time."""

    BINDINGS = [
        Binding("escape,q", "close", "back"),
        Binding("right,n", "step(1)", "step"),
        Binding("left,b", "step(-1)", "step back"),
        Binding("space,p", "play", "play"),
        Binding("home", "jump(0)", "start", show=False),
        Binding("end", "jump(-1)", "result", show=False),
        Binding("left_square_bracket", "digit(-1)", "digit before", show=False),
        Binding("right_square_bracket", "digit(1)", "digit", key_display="[ ]"),
        Binding("r", "retake", "reload"),
        Binding("a", "ask_address", "address"),
        *[Binding(str(k), f"label({k})", "label", show=False) for k in range(10)],
    ]
    DEFAULT_CSS = """
    ExplainScreen #explain-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    ExplainScreen #explain-body { height: 1fr; }
    ExplainScreen #explain-left { width: 30; padding: 0 1; border-right: tall $panel; }
    ExplainScreen #explain-digit { height: auto; }
    ExplainScreen #explain-path { height: auto; margin-top: 1; }
    ExplainScreen #explain-walk { width: 1fr; padding: 0 1; }
    ExplainScreen #explain-path { text-wrap: nowrap; }
    ExplainScreen #explain-address { display: none; }
    ExplainScreen #explain-address.asking { display: block; }
    """

    AUTO_FOCUS = None  # every key is the screen's until `a` opens the address field
    position: reactive[int] = reactive(0, init=False)
    playing: reactive[bool] = reactive(False, init=False)

    def __init__(self, source: ModelSource, address: str, digits: Digits) -> None:
        super().__init__()
        self.source, self.address, self.digits = source, address, digits
        self.label: int | None = digits.label  # a drawn digit has none: the network's answer, or 0-9
        self.explanation: Explanation | None = None
        self.problem = ""
        self._timer: Any = None

    def compose(self) -> ComposeResult:
        yield Static(f"Explain {self.address}: computing…", id="explain-title")
        yield Input(placeholder="the scalar to explain, e.g. L1.N3.w12 or L0.N5.b; enter explains it",
                    id="explain-address", disabled=True)  # hidden and unfocusable until `a`
        with Horizontal(id="explain-body"):
            with Vertical(id="explain-left"):
                yield Static("", id="explain-digit")
                yield Static("", id="explain-path")
            with VerticalScroll(id="explain-walk", can_focus=False):  # arrows, home and end are the walk's
                yield Static("", id="explain-steps")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.compute()

    # ---- the walk, off the UI thread --------------------------------------------------------------------
    def compute(self) -> None:
        """Walk again (a new digit, label, address or the weights now) in a thread worker."""
        # Beside a handmade-engine run the two threads share the GIL badly; the training thread steps aside
        # for the ~0.1 s the walk takes (as for the canvas's answer), then goes on.
        hold = getattr(self.app, "hold_training", None)
        release = hold() if hold is not None else (lambda: None)
        self._walk(release)

    @work(thread=True, exclusive=True, group="explain", exit_on_error=False)
    def _walk(self, release) -> None:
        try:
            self._compute()
        finally:
            release()

    def _compute(self) -> None:
        try:
            net = self.source.network()
            pixels = self.digits.pixels_for(net.layer_sizes[0])
            label = self.label
            if label is None:  # a drawn digit: explain the loss as if the network's own answer were right
                label = explain(net, self.address, pixels, 0).prediction
            result = explain(net, self.address, pixels, label)
        except (LookupError, ValueError) as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        if not get_current_worker().is_cancelled:  # a newer walk (another digit, label, address) replaced it
            self.app.call_from_thread(self._arrived, result, pixels)

    def _failed(self, message: str) -> None:
        self.problem = message
        self.query_one("#explain-title", Static).update(Text(f"Explain {self.address}: {message}", "bold red"))

    def _arrived(self, result: Explanation, pixels: list[float]) -> None:
        first = self.explanation is None
        self.explanation, self.problem = result, ""
        if self.label is None:
            self.label = result.label
        engine = "handmade engine" if result.backend == "scalar" else "Lightning"
        drawn = " (the network's own answer: 0-9 chooses)" if self.digits.labels is None else ""
        self.query_one("#explain-title", Static).update(Text(
            f"Explain {result.address} · {engine} · step {result.step:,} · {self.digits.where()} · "
            f"label {result.label}{drawn} · answer {result.prediction}"))
        side = int(round(len(pixels) ** 0.5))
        digit = Text("\n").join(digit_lines(pixels, side, marked_pixel(result.address, len(pixels))))
        self.query_one("#explain-digit", Static).update(digit)
        if first:
            self.position = 0
        else:
            self.position = min(self.position, len(result.steps))
        self.redraw()

    # ---- drawing ----------------------------------------------------------------------------------------
    def redraw(self) -> None:
        e = self.explanation
        if e is None:
            return
        walk = self.query_one("#explain-walk", VerticalScroll)
        self.query_one("#explain-steps", Static).update(walk_text(e, self.position, walk.size.width - 2))
        self.query_one("#explain-path", Static).update(path_text(e, self.position))
        self.call_after_refresh(walk.scroll_end, animate=False)  # the current step, once laid out

    def watch_position(self) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    # ---- keys -------------------------------------------------------------------------------------------
    @property
    def last(self) -> int:
        """The position of the result (one past the last step)."""
        return len(self.explanation.steps) if self.explanation is not None else 0

    def action_step(self, delta: int) -> None:
        self.position = max(0, min(self.last, self.position + delta))
        if self.position == self.last:
            self.playing = False

    def action_jump(self, where: int) -> None:
        self.position = self.last if where < 0 else 0

    def action_play(self) -> None:
        if self.position >= self.last:
            self.position = 0
        self.playing = not self.playing

    def watch_playing(self, playing: bool) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if playing:
            self._timer = self.set_interval(PLAY_S, lambda: self.action_step(1))

    def action_digit(self, delta: int) -> None:
        count = len(self.digits.images)
        if count > 1:
            self.digits.index = (self.digits.index + delta) % count
            self.label = self.digits.label
            self.compute()

    def action_label(self, label: int) -> None:
        classes = self.explanation.layer_sizes[-1] if self.explanation else 10
        if label < classes and label != self.label:
            self.label = label
            self.compute()

    def action_retake(self) -> None:
        self.compute()

    def action_ask_address(self) -> None:
        field = self.query_one("#explain-address", Input)
        field.value = self.address
        field.disabled = False
        field.add_class("asking")
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        try:
            parse(text)
        except AddressError as exc:
            self.notify(str(exc), severity="warning")
            return
        self._hide_field()
        if text != self.address:
            self.address, self.explanation = text, None
            self.compute()

    def _hide_field(self) -> None:
        field = self.query_one("#explain-address", Input)
        field.remove_class("asking")
        field.disabled = True
        self.set_focus(None)

    def action_close(self) -> None:
        field = self.query_one("#explain-address", Input)
        if field.has_class("asking"):  # escape leaves the address field first
            self._hide_field()
            return
        self.playing = False
        self.dismiss(None)


def screen_for(controller: Any, address: str | None) -> Any:
    """The explain screen for `address` on the shown run's validation digits, or why not (a line to show)."""
    if not address:
        return "Select a scalar first: watch one (a) or pick one in the tree (t)."
    data = controller.data
    if data is None:
        return "No digits yet: they load with the run (start one, or open one with o)."
    val = data.val
    return ExplainScreen(ModelSource.of(controller), address, Digits(val.images, val.labels, data.side, "val"))
