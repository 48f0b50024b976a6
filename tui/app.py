"""The app: owns the run lifecycle and the plain classes around it; its default screen is the dashboard.

The dashboard (tui.dashboard.DashboardScreen) holds the panes, the keys and the actions. The app owns what
outlives any screen, in a `Lab` the dashboard gets: RunController (the run lifecycle), Following (a run
another process writes), Steering (x, p, L to the own or followed run), UiPriority (keys first beside the
handmade engine); and StopThenExit (SIGHUP, SIGTERM). Tests and benchmarks read `app.controller`,
`app.history`, `app.state` and `app.dashboard`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from textual import events
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from core.config import TrainConfig
from tui.controller import Note, RunController
from tui.dashboard import DashboardScreen, Lab
from tui.follow import Following, Polled
from tui.history import History
from tui.messages import EventsReady
from tui.priority import GC_CHECK_S, UiPriority
from tui.runner import UiControl
from tui.signals import StopThenExit
from tui.steering import Steering
from tui.widgets.backend_switch import BackendSwitch
from tui.widgets.log import LogPane
from tui.widgets.system import SystemPane

if TYPE_CHECKING:
    from tui.widgets.config_form import ConfigForm


if TYPE_CHECKING:
    from tui.compare.table import RunsTableScreen  # the runs table is loaded when first opened


class MnistDashApp(App[None]):
    """Train MNIST with the handmade engine or Lightning and watch it learn."""

    CSS_PATH = ["app.tcss", "dashboard/dashboard.tcss"]  # Textual loads no CSS_PATH of a default screen
    TITLE = "mnist-dash"
    SUB_TITLE = "watch a network learn"
    BINDINGS = [Binding("q", "quit", "quit")]

    def __init__(self, config: TrainConfig | None = None, *, data_dir: str | Path | None = None,
                 runs_dir: str | Path = "runs", watch: Iterable[str] = (), open_run: str | Path | None = None,
                 trainer_factory: Any = None) -> None:
        super().__init__()
        self.data_dir, self.runs_dir = data_dir, Path(runs_dir)
        self.controller = RunController(watch, on_state=self._state_changed, wake=self._wake)
        self.controller.config = config or TrainConfig()
        self.following = Following(self.controller)  # a run another process writes, followed live
        self.steering = Steering(self.controller, self.following, show=self.show, warn=self.warn)  # x, p, L
        self.frames_drawn = 0  # frames handed to the terminal (the key-priority hold waits for the key's frame)
        self.priority = UiPriority(self.controller, self.call_after_refresh,  # keys first beside the engine
                                   lambda: self.frames_drawn, self.set_timer)
        self.signals = StopThenExit(self.controller, self.steering, exit=self.exit,  # SIGHUP, SIGTERM
                                    log=lambda text: self.dashboard.log_pane.add(text, "warning", "app"))
        self.dashboard = DashboardScreen(Lab(
            self.controller, self.following, self.steering, self.priority, self.controller.config, self.runs_dir,
            data_dir=data_dir, trainer_factory=trainer_factory, open_run=open_run, run_ended=self.signals.run_ended))

    def _display(self, screen: Screen, renderable: Any) -> None:
        """Count frames. Textual's one door from a screen's compositor to the terminal is this private method
        (a test holds it to that); were it renamed, the count would stay 0 and a key's hold on the trainer would
        merely end after FRAME_WAIT_MAX_S (tui/priority.py)."""
        if renderable is not None:
            self.frames_drawn += 1
        super()._display(screen, renderable)

    def get_default_screen(self) -> Screen:
        return self.dashboard

    def _state_changed(self, state: str) -> None:
        self.dashboard.state = state

    def _wake(self) -> None:
        """The training thread buffered events in the EventPump (post_message is thread-safe)."""
        self.dashboard.post_message(EventsReady())

    # ---- what tests, benchmarks and the digits canvas read -------------------------------------------

    @property
    def state(self) -> str:
        """The run state (see tui.controller) the dashboard shows."""
        return self.controller.state

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

    def hold_training(self) -> Callable[[], None]:
        """Let UI work done in a worker (the digits canvas asking the probe) have the GIL; call the result after."""
        return self.priority.hold()

    def show(self, notes: Iterable[Note]) -> None:
        """Log what the controller said on the dashboard; notify what carries a title."""
        self.dashboard.show(notes)

    def redraw(self, plots: bool = True, force: bool = False) -> None:
        """Redraw the dashboard's panes from the history."""
        self.dashboard.redraw(plots, force)

    def warn(self, text: str) -> None:
        self.notify(text, severity="warning")

    @property
    def log_pane(self) -> LogPane:
        return self.dashboard.log_pane

    @property
    def system_pane(self) -> SystemPane:
        return self.dashboard.system_pane

    @property
    def form(self) -> ConfigForm:
        return self.dashboard.form

    @property
    def switch(self) -> BackendSwitch:
        return self.dashboard.switch

    # ---- lifecycle -------------------------------------------------------------------------------------

    async def on_mount(self) -> None:
        self.signals.install()
        self.set_interval(GC_CHECK_S, self.priority.collect_garbage)  # full GC collections between keys, in runs
        # Textual paints nothing until the app is ready, and it is ready once this returns: wait for the
        # dashboard's panes (the default screen composes in its own task), not for its plots, which it mounts
        # after its first frame. Headless (tests, snapshots) there is no frame to hurry: wait for every pane.
        await (self.dashboard.complete if self.is_headless else self.dashboard.mounted).wait()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.priority.busy()  # first, before bindings and widgets run: key latency is the UI's budget
        await super().on_event(event)

    async def action_quit(self) -> None:
        self.following.end()
        self.controller.quit()
        self.exit()

    def on_runs_table_screen_sweep_wanted(self, message: RunsTableScreen.SweepWanted) -> None:
        from tui.sweep.opening import push_sweep

        push_sweep(self, message.runs_dir, message.run_dir)

    def on_polled(self, message: Polled) -> None:
        self.signals.followed(message)  # bubbled up from the dashboard: a followed run's end is announced too

    def on_unmount(self) -> None:
        self.following.end()
        if not self.signals.keeps_run():  # a hung-up terminal is not a stop: the run goes on (tui/signals.py)
            self.controller.quit()
        self.priority.restore_switch_interval()
        self.signals.restore()


def make_app(config: TrainConfig | None = None, *, data_dir: str | Path | None = None, runs_dir: str | Path = "runs",
             watch: Iterable[str] = (), open_run: str | Path | None = None,
             trainer_factory: Any = None) -> MnistDashApp:
    """The dashboard, ready to .run() (the CLI) or .run_test() (tests, screenshots)."""
    return MnistDashApp(config, data_dir=data_dir, runs_dir=runs_dir, watch=tuple(watch), open_run=open_run,
                        trainer_factory=trainer_factory)
