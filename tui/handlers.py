"""The app's reactions to training events, and its modal screens (help, past runs, inspector)."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.widgets import Button

from core.events import EpochEnded, LogLine, RunFailed, RunFinished, RunStarted, StepEnded
from tui.estimate import format_seconds
from tui.messages import Announced, DeviceDescribed, EventsReady, RunEnded
from tui.runner import describe
from tui.screens import HELP_WIDTH, HelpPanel, RunsScreen
from tui.widgets.backend_switch import BackendSwitch
from tui.widgets.config_form import ConfigForm

ACTIVE = ("starting", "running", "paused", "stopping")  # run states in which the form is locked

if TYPE_CHECKING:
    from tui.app import MnistDashApp

    _Base = MnistDashApp
else:
    _Base = object


class HandlersMixin(_Base):
    """Event folding, run end, backend info, opening past runs, help and inspector for MnistDashApp."""

    # ---- events from the training thread ----------------------------------------------------------

    def on_events_ready(self, _message: EventsReady) -> None:
        for event in self._pump.drain():
            self.history.add(event)
            if isinstance(event, RunStarted):
                self.on_run_started(event)
            elif isinstance(event, StepEnded):
                if self.state == "starting":
                    self.set_state("running")
                self.freeze_gc()
            elif isinstance(event, LogLine):
                self.log_pane.add(event.message, event.level, event.source)
                if event.level == "error":
                    self.notify(event.message, title="Backend error", severity="error")
            elif isinstance(event, EpochEnded):
                self.on_epoch_ended(event)
            elif isinstance(event, RunFinished):
                text = f"run {event.reason.replace('_', ' ')} after {event.steps:,} steps in {event.seconds:.1f} s"
                if event.test_accuracy is not None:
                    text += f": test accuracy {event.test_accuracy:.1%}"
                self.log_pane.add(text + (f" ({event.message})" if event.message else ""), )
            elif isinstance(event, RunFailed):
                self.show_failure(event.error)

    def freeze_gc(self) -> None:
        """Once the model exists, exempt everything alive from the cyclic GC until the run ends.

        A full collection walks every Scalar of the handmade model (tens of thousands of objects) while
        holding the GIL: it was the tail of the key-latency distribution (bench/tui_latency.py).
        """
        if not self._gc_frozen:
            self._gc_frozen = True
            gc.collect()
            gc.freeze()

    def thaw_gc(self) -> None:
        if self._gc_frozen:
            self._gc_frozen = False
            gc.unfreeze()

    def on_run_started(self, event: RunStarted) -> None:
        if self.state == "starting":
            self.set_state("running")
        if event.config.get("train_subset") == 0:
            self.estimator.known_train_size = event.train_size
        where = event.run_dir or "(not recorded)"
        self.log_pane.add(
            f"run {event.run_id} started on {event.device}: {event.parameter_count:,} parameters, "
            f"{event.train_size:,} training digits from {event.data_source}; recording to {where}",
        )

    def on_epoch_ended(self, event: EpochEnded) -> None:
        self.log_pane.add(
            f"epoch {event.epoch}: train loss {event.train_loss:.4f} acc {event.train_accuracy:.1%} · "
            f"val loss {event.val_loss:.4f} acc {event.val_accuracy:.1%} · {event.epoch_seconds:.1f} s",
        )
        run = self.history.current
        if self.config is not None and run is not None and run.started is not None and event.samples_per_s > 0:
            device = run.started.device
            self.estimator.observe(run.started.backend, self.config, event.samples_per_s,
                                   "cpu" if device.startswith("cpu") else "gpu")

    def show_failure(self, error: str) -> None:
        self._failure_shown = True
        self.log_pane.add(error, "error")
        self.notify(error, title="The run failed", severity="error", timeout=10)

    def on_run_ended(self, message: RunEnded) -> None:
        self.on_events_ready(EventsReady())  # fold anything still buffered before the final state
        sys.setswitchinterval(self._switch_interval)
        self.thaw_gc()
        if message.reason == "failed" and not getattr(self, "_failure_shown", False):
            self.show_failure(message.error or "the run failed")
        self._failure_shown = False
        self.set_state(message.reason)
        if message.reason != "failed":
            self.notify(f"Run {message.reason.replace('_', ' ')}.", timeout=4)
        self.update_backend_info()

    def on_announced(self, message: Announced) -> None:
        self.log_pane.add(message.text, message.level, "data")

    # ---- buttons ----------------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.screen is not self.screen_stack[0]:
            return  # another screen's buttons (the inspector's) bubble up here too
        action = (event.button.id or "").removesuffix("-button").replace("-", "_")
        actions = {"start": self.action_start, "pause": self.action_pause, "stop": self.action_stop,
                   "backend": self.action_switch_backend, "inspector": self.action_inspector,
                   "runs": self.action_open_runs, "help": self.action_help}
        if action in actions:
            actions[action]()
        elif action == "quit":
            self.stop_training()
            self.exit()

    # ---- screens ----------------------------------------------------------------------------------

    def action_help(self) -> None:
        """Toggle the help overlay, centred on the current size."""
        if self.screen is not self.screen_stack[0]:
            return  # another screen (the inspector) is on top; its own help applies
        panel = self.query_one(HelpPanel)
        if not panel.visible:
            width, height = self.size
            panel.styles.offset = (max(0, (width - HELP_WIDTH) // 2), max(1, (height - 20) // 3))
        panel.visible = not panel.visible  # visibility, not display: no relayout of the dashboard

    def action_inspector(self) -> None:
        try:
            from tui.inspector import InspectorScreen
        except ImportError:
            self.notify("The gradient inspector is not available in this build.", severity="warning")
            return
        try:
            self.push_screen(InspectorScreen(self))
        except Exception as exc:  # a broken inspector must not take the dashboard down
            self.notify(f"inspector: {type(exc).__name__}: {exc}", severity="error")

    def action_open_runs(self) -> None:
        if self.state in ACTIVE:
            self.notify("Stop the run before opening another one.", severity="warning")
            return
        self.push_screen(RunsScreen(self.runs_dir), self._opened)

    def _opened(self, path: Path | None) -> None:
        if path is not None:
            self.open_run_dir(path)

    def open_run_dir(self, path: Path) -> None:
        """Show a recorded run's curves (the run before it stays dimmed) and its configuration."""
        from core.runs import NotARunError, open_run

        try:
            record = open_run(path)
        except (NotARunError, OSError) as exc:
            self.log_pane.add(str(exc), "error", "runs")
            self.notify(str(exc), title="Cannot open the run", severity="error")
            return
        self.history.load(record.events)
        if self.switch.backend != record.config.backend:
            self.switch.set_backend(record.config.backend)
        self.form.load(record.config)
        self.log_pane.add(f"opened {path} ({record.status}, {len(record.events):,} events)", source="runs")
        self.set_state("viewing")

    # ---- backend and estimate ---------------------------------------------------------------------

    def on_backend_switch_switched(self, event: BackendSwitch.Switched) -> None:
        self.form.set_backend(event.backend)
        self.update_backend_info()

    def on_config_form_changed(self, event: ConfigForm.Changed) -> None:
        if event.config is not None and self.state not in ACTIVE:
            self.config = event.config
        if hasattr(self, "switch"):
            self.update_backend_info()

    def update_backend_info(self) -> None:
        """Device line and per-epoch estimate for the form's backend and device."""
        backend = self.switch.backend
        device_setting = "cpu" if backend == "scalar" else str(self.form.values().get("device", "auto"))
        device = self.devices.get((backend, device_setting))
        if backend == "scalar":
            device_text = "device: CPU (pure Python, one core)"
        elif device is None:
            device_text = "device: probing (importing torch in the background)…"
            self.probe_device(backend, device_setting)
        else:
            device_text = f"device: {'CPU' if device == 'cpu' else device}"
        config = self.form.config
        if config is None:
            estimate = "estimate: fix the settings below"
        else:
            kind = "cpu" if (device or "cpu") == "cpu" or device.startswith("unavailable") else "gpu"
            seconds = self.estimator.epoch_seconds(config, kind)
            n = self.estimator.train_size(config)
            estimate = f"estimate: ~{format_seconds(seconds)} per epoch ({n:,} training digits)"
        self.switch.show(device_text, estimate)

    @work(thread=True, exit_on_error=False, group="probe")
    def probe_device(self, backend: str, device: str) -> None:
        """Resolve the device off the UI thread: for Lightning this imports torch (seconds)."""
        self.post_message(DeviceDescribed(backend, device, describe(backend, device)))

    def on_device_described(self, message: DeviceDescribed) -> None:
        self.devices[(message.backend, message.device)] = message.text
        self.update_backend_info()
