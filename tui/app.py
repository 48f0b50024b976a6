"""The dashboard: configure, train and watch live, on either backend.

The run lifecycle lives in `tui.controller.RunController` (a plain class); the app owns one, shows what it
says, and mirrors its state into the `state` reactive whose watcher enables and disables the controls.
Screens pushed on top (the inspector) use `app.controller` (history, watched addresses, the probe of the
model shown, the config in force) and `app.set_watched(addresses)`.
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path
from typing import Any, Iterable

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Button, Footer, Header

from core.config import TrainConfig
from tui import opening
from tui.controller import ACTIVE, IDLE, PAUSED, RUNNING, STARTING, STOPPING, Note, Refused, RunController
from tui.follow import Following, Polled
from tui.history import History
from tui.marks import mark_lr_changes
from tui.messages import Announced, EventsReady, RunEnded
from tui.runner import GcFreeze, UiControl, train
from tui.signals import SignalStop, signal_name
from tui.steering import recording_factory
from tui.widgets.backend_switch import BackendSwitch
from tui.widgets.config_form import ConfigForm
from tui.widgets.help import HelpPanel
from tui.widgets.log import LogPane
from tui.widgets.plots import CurvesPane
from tui.widgets.status import StatusPane
from tui.widgets.system import SystemPane
from tui.widgets.too_small import TooSmall

REDRAW_HZ = 4  # status and progress
PLOT_HZ = 2  # plots: each rebuild costs the UI thread ~10-30 ms of pure Python
# The handmade engine holds the GIL between bytecodes; a shorter switch interval lets the UI thread
# take it back sooner after each key press or timer tick (measured in bench/tui_latency.py).
RUN_SWITCH_INTERVAL = 0.001
SEVERITY = {"error": "error", "warning": "warning"}
DASHBOARD_ONLY = ("start", "stop", "set_lr", "switch_backend", "inspector", "digits", "open_runs", "toggle_debug",
                  "help", "leave_form")
BUTTONS = (  # label, id, action, variant
    ("Start (s)", "start-button", "start", "success"), ("Pause (p)", "pause-button", "pause", "default"),
    ("Stop (x)", "stop-button", "stop", "error"), ("Backend (b)", "backend-button", "switch_backend", "default"),
    ("Inspect (i)", "inspector-button", "inspector", "default"), ("Digits (d)", "digits-button", "digits", "default"),
    ("Runs (o)", "runs-button", "open_runs", "default"), ("Help (?)", "help-button", "help", "default"),
    ("Quit (q)", "quit-button", "quit", "default"),
)


class MnistDashApp(App[None]):
    """Train MNIST with the handmade engine or Lightning and watch it learn."""

    CSS_PATH = "app.tcss"
    TITLE = "mnist-dash"
    SUB_TITLE = "watch a network learn"
    BINDINGS = [
        Binding("s", "start", "start"),
        Binding("p", "pause", "pause/resume"),
        Binding("x", "stop", "stop"),
        Binding("L", "set_lr", "learning rate"),
        Binding("b", "switch_backend", "backend"),
        Binding("i", "inspector", "inspector"),
        Binding("d", "digits", "digits"),
        Binding("o", "open_runs", "runs"),
        Binding("D", "toggle_debug", "debug log", show=False),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "quit", "quit"),
        Binding("escape", "leave_form", "leave form", show=False),
    ]

    state: reactive[str] = reactive(IDLE, init=False)  # mirrors controller.state; the watcher sets the controls

    def __init__(self, config: TrainConfig | None = None, *, data_dir: str | Path | None = None,
                 runs_dir: str | Path = "runs", watch: Iterable[str] = (), open_run: str | Path | None = None,
                 trainer_factory: Any = None) -> None:
        super().__init__()
        self.initial_config = config or TrainConfig()
        self.data_dir = data_dir
        self.runs_dir = Path(runs_dir)
        self.open_run_path = open_run
        self.trainer_factory = trainer_factory
        self.controller = RunController(watch, on_state=partial(setattr, self, "state"),
                                        wake=lambda: self.post_message(EventsReady()))
        self.controller.config = self.initial_config
        self.following = Following(self.controller)  # a run another process writes, followed live
        self.gc_freeze = GcFreeze()
        self.signal_stop = SignalStop(self.stop_then_exit)  # SIGHUP, SIGTERM
        self.exit_after_run = 0  # the signal to exit with once the run has ended
        self._drawn: tuple[int, str] = (-1, "")
        self._plotted, self._plotted_at = -1, 0.0
        self._draw_failed = False
        self._switch_interval = sys.getswitchinterval()

    # ---- what screens on top read ------------------------------------------------------------------

    @property
    def history(self) -> History:
        return self.controller.history

    @property
    def control(self) -> UiControl | None:
        return self.controller.control

    @property
    def watched(self) -> list[str]:
        return self.controller.watched

    def set_watched(self, addresses: Iterable[str]) -> None:
        """Replace the watched addresses for this run and the next ones."""
        self.controller.set_watched(list(addresses))

    # ---- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                yield BackendSwitch(self.initial_config.backend, id="backend-switch")
                yield ConfigForm(self.initial_config, id="config-form")
                with Grid(id="buttons"):
                    for label, id_, action, variant in BUTTONS:
                        yield Button(label, id=id_, variant=variant, compact=True, action=f"app.{action}",  # type: ignore[arg-type]
                                     disabled=id_ in ("pause-button", "stop-button"))
            with Vertical(id="right"):
                yield CurvesPane(id="curves")
                with Horizontal(id="status-row"):
                    yield StatusPane(id="status")
                    yield SystemPane(id="system")
                yield LogPane(id="log")
        yield TooSmall("", id="too-small")
        yield HelpPanel(id="help-overlay")
        yield Footer()

    def on_mount(self) -> None:
        self.form = self.query_one(ConfigForm)
        self.switch = self.query_one(BackendSwitch)
        self.curves = self.query_one(CurvesPane)
        self.status_pane = self.query_one(StatusPane)
        self.log_pane = self.query_one(LogPane)
        self.system_pane = self.query_one(SystemPane)
        self.buttons = {b.id: b for b in self.query(Button) if b.id}
        for widget, title in ((self.switch, "backend"), (self.form, "configuration"), (self.status_pane, "progress")):
            widget.border_title = title
        self.set_interval(1 / REDRAW_HZ, self.redraw)  # the size check waits for the first Resize event
        self.signal_stop.install()
        self.update_backend_info()
        self.buttons["start-button"].focus()
        if self.open_run_path is not None:
            self.open_run_dir(Path(self.open_run_path))
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        self.query_one(TooSmall).check(event.size)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The dashboard's own keys act (and show in the footer) only on the dashboard, not on screens above it."""
        if action in DASHBOARD_ONLY and self.screen is not self.screen_stack[0]:
            return False
        return True

    def watch_state(self, state: str) -> None:
        """Every control that depends on the run state, in one place."""
        going = state in ACTIVE
        self.form.disabled = self.switch.disabled = self.buttons["start-button"].disabled = going
        self.buttons["stop-button"].disabled = not going or state == STOPPING
        pause = self.buttons["pause-button"]
        pause.disabled = state not in (STARTING, RUNNING, PAUSED)
        pause.label = "Resume (p)" if state == PAUSED else "Pause (p)"
        self.sub_title = {PAUSED: "paused", RUNNING: "training"}.get(state, "watch a network learn")
        if not going:
            sys.setswitchinterval(self._switch_interval)
            self.gc_freeze.thaw()
        self.redraw(plots=False)  # a key press must not wait for a plot rebuild

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
                self.show([Note(f"cannot draw: {type(exc).__name__}: {exc}", "error", "app", "Drawing failed")])

    def _redraw(self, plots: bool) -> None:
        """Redraw status (cheap) and plots (costly: at most PLOT_HZ, only after new events) from history."""
        shown = self.following.shown_state(self.state)
        key = (self.history.version, shown)
        if key != self._drawn:
            self._drawn = key
            self.status_pane.update_from(self.history, shown)
        self.system_pane.update_from(self.controller.marks)
        now = time.monotonic()
        if plots and self.history.version != self._plotted and now - self._plotted_at >= 1 / PLOT_HZ - 0.01:
            self._plotted, self._plotted_at = self.history.version, now
            self.ui_busy()  # the figures are built during the next refresh; build them without the trainer
            self.curves.redraw(self.history)
            mark_lr_changes(self.curves, self.controller.marks)

    def ui_busy(self) -> None:
        """Have the training thread step aside until the next frame is on screen."""
        # Only the handmade engine needs it: torch releases the GIL inside its kernels.
        config, control = self.controller.run_config, self.control
        if control is not None and config is not None and config.backend == "scalar" and self.state in (
                STARTING, RUNNING):
            control.ui_busy()
            self.call_after_refresh(control.ui_idle)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.ui_busy()  # first, before bindings and widgets run: key latency is the UI's budget
        await super().on_event(event)

    def show(self, notes: Iterable[Note]) -> None:
        """Log what the controller said; notify the user of what carries a title."""
        for note in notes:
            if note.log:
                self.log_pane.add(note.text, note.level, note.source)
            if note.title:
                timeout = 10 if note.level == "error" else 4
                self.notify(note.text, title=note.title, severity=SEVERITY.get(note.level, "information"),
                            timeout=timeout)

    def refuse(self, exc: Refused) -> None:
        self.notify(str(exc), severity="warning")

    # ---- the run -------------------------------------------------------------------------------------

    def action_start(self) -> None:
        config = self.form.config
        if config is None:
            problems = "\n".join(self.form.problem_lines()) or "the configuration is not valid"
            self.notify(problems, title="Cannot start", severity="error")
            return
        try:
            control = self.controller.start(config)
        except Refused as exc:
            self.refuse(exc)
            return
        self.stop_following()
        self.log_pane.add(f"starting a {config.backend} run: {config.layer_sizes}, lr {config.lr}")
        if config.backend == "scalar":
            sys.setswitchinterval(RUN_SWITCH_INTERVAL)
        job = partial(train, config, control, self.controller.pump.emit,
                      announce=lambda text: self.post_message(Announced(text)),
                      on_trainer=self.controller.set_trainer, data_dir=self.data_dir, runs_dir=self.runs_dir,
                      trainer_factory=recording_factory(self.trainer_factory), on_data=self.controller.set_data)
        self.run_worker(partial(self._train_thread, job), thread=True, exit_on_error=False, group="training",
                        name="training")

    def _train_thread(self, job: Any) -> None:
        reason, message = job()
        self.post_message(RunEnded(reason, message))

    def action_pause(self) -> None:
        if not self.controller.active and self.following.going:
            self.steer_followed(self.following.toggle_pause)
            return
        try:
            self.controller.toggle_pause()
        except Refused as exc:
            self.refuse(exc)

    def action_stop(self) -> None:
        if not self.controller.active and self.following.going:
            self.steer_followed(self.following.send, "stop")
            return
        try:
            note = self.controller.stop()
        except Refused as exc:
            self.refuse(exc)
            return
        self.show([note] if note else [])

    def steer_followed(self, send: Any, *args: Any) -> None:
        """A command to the followed run through its folder; a refusal is a notification, never a traceback."""
        from core.steer import SteerError

        try:
            self.show([send(*args)])
        except (SteerError, OSError) as exc:
            self.show([Note(str(exc), "warning", "control", "Cannot steer the run")])

    def action_set_lr(self) -> None:
        """Ask for a new learning rate of the live run (own or followed) from its next step on."""
        from tui.widgets.lr_control import LearningRateScreen

        own = self.controller.state in (STARTING, RUNNING, PAUSED)
        if not own and not self.following.going:
            self.notify("No live run: the learning rate of the next run is in the form.", severity="warning")
            return
        marks, config = self.controller.marks, self.controller.run_config
        current = marks.lr if marks.lr is not None else (config.lr if config else None)
        target = "this run" if own else self.following.run.run_dir.name  # type: ignore[union-attr]

        def apply(lr: float | None) -> None:
            if lr is None:
                return
            if own:
                try:
                    self.show([self.controller.set_lr(lr)])
                except Refused as exc:
                    self.refuse(exc)
            else:
                self.steer_followed(self.following.send, "set_lr", lr)

        self.push_screen(LearningRateScreen(current, target), apply)

    def on_polled(self, message: Polled) -> None:
        """A batch of a followed run's events: the same folding, history and redraw as an own run's."""
        self.show(self.following.take(message))
        self.sync_follow_buttons()

    def sync_follow_buttons(self) -> None:
        """Pause and stop act on a followed run while it goes."""
        run = self.following.run
        if run is None or self.controller.active:
            return
        self.buttons["stop-button"].disabled = self.buttons["pause-button"].disabled = not run.going
        self.buttons["pause-button"].label = "Resume (p)" if run.paused else "Pause (p)"
        self.sub_title = f"following {run.run_dir.name}: {self.following.describe(run.status)}"

    def stop_following(self) -> None:
        self.following.end()

    def on_events_ready(self, _message: EventsReady) -> None:
        self.show(self.controller.fold())
        if self.controller.stepped and self.controller.active:
            self.gc_freeze.freeze()

    def on_run_ended(self, message: RunEnded) -> None:
        self.show(self.controller.ended(message.reason, message.error))
        self.update_backend_info()
        if self.exit_after_run:
            self.exit(128 + self.exit_after_run)  # the CLI's exit status, as headless

    def on_announced(self, message: Announced) -> None:
        self.log_pane.add(message.text, message.level, "data")

    def stop_then_exit(self, signum: int) -> None:
        """SIGHUP or SIGTERM: stop the run as Ctrl+C does headless (recorded as stopped), exit once it ended."""
        if not self.controller.active:
            self.exit(128 + signum)
            return
        self.exit_after_run = signum
        self.log_pane.add(f"{signal_name(signum)}: stopping the run, then exiting (a second signal exits at once)",
                          "warning", "app")
        if self.controller.state != STOPPING:
            self.action_stop()

    async def action_quit(self) -> None:
        self.stop_following()
        self.controller.quit()
        self.exit()

    def on_unmount(self) -> None:
        self.stop_following()
        self.controller.quit()
        sys.setswitchinterval(self._switch_interval)
        self.signal_stop.restore()

    # ---- the sidebar -------------------------------------------------------------------------------

    def action_switch_backend(self) -> None:
        if self.controller.active:
            self.notify("The backend is fixed while a run goes.", severity="warning")
            return
        self.switch.set_backend("lightning" if self.switch.backend == "scalar" else "scalar")

    @on(BackendSwitch.Switched, "#backend-switch")
    def backend_switched(self, event: BackendSwitch.Switched) -> None:
        self.form.set_backend(event.backend)

    @on(ConfigForm.Changed, "#config-form")
    def config_changed(self, event: ConfigForm.Changed) -> None:
        self.controller.form_changed(event.config)
        if hasattr(self, "switch"):
            self.update_backend_info()

    def update_backend_info(self) -> None:
        """Device line and per-epoch estimate for the form's backend and device."""
        self.switch.update_info(self.form.config, str(self.form.value_of("device")), self.controller.estimator)

    def action_leave_form(self) -> None:
        if not self.query_one(HelpPanel).close():
            self.buttons["start-button"].focus()

    def action_toggle_debug(self) -> None:
        """Show or hide library chatter (debug log lines: Lightning's tips, deprecation warnings)."""
        self.log_pane.show_debug = not self.log_pane.show_debug

    # ---- screens -----------------------------------------------------------------------------------

    def action_help(self) -> None:
        """Toggle the help overlay, centred on the current size."""
        self.query_one(HelpPanel).toggle(self.size)

    def action_inspector(self) -> None:
        from tui.inspector import InspectorScreen

        try:
            self.push_screen(InspectorScreen(self))
        except Exception as exc:  # a broken inspector must not take the dashboard down
            self.notify(f"inspector: {type(exc).__name__}: {exc}", severity="error")

    def action_digits(self) -> None:
        """The model shown, on real digits: its answers, its confusion matrix, and a digit you draw."""
        data = self.controller.data
        if data is None:
            self.notify("No digits yet: start a run (s) or open one (o); they appear once its data is loaded.",
                        severity="warning")
            return
        from tui.digits import DigitsScreen

        self.push_screen(DigitsScreen(self.controller.probe, data, lambda: self.controller.evaluations))

    def action_open_runs(self) -> None:
        """The runs table: open one run, or compare several."""
        opening.push_runs_table(self)

    def open_run_dir(self, path: Path) -> None:
        """Show a recorded run's curves (the run before it stays dimmed) and its configuration."""
        if not opening.show_record(self, path):
            return
        followed = self.following.begin(path)
        if followed is not None:
            self.log_pane.add(f"following {path.name} live: x stops it, p pauses it, L changes its learning rate",
                              source="follow")
            self.run_worker(partial(followed.run, self.post_message), thread=True, exit_on_error=False,
                            group="follow", name="follow")


def make_app(config: TrainConfig | None = None, *, data_dir: str | Path | None = None, runs_dir: str | Path = "runs",
             watch: Iterable[str] = (), open_run: str | Path | None = None,
             trainer_factory: Any = None) -> MnistDashApp:
    """The dashboard, ready to .run() (the CLI) or .run_test() (tests, screenshots)."""
    return MnistDashApp(config, data_dir=data_dir, runs_dir=runs_dir, watch=tuple(watch), open_run=open_run,
                        trainer_factory=trainer_factory)
