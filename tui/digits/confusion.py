"""The confusion matrix of a recorded Evaluation, coloured by count, with recall and precision at the edges."""

from __future__ import annotations

from typing import Sequence

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

from core.events import Evaluation
from tui.digits.render import UNKNOWN, count_colour

CELL = 5


class ConfusionMatrix(Widget, can_focus=True):
    """Arrows move the cursor over cells; [ and ] step through the recorded evaluations (epochs)."""

    BINDINGS = [
        Binding("left", "move(0, -1)", "cell", show=False),
        Binding("right", "move(0, 1)", "cell", show=False),
        Binding("up", "move(-1, 0)", "cell", show=False),
        Binding("down", "move(1, 0)", "cell", show=False),
        Binding("left_square_bracket", "epoch(-1)", "earlier", key_display="["),
        Binding("right_square_bracket", "epoch(1)", "later", key_display="]"),
        Binding("enter", "open", "digits in grid"),
    ]
    DEFAULT_CSS = "ConfusionMatrix { width: 66; height: 1fr; }"

    class CellChosen(Message):
        """The cursor is on cell (true, predicted) of this evaluation."""

        def __init__(self, evaluation: Evaluation, true: int, predicted: int, open_grid: bool = False) -> None:
            super().__init__()
            self.evaluation, self.true, self.predicted, self.open_grid = evaluation, true, predicted, open_grid

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.evaluations: list[Evaluation] = []
        self.shown = -1  # index into evaluations; -1 follows the latest
        self.cursor = (0, 0)  # (true, predicted)

    @property
    def current(self) -> Evaluation | None:
        if not self.evaluations:
            return None
        return self.evaluations[self.shown] if self.shown >= 0 else self.evaluations[-1]

    def set_evaluations(self, evaluations: Sequence[Evaluation]) -> None:
        """Replace the list (every epoch's, in order); keeps following the latest unless the user stepped back."""
        before = self.current
        self.evaluations = list(evaluations)
        self.refresh()
        if self.current is not None and self.current is not before:
            self._announce()

    def _announce(self, open_grid: bool = False) -> None:
        if self.current is not None:
            self.post_message(self.CellChosen(self.current, *self.cursor, open_grid))

    def action_move(self, dt: int, dp: int) -> None:
        t, p = self.cursor
        self.cursor = (min(9, max(0, t + dt)), min(9, max(0, p + dp)))
        self.refresh()
        self._announce()

    def action_epoch(self, delta: int) -> None:
        if not self.evaluations:
            return
        position = (self.shown if self.shown >= 0 else len(self.evaluations) - 1) + delta
        position = min(len(self.evaluations) - 1, max(0, position))
        self.shown = -1 if position == len(self.evaluations) - 1 else position
        self.refresh()
        self._announce()

    def action_open(self) -> None:
        self._announce(open_grid=True)

    def render(self) -> Text:
        ev = self.current
        if ev is None:
            return Text("  No evaluation recorded yet: the matrix appears after the first epoch's validation.",
                        UNKNOWN)
        position = self.evaluations.index(ev) + 1
        lines = [Text.assemble(
            (f" {ev.split} · epoch {ev.epoch} · step {ev.step}", "bold"),
            f" · accuracy {ev.accuracy:.1%} · loss {ev.loss:.3f}",
            (f"  [{position}/{len(self.evaluations)}]", UNKNOWN)),
            Text(" rows: true digit · columns: predicted", UNKNOWN),
            Text("t\\p " + "".join(f"{k:>{CELL}}" for k in range(10)) + "  recall", "bold")]
        largest = max((c for row in ev.confusion for c in row), default=0)
        for t, row in enumerate(ev.confusion):
            line = Text(f"{t:>3} ", "bold")
            for p, count in enumerate(row):
                style = count_colour(count, largest, t == p)
                if (t, p) == self.cursor:
                    style = style + Style(reverse=True, bold=True, underline=self.has_focus)
                line.append(f"{count:>{CELL}}", style)
            line.append(f"  {ev.recall[t]:6.1%}" if ev.recall else "")
            lines.append(line)
        prec = Text("prec", "bold")
        for p in ev.precision:
            prec.append(f"{p:>{CELL}.0%}" if p == p else f"{'–':>{CELL}}")  # p != p: NaN from an older record
        lines.append(prec)
        t, p = self.cursor
        cell = ev.confusion[t][p]
        what = f"{cell} {t}s predicted as {p}" if t != p else f"{cell} {t}s predicted right"
        lines += [Text(), Text(f" cursor: {what}", "bold")]
        return Text("\n").join(lines)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
