"""The dashboard screen: the form and buttons on the left, curves, progress, system and log on the right.

It is the app's default screen (`MnistDashApp.get_default_screen`), so its keys act only while it is on top:
screens pushed over it (inspector, digits, runs, compare) get the controller or a `RunLink`, never the app.
The run lifecycle lives in `tui.controller.RunController` (a plain class in the `Lab`); the screen shows what
it says and mirrors its state into the `state` reactive, whose watcher enables and disables the controls.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Header

from tui.controller import ACTIVE, IDLE, PAUSED, RUNNING, STARTING, Note, Refused
from tui.dashboard.lab import Lab, RunLink
from tui.dashboard.opening import RunOpener
from tui.estimate import source_digits
from tui.follow import Polled
from tui.footer_fit import KeyFooter
from tui.messages import Announced, EventsReady, RunEnded
from tui.runner import train
from tui.widgets.backend_switch import BackendSwitch
from tui.widgets.buttons import ButtonBar
from tui.widgets.help import HelpPanel
from tui.widgets.log import LogPane
from tui.widgets.sidebar import Sidebar
from tui.widgets.status import StatusPane
from tui.widgets.system import SystemPane
from tui.widgets.too_small import TooSmall

if TYPE_CHECKING:  # the form (Input, Select) is imported once the first frame is out
    from tui.widgets.config_form import ConfigForm

SEVERITY = {"error": "error", "warning": "warning"}
FULL_SIZE = (140, 40)  # the side-by-side layout from this size up; below it, the setup and run pages
INSPECTOR = "inspector"  # the names the inspector and digits screens are installed under (kept between openings)
DIGITS = "digits"
SETUP, RUN = "setup", "run"


class DashboardScreen(Screen[None]):
    """Train MNIST with the handmade engine or Lightning and watch it learn."""

    CSS_PATH = "dashboard.tcss"
    BINDINGS = [
        Binding("s", "start", "start"),
        Binding("p", "pause", "pause"),
        Binding("x", "stop", "stop"),
        Binding("L", "set_lr", "rate"),
        Binding("b", "switch_backend", "backend"),
        Binding("i", "inspector", "inspect"),
        Binding("d", "digits", "digits"),
        Binding("o", "open_runs", "runs"),
        Binding("W", "sweep", "sweep"),  # tui/sweep: a small sweep over the form's settings
        Binding("D", "toggle_debug", "debug log", show=False),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("v", "switch_page", "view"),  # only in the compact layout (see check_action)
        Binding("escape", "leave_form", "leave form", show=False),
    ]

    state: reactive[str] = reactive(IDLE, init=False)  # mirrors controller.state; the watcher sets the controls
    compact: reactive[bool] = reactive(False, bindings=True)  # below FULL_SIZE: one page at a time
    page: reactive[str] = reactive(SETUP)  # the page shown in the compact layout: SETUP (form) or RUN (panes)

    def __init__(self, lab: Lab) -> None:
        # The page's class from the start: a class changed on the screen restyles all of its widgets.
        super().__init__(id="dashboard", classes="-page-run" if lab.open_run is not None else "-page-setup")
        self.lab = lab
        self.controller, self.following, self.steering = lab.controller, lab.following, lab.steering
        self.priority = lab.priority
        self.opener = RunOpener(self)  # runs from the runs folder: opened, followed, compared
        self.redrawer: Any = None  # a tui.redraw.Redrawer once the plots are mounted, after the first frame
        lab.controller.estimator.source = source_digits(lab.data_dir)  # the sample's 9,167 digits, or MNIST's
        self.mounted = asyncio.Event()  # set once the panes of the first frame are mounted
        self.complete = asyncio.Event()  # set once every pane is mounted (the plots too)
        self.start_when_built = False  # `s` came before the form was built: start once it is
        self.digits_of: tuple[int, bool] | None = None  # the kept digits screen's data and whether a run is followed
        if lab.open_run is not None:
            self.set_reactive(DashboardScreen.page, RUN)

    # ---- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield Sidebar(self.lab.config, id="sidebar")
            with Vertical(id="right"):
                yield Vertical(id="curves-slot")  # the plots are mounted there once the first frame is out
                yield StatusPane(id="status")
                with Horizontal(id="bottom-row"):
                    yield LogPane(id="log")
                    yield SystemPane(id="system")
        yield TooSmall("", id="too-small")
        yield HelpPanel(id="help-overlay")
        yield KeyFooter()

    @property
    def sidebar(self) -> Sidebar:
        return self.query_one(Sidebar)

    @property
    def buttons(self) -> ButtonBar:
        return self.query_one(ButtonBar)

    @property
    def form(self) -> ConfigForm:
        return self.query_one("#config-form")  # type: ignore[return-value]

    @property
    def switch(self) -> BackendSwitch:
        return self.query_one(BackendSwitch)

    @property
    def log_pane(self) -> LogPane:
        return self.query_one(LogPane)

    @property
    def system_pane(self) -> SystemPane:
        return self.query_one(SystemPane)

    def on_mount(self) -> None:
        status = self.query_one(StatusPane)
        status.border_title = "progress"
        status.update_from(self.controller.history, self.state)
        self.update_backend_info()
        self.buttons.button("start-button").focus()
        # In a worker, not a handler: while the form is built the screen's own messages (keys) are handled.
        self.call_after_refresh(partial(self.run_worker, self.build_rest, name="build", group="build"))
        self.mounted.set()

    async def build_rest(self) -> None:
        """After the first frame: the form, then the plots (plotext), the redraw timer and the run to open.

        The first frame (header, backend, buttons, progress, log, system, footer) is out in about the time a
        bare Textual app takes; the form's 124 widgets follow in the next frame. Then the dashboard is
        `complete`."""
        from tui.redraw import REDRAW_HZ, Redrawer
        from tui.widgets.plots import CurvesPane

        await self.sidebar.mount_form()
        curves = CurvesPane(id="curves")
        await self.query_one("#curves-slot").mount(curves)
        self.redrawer = Redrawer(self.controller, self.following, status=self.query_one(StatusPane),
                                 system=self.system_pane, curves=curves, busy=self.priority.rebuilding, show=self.show)
        self.set_interval(1 / REDRAW_HZ, self.redraw)  # the size check waits for the first Resize event
        if self.lab.open_run is not None:
            self.open_run_dir(Path(self.lab.open_run))
        self.redraw()
        self.complete.set()
        if self.start_when_built:
            self.action_start()

    def on_resize(self, event: events.Resize) -> None:
        self.query_one(TooSmall).check(event.size)
        width, height = event.size
        self.compact = width < FULL_SIZE[0] or height < FULL_SIZE[1]

    def watch_compact(self, compact: bool) -> None:
        self.set_class(compact, "-compact")
        footer = self.query_one(Footer)
        footer.compact = compact
        footer.show_command_palette = not compact  # ctrl+p still opens it; the keys need the columns

    def watch_page(self, page: str) -> None:
        self.set_class(page == SETUP, "-page-setup")
        self.set_class(page == RUN, "-page-run")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`v` (setup or run page) exists only in the compact layout."""
        return self.compact if action == "switch_page" else True

    def action_switch_page(self) -> None:
        """The compact layout's other page: the form and buttons, or the curves, progress, log and system."""
        self.page = RUN if self.page == SETUP else SETUP

    def watch_state(self, state: str) -> None:
        """Every control that depends on the run state, in one place."""
        going = state in ACTIVE
        if state == STARTING:
            self.page = RUN  # what a run shows is on the run page
        self.sidebar.set_running(going)
        self.buttons.show_state(state)
        self.sub_title = {PAUSED: "paused", RUNNING: "training"}.get(state, "watch a network learn")
        if not going:
            self.priority.run_over()
        self.redraw(plots=False)  # a key press must not wait for a plot rebuild

    def redraw(self, plots: bool = True, force: bool = False) -> None:
        """Redraw the panes from the history (the timer's tick; `force`: the plots too, now).

        Under another screen (the inspector, digits, compare) the plots are not rebuilt for nobody: a rebuild there
        was a key press's wait on that screen. They catch up just after the dashboard shows again."""
        if self.redrawer is not None:  # none before the first frame is out (build_plots)
            self.redrawer.draw(self.state, plots and self.app.screen is self, force)

    def on_screen_resume(self) -> None:
        if self.redrawer is not None:
            self.call_after_refresh(self.redraw, True, True)  # after the first frame back: the key's frame stays cheap

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
        if self.sidebar.form is None:  # `s` in the first half second: start as soon as the form stands
            self.start_when_built = True
            return
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
        lab = self.lab
        job = partial(train, config, control, self.controller.pump.emit,
                      announce=lambda text: self.post_message(Announced(text)),
                      on_trainer=self.controller.set_trainer, data_dir=lab.data_dir, runs_dir=lab.runs_dir,
                      trainer_factory=lab.trainer_factory, on_data=self.controller.set_data)
        self.run_worker(partial(self._train_thread, job), thread=True, exit_on_error=False, group="training",
                        name="training")

    def _train_thread(self, job: Callable[[], tuple[str, str]]) -> None:
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
            self.app.push_screen(LearningRateScreen(current, target), apply)

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
        self.lab.run_ended()

    def on_announced(self, message: Announced) -> None:
        self.log_pane.add(message.text, message.level, "data")

    # ---- the sidebar -------------------------------------------------------------------------------

    def action_switch_backend(self) -> None:
        if self.controller.active:
            self.notify("The backend is fixed while a run goes.", severity="warning")
            return
        self.sidebar.toggle_backend()

    def on_config_form_changed(self, event: ConfigForm.Changed) -> None:  # by name: no import before the form
        self.controller.form_changed(event.config)
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

    def action_help(self) -> None:
        """Toggle the help overlay, centred on the current size."""
        self.query_one(HelpPanel).toggle(self.size)

    # ---- screens on top ----------------------------------------------------------------------------

    def action_inspector(self) -> None:
        """Open the inspector; it is composed once and kept (installed), so opening it again costs a repaint only."""
        try:
            if not self.app.is_screen_installed(INSPECTOR):
                from tui.inspector import InspectorScreen

                shown = lambda: self.following.shown_state(self.controller.state)  # noqa: E731 - the status line's word
                link = RunLink(self.controller, self.steering.pause, shown)
                self.app.install_screen(InspectorScreen(link), INSPECTOR)
            self.app.push_screen(INSPECTOR)
        except Exception as exc:  # a broken inspector must not take the dashboard down
            self.notify(f"inspector: {type(exc).__name__}: {exc}", severity="error")

    def action_digits(self) -> None:
        """The model shown, on real digits: its answers, its confusion matrix, and a digit you draw."""
        data = self.controller.data
        if data is None:
            self.notify("No digits yet: start a run (s) or open one (o); they appear once its data is loaded.",
                        severity="warning")
            return
        controller = self.controller
        followed = self.following.run is not None
        if self.digits_of != (id(data), followed):  # composed once per set of digits, kept between openings
            from tui.digits import DigitsScreen

            if self.app.is_screen_installed(DIGITS):
                self.app.uninstall_screen(DIGITS)
            reload = controller.load_viewed_probe if followed else None  # a followed run's newest checkpoint
            self.app.install_screen(DigitsScreen(controller.probe, data, lambda: controller.evaluations,
                                                 config=lambda: controller.config,
                                                 watched=lambda: controller.watched, reload=reload), DIGITS)
            self.digits_of = (id(data), followed)
        self.app.push_screen(DIGITS)

    def action_sweep(self) -> None:
        """A small sweep over the form's settings, in its own processes; then its screen (tui/sweep owns both)."""
        from tui.sweep.launch import launch_from

        launch_from(self, self.form.config, self.lab.runs_dir, self.lab.data_dir)

    def action_open_runs(self) -> None:
        """The runs table: every run in the runs folder (live ones marked); open one or compare several."""
        from tui.compare import RunsTableScreen

        # A comparison is pushed over the table (escape comes back to it); the inspector compares across its runs.
        self.app.push_screen(RunsTableScreen(self.lab.runs_dir, on_compare=self.controller.compared.set),
                             self.opener.chosen)

    def open_run_dir(self, path: Path) -> None:
        """Show a recorded run (followed live while another process writes it) and the run page."""
        if self.opener.open(path):
            self.page = RUN
