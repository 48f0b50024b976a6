"""The inspector's gradient-check pane: runs checks off the UI thread and lists the latest results."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.widgets import Static

from core.inspect_check import GradCheck
from tui.widgets.inspector_live import LiveReader

CHECKS_SHOWN = 6


class GradCheckPane(Static):
    """Engine gradient vs central difference vs torch float64 for watched scalars, on demand."""

    def __init__(self, live: LiveReader, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.live = live
        self.checks: list[GradCheck | str] = []

    def on_mount(self) -> None:
        self.show()

    @property
    def busy(self) -> bool:
        return any(isinstance(c, str) and c.startswith("checking") for c in self.checks)

    def show(self) -> None:
        body = Text("gradient check (g): engine vs central difference vs torch float64", style="bold")
        if not self.checks:
            body.append("\nselect a watched scalar and press g: d loss / d scalar on the current sample alone "
                        "(the live grads above are batch means)", style="dim")
        for check in self.checks[-CHECKS_SHOWN:]:
            if isinstance(check, str):
                body.append(f"\n{check}", style="dim")
            else:
                body.append(f"\n{check.line()}", style="green" if check.passed else "bold red")
        self.update(body)

    def request(self, address: str | None) -> None:
        """Check `address` on the current sample, or say why that is not possible now."""
        if address is None:
            self.checks.append("watch a scalar first (a to type an address, t to browse)")
        elif self.live.model() is None or self.live.sample() is None:
            self.checks.append("the gradient check runs on the handmade engine's current sample: start a "
                               "scalar run (s) first" if self.live.backend() == "scalar" else
                               "the gradient check is for the handmade engine (Lightning uses torch autograd)")
        else:
            self.checks.append(f"checking {address} on the current sample…")
            self.run_check(address)
        self.show()

    @work(thread=True, exclusive=True, group="gradcheck", exit_on_error=False)
    def run_check(self, address: str) -> None:
        """Off the UI thread: a check makes a few forward passes (and may import torch the first time)."""
        from core.inspect_check import gradient_check

        model, (x, label) = self.live.model(), self.live.sample()
        try:
            result: GradCheck | str = gradient_check(model, x, label, address, self.live.loss_name())
        except Exception as exc:  # shown, never raised: the inspector must not take the app down
            result = f"{address}: cannot check ({type(exc).__name__}: {exc})"
        self.app.call_from_thread(self._done, result)

    def _done(self, result: GradCheck | str) -> None:
        self.checks = [c for c in self.checks if not (isinstance(c, str) and c.startswith("checking"))]
        self.checks.append(result)
        self.show()
