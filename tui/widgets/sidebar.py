"""The dashboard's left column: the backend switch, the configuration form and the buttons."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical

from core.config import TrainConfig
from tui.estimate import Estimator
from tui.widgets.backend_switch import BackendSwitch
from tui.widgets.buttons import ButtonBar

if TYPE_CHECKING:  # imported by mount_form, after the dashboard's first frame
    from tui.widgets.config_form import ConfigForm


class Sidebar(Vertical):
    """Keeps the form's backend in step with the switch; locked (but the buttons) while a run goes.

    The form (124 widgets, most of the dashboard's) is mounted by `mount_form` once the first frame is out.
    """

    def __init__(self, config: TrainConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.form: ConfigForm | None = None  # once mount_form has run

    def compose(self) -> ComposeResult:
        yield BackendSwitch(self.config.backend, id="backend-switch")
        yield Vertical(id="config-slot")
        yield ButtonBar(id="buttons")

    def on_mount(self) -> None:
        self.query_one(BackendSwitch).border_title = "backend"
        self.query_one("#config-slot").border_title = "configuration"

    async def mount_form(self) -> ConfigForm:
        """The configuration form, for the backend the switch shows by now."""
        from tui.widgets.config_form import ConfigForm

        switch = self.query_one(BackendSwitch)
        form = ConfigForm(dataclasses.replace(self.config, backend=switch.backend), id="config-form")
        form.disabled = switch.disabled
        await self.query_one("#config-slot").mount(form)
        self.form = form
        return form

    @on(BackendSwitch.Switched, "#backend-switch")
    def backend_switched(self, event: BackendSwitch.Switched) -> None:
        form = self.form
        if form is not None:  # else mount_form gives the form the switch's backend
            # On the form's own queue: a message posted from here has this sidebar as sender, and Textual stops
            # its bubbling at the sender, so the app would never see the form's ConfigForm.Changed.
            form.call_later(form.set_backend, event.backend)

    def toggle_backend(self) -> None:
        """The other backend (the form follows through BackendSwitch.Switched)."""
        switch = self.query_one(BackendSwitch)
        switch.set_backend("lightning" if switch.backend == "scalar" else "scalar")

    def set_running(self, going: bool) -> None:
        """A run goes: its backend and configuration are fixed (the buttons follow the run state themselves)."""
        self.query_one(BackendSwitch).disabled = going
        if self.form is not None:
            self.form.disabled = going

    def update_info(self, estimator: Estimator) -> None:
        """Device line and per-epoch estimate for the form's backend and device (the initial config's before)."""
        switch, form = self.query_one(BackendSwitch), self.form
        if form is None:
            switch.update_info(dataclasses.replace(self.config, backend=switch.backend), self.config.device,
                               estimator)
        else:
            switch.update_info(form.config, str(form.value_of("device")), estimator)
