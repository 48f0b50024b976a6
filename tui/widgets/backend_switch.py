"""The backend switch: handmade engine or Lightning, the device it will use and a time-per-epoch estimate."""

from __future__ import annotations

from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import RadioButton, RadioSet, Static

from core.config import TrainConfig
from tui.estimate import Estimator, format_seconds
from tui.runner import describe

LABELS = {"scalar": "handmade engine", "lightning": "Lightning"}


class BackendSwitch(Vertical):
    """Two radio buttons plus a line each for the device and the estimate (the device probed off the UI thread)."""

    @dataclass
    class Switched(Message):
        switch: BackendSwitch
        backend: str

        @property
        def control(self) -> BackendSwitch:
            return self.switch

    def __init__(self, backend: str = "scalar", **kwargs) -> None:
        super().__init__(**kwargs)
        self.backend = backend
        self.devices: dict[tuple[str, str], str] = {("scalar", "cpu"): "cpu"}  # (backend, setting) -> device
        self._probing: set[tuple[str, str]] = set()
        self._shown: tuple[TrainConfig | None, str, Estimator | None] = (None, "auto", None)

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
            self.post_message(self.Switched(self, backend))

    def update_info(self, config: TrainConfig | None, device_setting: str, estimator: Estimator) -> None:
        """Device line and per-epoch estimate for `config` (the form's) on this backend and device."""
        self._shown = (config, device_setting, estimator)
        backend = self.backend
        device_setting = "cpu" if backend == "scalar" else device_setting
        device = self.devices.get((backend, device_setting))
        if backend == "scalar":
            device_text = "device: CPU (pure Python, one core)"
        elif device is None:
            device_text = "device: probing (importing torch in the background)…"
            if (backend, device_setting) not in self._probing:
                self._probing.add((backend, device_setting))
                self.probe_device(backend, device_setting)
        else:
            device_text = f"device: {'CPU' if device == 'cpu' else device}"
        if config is None:
            estimate = "estimate: fix the settings below"
        else:
            kind = "cpu" if (device or "cpu") == "cpu" or device.startswith("unavailable") else "gpu"
            seconds = estimator.epoch_seconds(config, kind)
            n = estimator.train_size(config)
            estimate = f"estimate: ~{format_seconds(seconds)} per epoch ({n:,} training digits)"
        self.query_one("#device-line", Static).update(device_text)
        self.query_one("#estimate-line", Static).update(estimate)

    @work(thread=True, exit_on_error=False, group="device-probe")
    def probe_device(self, backend: str, device: str) -> None:
        """Resolve the device off the UI thread: for Lightning this imports torch (seconds)."""
        text = describe(backend, device)
        self.app.call_from_thread(self._described, backend, device, text)

    def _described(self, backend: str, device: str, text: str) -> None:
        self.devices[(backend, device)] = text
        config, setting, estimator = self._shown
        if estimator is not None:
            self.update_info(config, setting, estimator)
