"""The dashboard: configure, train and watch live, on either backend.

What screens pushed on top (the inspector) may use: `app.history` (tui.history.History), `app.control`
(the RunControl of the current run, or None), `app.trainer` (the backend instance of the current run, e.g.
ScalarTrainer with .model and .current_sample), `app.config` (the running config, else the form's last
valid one), `app.watched` and `app.set_watched(addresses)` (kept across runs), `app.state`.
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.geometry import Size
from textual.widgets import Button, Footer, Header, Static

from core.config import TrainConfig
from tui.estimate import Estimator
from tui.handlers import ACTIVE, HandlersMixin
from tui.history import History
from tui.messages import Announced, EventsReady, RunEnded
from tui.runner import EventPump, UiControl, train
from tui.screens import HelpPanel
from tui.widgets.backend_switch import BackendSwitch
from tui.widgets.config_form import ConfigForm
from tui.widgets.log import LogPane
from tui.widgets.plots import CurvesPane
from tui.widgets.status import StatusPane

MIN_WIDTH, MIN_HEIGHT = 100, 30
REDRAW_HZ = 4  # status and progress
PLOT_HZ = 2  # plots: each rebuild costs the UI thread ~10-30 ms of pure Python
# The handmade engine holds the GIL between bytecodes; a shorter switch interval lets the UI thread
# take it back sooner after each key press or timer tick (measured in bench/tui_latency.py).
RUN_SWITCH_INTERVAL = 0.001


class MnistDashApp(HandlersMixin, App[None]):
    """Train MNIST with the handmade engine or Lightning and watch it learn."""

    CSS_PATH = "app.tcss"
    TITLE = "mnist-dash"
    SUB_TITLE = "watch a network learn"
    BINDINGS = [
        Binding("s", "start", "start"),
        Binding("p", "pause", "pause/resume"),
        Binding("x", "stop", "stop"),
        Binding("b", "switch_backend", "backend"),
        Binding("i", "inspector", "inspector"),
        Binding("o", "open_runs", "open run"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "quit", "quit"),
        Binding("escape", "leave_form", "leave form", show=False),
    ]

    def __init__(
        self,
        config: TrainConfig | None = None,
        *,
        data_dir: str | Path | None = None,
        runs_dir: str | Path = "runs",
        watch: tuple[str, ...] | list[str] = (),
        open_run: str | Path | None = None,
        trainer_factory: Any = None,
    ) -> None:
        super().__init__()
        self.initial_config = config or TrainConfig()
        self.config: TrainConfig | None = self.initial_config
        self.data_dir = data_dir
        self.runs_dir = Path(runs_dir)
        self.watched: list[str] = list(dict.fromkeys(watch))
        self.open_run_path = open_run
        self.trainer_factory = trainer_factory
        self.history = History()
        self.control: UiControl | None = None
        self.trainer: Any = None
        self.state = "idle"
        self.estimator = Estimator()
        self.devices: dict[tuple[str, str], str] = {("scalar", "cpu"): "cpu"}
        self._pump = EventPump(lambda: self.post_message(EventsReady()))
        self._drawn: tuple[int, str] = (-1, "")
        self._plotted, self._plotted_at = -1, 0.0
        self._draw_failed = False
        self._gc_frozen = False
        self._switch_interval = sys.getswitchinterval()

    # ---- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                yield BackendSwitch(self.initial_config.backend, id="backend-switch")
                yield ConfigForm(self.initial_config, id="config-form")
                with Grid(id="buttons"):
                    yield Button("Start (s)", id="start-button", variant="success", compact=True)
                    yield Button("Pause (p)", id="pause-button", compact=True, disabled=True)
                    yield Button("Stop (x)", id="stop-button", variant="error", compact=True, disabled=True)
                    yield Button("Backend (b)", id="backend-button", compact=True)
                    yield Button("Inspect (i)", id="inspector-button", compact=True)
                    yield Button("Runs (o)", id="runs-button", compact=True)
                    yield Button("Help (?)", id="help-button", compact=True)
                    yield Button("Quit (q)", id="quit-button", compact=True)
            with Vertical(id="right"):
                yield CurvesPane(id="curves")
                yield StatusPane(id="status")
                yield LogPane(id="log")
        yield Static("", id="too-small")
        yield HelpPanel(id="help-overlay")
        yield Footer()

    def on_mount(self) -> None:
        self.form = self.query_one(ConfigForm)
        self.switch = self.query_one(BackendSwitch)
        self.curves = self.query_one(CurvesPane)
        self.status_pane = self.query_one(StatusPane)
        self.log_pane = self.query_one(LogPane)
        for widget, title in ((self.switch, "backend"), (self.form, "configuration"),
                              (self.status_pane, "progress"), (self.log_pane, "log")):
            widget.border_title = title
        self.set_interval(1 / REDRAW_HZ, self.redraw)  # the size check waits for the first Resize event
        self.update_backend_info()
        self.query_one("#start-button", Button).focus()
        if self.open_run_path is not None:
            self.open_run_dir(Path(self.open_run_path))
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        self.check_size(event.size)

    def check_size(self, size: Size | None = None) -> None:
        """Show a clear message instead of a squashed layout in a small terminal."""
        width, height = size or self.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.screen.set_class(small, "-too-small")
        if small:
            self.query_one("#too-small", Static).update(
                f"mnist-dash needs a terminal of at least {MIN_WIDTH}x{MIN_HEIGHT}; this one is "
                f"{width}x{height}.\nMake the window larger (it reflows), or press q to quit."
            )

    # ---- redraw (timer, not per event) -------------------------------------------------------------

    def redraw(self, plots: bool = True, force: bool = False) -> None:
        """Redraw from the history; a drawing bug is reported once, never allowed to kill the app."""
        if force:
            self._plotted_at = 0.0
        try:
            self._redraw(plots)
        except Exception as exc:  # pragma: no cover - defensive: the UI must outlive its own bugs
            if not self._draw_failed:
                self._draw_failed = True
                self.log_pane.add(f"cannot draw: {type(exc).__name__}: {exc}", "error", "app")
                self.notify(f"{type(exc).__name__}: {exc}", title="Drawing failed", severity="error")

    def _redraw(self, plots: bool) -> None:
        """Redraw status (cheap) and plots (costly: at most PLOT_HZ, only after new events) from history."""
        key = (self.history.version, self.state)
        if key != self._drawn:
            self._drawn = key
            self.status_pane.update_from(self.history, self.state)
        now = time.monotonic()
        if plots and self.history.version != self._plotted and now - self._plotted_at >= 1 / PLOT_HZ - 0.01:
            self._plotted, self._plotted_at = self.history.version, now
            self.ui_busy()  # the figures are built during the next refresh; build them without the trainer
            self.curves.redraw(self.history)

    def ui_busy(self) -> None:
        """Have the training thread step aside until the next frame is on screen."""
        # Only the handmade engine needs it: torch releases the GIL inside its kernels.
        scalar = self.config is not None and self.config.backend == "scalar"
        if self.control is not None and scalar and self.state in ("running", "starting"):
            self.control.ui_busy()
            self.call_after_refresh(self.control.ui_idle)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.ui_busy()  # first, before bindings and widgets run: key latency is the UI's budget
        await super().on_event(event)

    def set_state(self, state: str) -> None:
        self.state = state
        running = state in ACTIVE
        self.form.disabled = running
        self.switch.disabled = running
        self.query_one("#start-button", Button).disabled = running
        self.query_one("#stop-button", Button).disabled = not running or state == "stopping"
        pause = self.query_one("#pause-button", Button)
        pause.disabled = state not in ("running", "paused")
        pause.label = "Resume (p)" if state == "paused" else "Pause (p)"
        self.sub_title = {"paused": "paused", "running": "training"}.get(state, "watch a network learn")
        self.redraw(plots=False)  # a key press must not wait for a plot rebuild

    # ---- actions ----------------------------------------------------------------------------------

    def action_start(self) -> None:
        if self.state in ACTIVE:
            self.notify("A run is already going: stop it first (x).", severity="warning")
            return
        self.form.validate_now()
        config = self.form.config
        if config is None:
            problems = "\n".join(self.form.problems) or "the configuration is not valid"
            self.notify(problems, title="Cannot start", severity="error")
            return
        self.config = config
        self.control = UiControl(self.watched)
        self.trainer = None
        self.set_state("starting")
        self.log_pane.add(f"starting a {config.backend} run: {config.layer_sizes}, lr {config.lr}")
        if config.backend == "scalar":
            sys.setswitchinterval(RUN_SWITCH_INTERVAL)
        job = partial(train, config, self.control, self._pump.emit,
                      announce=lambda text: self.post_message(Announced(text)),
                      on_trainer=self._set_trainer, data_dir=self.data_dir, runs_dir=self.runs_dir,
                      trainer_factory=self.trainer_factory)
        self.run_worker(partial(self._train_thread, job), thread=True, exit_on_error=False,
                        group="training", name="training")

    def _train_thread(self, job: Any) -> None:
        reason, message = job()
        self.post_message(RunEnded(reason, message))

    def _set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer

    def action_pause(self) -> None:
        if self.control is None or self.state not in ("running", "paused", "starting"):
            return
        if self.control.user_paused:
            self.control.resume()
            self.set_state("running")
        else:
            self.control.pause()
            self.set_state("paused")

    def action_stop(self) -> None:
        if self.control is not None and self.state in ACTIVE:
            self.control.stop()
            self.set_state("stopping")
            self.log_pane.add("stop requested: the run ends after the current step")

    def action_switch_backend(self) -> None:
        if self.state in ACTIVE:
            self.notify("The backend is fixed while a run goes.", severity="warning")
            return
        self.switch.set_backend("lightning" if self.switch.backend == "scalar" else "scalar")

    def action_leave_form(self) -> None:
        help_panel = self.query_one(HelpPanel)
        if help_panel.visible:
            help_panel.visible = False
        else:
            self.query_one("#start-button", Button).focus()

    async def action_quit(self) -> None:
        self.stop_training()
        self.exit()

    def stop_training(self) -> None:
        """Ask a running training thread to stop (thread workers are not killed on exit)."""
        if self.control is not None:
            self.control.stop()

    def on_unmount(self) -> None:
        self.stop_training()
        sys.setswitchinterval(self._switch_interval)

    def set_watched(self, addresses: Any) -> None:
        """Replace the watched addresses for this run and the next ones."""
        self.watched = list(dict.fromkeys(addresses))
        if self.control is not None:
            self.control.set_watched(self.watched)


def make_app(
    config: TrainConfig | None = None,
    *,
    data_dir: str | Path | None = None,
    runs_dir: str | Path = "runs",
    watch: tuple[str, ...] | list[str] = (),
    open_run: str | Path | None = None,
    trainer_factory: Any = None,
) -> MnistDashApp:
    """The dashboard, ready to .run() (the CLI) or .run_test() (tests, screenshots)."""
    return MnistDashApp(config, data_dir=data_dir, runs_dir=runs_dir, watch=tuple(watch), open_run=open_run,
                        trainer_factory=trainer_factory)
