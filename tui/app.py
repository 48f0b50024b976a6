"""The dashboard: configure, train and watch live, on either backend.

The run lifecycle lives in `tui.controller.RunController` (a plain class); the app owns one, shows what it
says, and mirrors its state into the `state` reactive whose watcher enables and disables the controls.
Screens pushed on top (the inspector) use `app.controller` (history, watched addresses, the probe of the
model shown, the config in force) and `app.set_watched(addresses)`. Other plain classes it owns: Following
(a run another process writes), Steering (x, p, L to the own or followed run), UiPriority (keys first beside
the handmade engine), Redrawer (panes from history on a timer), StopThenExit (SIGHUP, SIGTERM).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Footer, Header

from core.config import TrainConfig
from tui import opening
from tui.controller import ACTIVE, IDLE, PAUSED, RUNNING, Note, Refused, RunController
from tui.follow import Following, Polled
from tui.history import History
from tui.messages import Announced, EventsReady, RunEnded
from tui.priority import UiPriority
from tui.redraw import REDRAW_HZ, Redrawer
from tui.runner import UiControl, train
from tui.signals import StopThenExit
from tui.steering import Steering, recording_factory
from tui.widgets.backend_switch import BackendSwitch
from tui.widgets.buttons import ButtonBar
from tui.widgets.config_form import ConfigForm
from tui.widgets.help import HelpPanel
from tui.widgets.log import LogPane
from tui.widgets.plots import CurvesPane
from tui.widgets.sidebar import Sidebar
from tui.widgets.status import StatusPane
from tui.widgets.system import SystemPane
from tui.widgets.too_small import TooSmall

SEVERITY = {"error": "error", "warning": "warning"}
DASHBOARD_ONLY = ("start", "stop", "set_lr", "switch_backend", "inspector", "digits", "open_runs", "toggle_debug",
                  "help", "leave_form")


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
        self.steering = Steering(self.controller, self.following, show=self.show, warn=self.warn)  # x, p, L
        self.priority = UiPriority(self.controller, self.call_after_refresh)  # keys first beside the engine
        self.signals = StopThenExit(self.controller, self.steering, exit=self.exit,  # SIGHUP, SIGTERM
                                    log=lambda text: self.log_pane.add(text, "warning", "app"))

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
            yield Sidebar(self.initial_config, id="sidebar")
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
        self.sidebar, self.buttons = self.query_one(Sidebar), self.query_one(ButtonBar)
        self.form, self.switch = self.query_one(ConfigForm), self.query_one(BackendSwitch)
        self.curves, self.status_pane = self.query_one(CurvesPane), self.query_one(StatusPane)
        self.log_pane, self.system_pane = self.query_one(LogPane), self.query_one(SystemPane)
        self.redrawer = Redrawer(self.controller, self.following, status=self.status_pane, system=self.system_pane,
                                 curves=self.curves, busy=self.priority.busy, show=self.show)
        self.status_pane.border_title = "progress"
        self.set_interval(1 / REDRAW_HZ, self.redraw)  # the size check waits for the first Resize event
        self.signals.install()
        self.update_backend_info()
        self.buttons.button("start-button").focus()
        if self.open_run_path is not None:
            opening.open_run_dir(self, Path(self.open_run_path))
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
        self.sidebar.set_running(going)
        self.buttons.show_state(state)
        self.sub_title = {PAUSED: "paused", RUNNING: "training"}.get(state, "watch a network learn")
        if not going:
            self.priority.run_over()
        self.redraw(plots=False)  # a key press must not wait for a plot rebuild

    def redraw(self, plots: bool = True, force: bool = False) -> None:
        """Redraw the panes from the history (the timer's tick; `force`: the plots too, now)."""
        self.redrawer.draw(self.state, plots, force)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.priority.busy()  # first, before bindings and widgets run: key latency is the UI's budget
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

    def warn(self, text: str) -> None:
        self.notify(text, severity="warning")

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
            self.warn(str(exc))
            return
        self.following.end()
        self.log_pane.add(f"starting a {config.backend} run: {config.layer_sizes}, lr {config.lr}")
        self.priority.run_started(config)
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
        self.steering.pause()

    def action_stop(self) -> None:
        self.steering.stop()

    def action_set_lr(self) -> None:
        """Ask for a new learning rate of the live run (own or followed) from its next step on."""
        from tui.widgets.lr_control import LearningRateScreen

        asked = self.steering.lr_request()
        if asked is not None:
            current, target, apply = asked
            self.push_screen(LearningRateScreen(current, target), apply)

    def on_polled(self, message: Polled) -> None:
        """A batch of a followed run's events: the same folding, history and redraw as an own run's."""
        self.show(self.following.take(message))
        run = self.following.run  # pause and stop act on a followed run while it goes
        if run is None or self.controller.active:
            return
        self.buttons.show_followed(run)
        self.sub_title = f"following {run.run_dir.name}: {self.following.describe(run.status)}"

    def on_events_ready(self, _message: EventsReady) -> None:
        self.show(self.controller.fold())
        if self.controller.stepped and self.controller.active:
            self.priority.model_exists()

    def on_run_ended(self, message: RunEnded) -> None:
        self.show(self.controller.ended(message.reason, message.error))
        self.update_backend_info()
        self.signals.run_ended()

    def on_announced(self, message: Announced) -> None:
        self.log_pane.add(message.text, message.level, "data")

    async def action_quit(self) -> None:
        self.following.end()
        self.controller.quit()
        self.exit()

    def on_unmount(self) -> None:
        self.following.end()
        self.controller.quit()
        self.priority.restore_switch_interval()
        self.signals.restore()

    # ---- the sidebar -------------------------------------------------------------------------------

    def action_switch_backend(self) -> None:
        if self.controller.active:
            self.notify("The backend is fixed while a run goes.", severity="warning")
            return
        self.sidebar.toggle_backend()

    @on(ConfigForm.Changed, "#config-form")
    def config_changed(self, event: ConfigForm.Changed) -> None:
        self.controller.form_changed(event.config)
        if hasattr(self, "sidebar"):
            self.update_backend_info()

    def update_backend_info(self) -> None:
        """Device line and per-epoch estimate for the form's backend and device."""
        self.sidebar.update_info(self.controller.estimator)

    def action_leave_form(self) -> None:
        if not self.query_one(HelpPanel).close():
            self.buttons.button("start-button").focus()

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

    def hold_training(self) -> Callable[[], None]:
        """Let UI work done in a worker (the digits canvas asking the probe) have the GIL; call the result after."""
        return self.priority.hold()

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


def make_app(config: TrainConfig | None = None, *, data_dir: str | Path | None = None, runs_dir: str | Path = "runs",
             watch: Iterable[str] = (), open_run: str | Path | None = None,
             trainer_factory: Any = None) -> MnistDashApp:
    """The dashboard, ready to .run() (the CLI) or .run_test() (tests, screenshots)."""
    return MnistDashApp(config, data_dir=data_dir, runs_dir=runs_dir, watch=tuple(watch), open_run=open_run,
                        trainer_factory=trainer_factory)
