"""The inspector's gradient-check pane: asks the probe for checks off the UI thread, lists the latest results."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.widgets import Static

from tui.inspector.live import LiveReader
from tui.inspector.pack import Row, pack

CHECKS_SHOWN = 6


class GradCheckPane(Static):
    """The backend's gradient vs a central difference (and torch float64) for watched scalars, on demand."""

    def __init__(self, live: LiveReader, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.live = live
        self.checks: list[Any] = []  # GradCheck results (core/gradcheck.py) and notes
        self._rows: list[Row] = []
        self._text: Text | None = None

    def on_mount(self) -> None:
        self.show()

    @property
    def busy(self) -> bool:
        return any(isinstance(c, str) and c.startswith("checking") for c in self.checks)

    def show(self) -> None:
        rows: list[Row] = [[("", [("gradient check (g): backprop vs central difference vs torch float64", "bold")])]]
        if not self.checks:
            rows.append([("", [("select a watched scalar and press g: d loss / d scalar on the current sample "
                                "alone (the live grads above are batch means)", "bold dim")])])
        for check in self.checks[-CHECKS_SHOWN:]:
            if isinstance(check, str):
                rows.append([("", [(check, "bold dim")])])
            else:  # its facts ("engine …", "torch …") two spaces apart: lines break between them
                style = "bold green" if check.passed else "bold red"
                rows.append([("  " if k else "", [(fact, style)]) for k, fact in enumerate(check.line().split("  "))])
        self._rows = rows
        self.draw()

    def draw(self) -> None:
        text = pack(self._rows, self.content_size.width or None)
        if text != self._text:
            self._text = text
            self.update(text)

    def on_resize(self) -> None:
        self.draw()

    def request(self, address: str | None) -> None:
        """Check `address` on the current sample, or say why that is not possible now."""
        probe = self.live.probe()
        if address is None:
            self.checks.append("watch a scalar first (a to type an address, t to browse)")
        elif probe is None:
            self.checks.append("the gradient check needs a model: start a run (s) or open a past one (o)")
        else:
            self.checks.append(f"checking {address} on the current sample…")
            self.run_check(probe, address)
        self.show()

    @work(thread=True, exclusive=True, group="gradcheck", exit_on_error=False)
    def run_check(self, probe: Any, address: str) -> None:
        """Off the UI thread: a check makes a few forward passes (and may import torch the first time)."""
        try:
            result: Any = probe.grad_check(address)
        except Exception as exc:  # shown, never raised: the inspector must not take the app down
            result = f"{address}: cannot check ({type(exc).__name__}: {exc})"
        self.app.call_from_thread(self._done, result)

    def _done(self, result: Any) -> None:
        self.checks = [c for c in self.checks if not (isinstance(c, str) and c.startswith("checking"))]
        self.checks.append(result)
        self.show()
