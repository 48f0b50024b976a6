"""The backend switch: handmade engine or Lightning, the device it will use and a time-per-epoch estimate."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import RadioButton, RadioSet, Static

LABELS = {"scalar": "handmade engine", "lightning": "Lightning"}


class BackendSwitch(Vertical):
    """Two radio buttons plus a line each for the device and the estimate."""

    @dataclass
    class Switched(Message):
        backend: str

    def __init__(self, backend: str = "scalar", **kwargs) -> None:
        super().__init__(**kwargs)
        self.backend = backend

    def compose(self) -> ComposeResult:
        with RadioSet(id="backend-radio"):
            yield RadioButton(LABELS["scalar"], value=self.backend == "scalar", id="backend-scalar")
            yield RadioButton(LABELS["lightning"], value=self.backend == "lightning", id="backend-lightning")
        yield Static("", id="device-line")
        yield Static("", id="estimate-line")

    def set_backend(self, backend: str) -> None:
        """Select a backend programmatically (posts Switched through the radio set)."""
        if backend != self.backend:
            self.query_one(f"#backend-{backend}", RadioButton).value = True

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        event.stop()
        pressed = event.pressed.id or ""
        backend = pressed.removeprefix("backend-")
        if backend in LABELS and backend != self.backend:
            self.backend = backend
            self.post_message(self.Switched(backend))

    def show(self, device: str, estimate: str) -> None:
        self.query_one("#device-line", Static).update(device)
        self.query_one("#estimate-line", Static).update(estimate)
