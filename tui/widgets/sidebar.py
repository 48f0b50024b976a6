"""The dashboard's left column: the backend switch, the configuration form and the buttons."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical

from core.config import TrainConfig
from tui.estimate import Estimator
from tui.widgets.backend_switch import BackendSwitch
from tui.widgets.buttons import ButtonBar
from tui.widgets.config_form import ConfigForm


class Sidebar(Vertical):
    """Keeps the form's backend in step with the switch; locked (but the buttons) while a run goes."""

    def __init__(self, config: TrainConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config

    def compose(self) -> ComposeResult:
        yield BackendSwitch(self.config.backend, id="backend-switch")
        yield ConfigForm(self.config, id="config-form")
        yield ButtonBar(id="buttons")

    def on_mount(self) -> None:
        self.query_one(BackendSwitch).border_title = "backend"
        self.query_one(ConfigForm).border_title = "configuration"

    @on(BackendSwitch.Switched, "#backend-switch")
    def backend_switched(self, event: BackendSwitch.Switched) -> None:
        form = self.query_one(ConfigForm)
        # On the form's own queue: a message posted from here has this sidebar as sender, and Textual stops
        # its bubbling at the sender, so the app would never see the form's ConfigForm.Changed.
        form.call_later(form.set_backend, event.backend)

    def toggle_backend(self) -> None:
        """The other backend (the form follows through BackendSwitch.Switched)."""
        switch = self.query_one(BackendSwitch)
        switch.set_backend("lightning" if switch.backend == "scalar" else "scalar")

    def set_running(self, going: bool) -> None:
        """A run goes: its backend and configuration are fixed (the buttons follow the run state themselves)."""
        self.query_one(ConfigForm).disabled = self.query_one(BackendSwitch).disabled = going

    def update_info(self, estimator: Estimator) -> None:
        """Device line and per-epoch estimate for the form's backend and device."""
        form = self.query_one(ConfigForm)
        self.query_one(BackendSwitch).update_info(form.config, str(form.value_of("device")), estimator)
