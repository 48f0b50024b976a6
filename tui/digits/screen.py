"""The digits screen: prediction grid, confusion matrix and draw-a-digit, all through the backend's probe.

The probe is asked on timers (never once per event), in thread workers, so the UI never waits for a model.
`enter` on a digit of the grid or on the canvas explains a gradient on it (tui/explain/).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Static, TabbedContent, TabPane

from core.events import Evaluation
from tui.digits.confusion import ConfusionMatrix
from tui.digits.draw import DrawPane
from tui.digits.grid import PredictionGrid
from tui.digits.selection import Filter, LivePredictions, cell_indices
from tui.footer_fit import KeyFooter
from tui.kept_screen import KeptScreen

GRID_HZ = 4  # grid answers per second while a model trains
RELOAD_S = 2.0  # a followed run without a model: look for its checkpoint this often
DRAW_HZ = 10  # canvas answers per second at most
SWEEP = 16  # off-page digits predicted per grid tick, so "mistakes" and sorting cover the whole split


def resize(images: np.ndarray, side: int, to_side: int) -> np.ndarray | None:
    """Flat side*side images pooled to to_side (None when the sizes do not divide)."""
    if side == to_side:
        return images
    if side % to_side:
        return None
    f = side // to_side
    n = len(images)
    return images.reshape(n, to_side, f, to_side, f).mean(axis=(2, 4)).reshape(n, to_side * to_side)


class DigitsScreen(KeptScreen):
    """What the network answers for real digits, where it errs, and a digit you draw yourself."""

    BINDINGS = [
        Binding("escape,d", "close", "back"),
        # the tabs' titles name g, m and w; the footer keeps its room for the keys it alone shows
        Binding("g", "tab('tab-grid')", "grid", show=False),
        Binding("m", "tab('tab-confusion')", "matrix", show=False),
        Binding("w", "tab('tab-draw')", "draw", show=False),
        Binding("enter", "explain", "explain", key_display="enter"),
    ]
    DEFAULT_CSS = """
    DigitsScreen #digits-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    DigitsScreen TabbedContent { height: 1fr; }
    DigitsScreen TabPane { padding: 0; }
    DigitsScreen #confusion-row { height: 1fr; }
    DigitsScreen #cell-grid { border-left: tall $panel; }
    """

    def __init__(self, probe_source: Callable[[], Any] | Any, data: Any,
                 evaluations: Callable[[], Sequence[Evaluation]] | None = None, *,
                 config: Callable[[], Any] | None = None, watched: Callable[[], Sequence[str]] | None = None,
                 reload: Callable[[], str] | None = None) -> None:
        """`config`: the config in force (for explain); `watched`: the inspector's addresses (explain's default);
        `reload`: for a followed run, load its newest checkpoint (slow; '' or why not)."""
        super().__init__()
        self.probe_source = probe_source if callable(probe_source) else (lambda: probe_source)
        self.data = data
        self.evaluations = evaluations or (lambda: ())
        self.config_source, self.watched, self.reload = config, watched or (lambda: ()), reload
        self.reload_note = ""
        self._reloading = False
        self.live = {"val": LivePredictions(len(data.val.labels)), "test": LivePredictions(len(data.test.labels))}
        self.busy = False
        self._seen_evaluations = -1
        self.timers: list = []
        self.suspended = False  # back on the dashboard, kept for the next opening (see on_screen_suspend)

    def compose(self) -> ComposeResult:
        val = self.data.val
        yield Static("Digits: the model's answers on real digits, its confusions, and yours", id="digits-title")
        with TabbedContent(initial="tab-grid"):
            with TabPane("Predictions (g)", id="tab-grid"):
                yield PredictionGrid(val.images, val.labels, self.data.side, live=self.live["val"], id="grid")
            with TabPane("Confusion (m)", id="tab-confusion"), Horizontal(id="confusion-row"):
                yield ConfusionMatrix(id="matrix")
                yield PredictionGrid(val.images, val.labels, self.data.side, live=self.live["val"], id="cell-grid")
            with TabPane("Draw (w)", id="tab-draw"):
                yield DrawPane(self.probe, self.data.side, id="draw")
        yield KeyFooter()

    @property
    def grid(self) -> PredictionGrid:
        return self.query_one("#grid", PredictionGrid)

    @property
    def cell_grid(self) -> PredictionGrid:
        return self.query_one("#cell-grid", PredictionGrid)

    @property
    def matrix(self) -> ConfusionMatrix:
        return self.query_one(ConfusionMatrix)

    @property
    def draw(self) -> DrawPane:
        return self.query_one(DrawPane)

    def probe(self) -> Any:
        """The live model's probe, or None before a model exists."""
        try:
            return self.probe_source()
        except Exception:  # a trainer between runs may not answer; try again on the next tick
            return None

    def on_mount(self) -> None:
        self.cell_grid.set_filter(Filter("cell", cell=(0, 0)))
        self.poll_evaluations()
        self.grid.focus()
        self.timers = [self.set_interval(1 / GRID_HZ, self.tick_grid), self.set_interval(1 / DRAW_HZ, self.tick_draw)]
        if self.reload is not None:
            self.timers.append(self.set_interval(RELOAD_S, self.look_for_model))

    def on_screen_suspend(self) -> None:
        """Back on the dashboard, which keeps this screen for the same digits: nothing ticks meanwhile."""
        for timer in self.timers:
            timer.pause()
        self.suspended = True

    def on_screen_resume(self) -> None:
        """Opened again (kept, not composed anew): the timers go on, and the answers catch up after the first frame."""
        if not self.suspended:  # the first opening: on_mount has just started everything
            return
        self.suspended = False
        for timer in self.timers:
            timer.resume()
        self.poll_evaluations()
        self.call_after_refresh(self.tick_grid)

    # ---- navigation -------------------------------------------------------------------------------------
    def action_close(self) -> None:
        self.dismiss()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        target = {"tab-grid": self.grid, "tab-confusion": self.matrix, "tab-draw": self.draw.canvas}[tab]
        target.focus()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "tab-draw":
            self.draw.canvas.focus()

    # ---- evaluations --------------------------------------------------------------------------------------
    def poll_evaluations(self) -> None:
        """Pick up new Evaluation events (cheap: a length check)."""
        evaluations = [e for e in self.evaluations() if isinstance(e, Evaluation)]
        if len(evaluations) == self._seen_evaluations:
            return
        if self._seen_evaluations >= 0 and self.reload is not None:
            self.look_for_model(newer=True)  # an epoch ended: a followed run saved a newer checkpoint
        self._seen_evaluations = len(evaluations)
        self.matrix.set_evaluations(evaluations)
        val = [e for e in evaluations if e.split == "val"]
        if val:
            self.grid.mistakes = tuple(int(m[0]) for m in val[-1].mistakes)
            if self.grid.filter.kind == "mistakes":
                self.grid.refilter(keep_page=True)

    @on(ConfusionMatrix.CellChosen)
    def _cell_chosen(self, event: ConfusionMatrix.CellChosen) -> None:
        split = self.data.test if event.evaluation.split == "test" else self.data.val
        grid = self.cell_grid
        grid.images, grid.labels, grid.split = split.images, split.labels, event.evaluation.split
        grid.live = self.live["test" if event.evaluation.split == "test" else "val"]
        found, complete = cell_indices(event.evaluation.confusion, event.evaluation.mistakes, split.labels,
                                       event.true, event.predicted)
        grid.note = "" if complete else "the record keeps only the 200 most confident mistakes"
        grid.set_filter(Filter("cell", cell=(event.true, event.predicted), recorded=found))
        if event.open_grid:
            grid.focus()

    @on(PredictionGrid.Picked)
    def _picked(self, event: PredictionGrid.Picked) -> None:
        self.draw.canvas.load(event.image, event.side)
        self.action_tab("tab-draw")

    # ---- the model, on timers -------------------------------------------------------------------------------
    def tick_draw(self) -> None:
        if self.query_one(TabbedContent).active == "tab-draw":
            self.draw.tick()

    def tick_grid(self) -> None:
        self.poll_evaluations()
        active = self.query_one(TabbedContent).active
        if self.busy or active == "tab-draw":
            return
        grid = self.grid if active == "tab-grid" else self.cell_grid
        probe = self.probe()
        if probe is None:
            grid.note = self.reload_note or "no model yet: labels only"
            grid.refresh()
            return
        side = int(getattr(probe, "input_side", self.data.side))
        step = probe.step()
        batch = grid.live.next_batch(grid.visible(), step, SWEEP if grid is self.grid else 0)
        if not batch:
            return
        images = resize(grid.images[batch], self.data.side, side)
        if images is None:
            grid.note = f"the model takes {side}×{side} inputs, these digits are {self.data.side}×{self.data.side}"
            grid.refresh()
            return
        self.busy = True
        rows = images.tolist()
        self.run_worker(lambda: self._predict(probe, grid, batch, rows, step), thread=True, group="grid",
                        exit_on_error=False)

    def _predict(self, probe: Any, grid: PredictionGrid, batch: list[int], rows: list, step: int) -> None:
        try:
            probs = probe.predict(rows)
        except Exception as exc:  # keep the screen alive; say what went wrong
            self.app.call_from_thread(self._predict_failed, grid, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._predicted, grid, batch, probs, step)

    def _predicted(self, grid: PredictionGrid, batch: list[int], probs: list, step: int) -> None:
        self.busy = False
        grid.live.update(batch, probs, step)
        grid.note = ""
        grid.predictions_arrived(step)

    def _predict_failed(self, grid: PredictionGrid, message: str) -> None:
        self.busy = False
        grid.note = f"the model could not answer: {message}"
        grid.refresh()


    # ---- a followed run's model: its newest checkpoint ------------------------------------------------------
    def look_for_model(self, newer: bool = False) -> None:
        """Load the followed run's checkpoint off the UI thread: while it has none, or when a newer one is due."""
        if self.reload is None or self._reloading or (self.probe() is not None and not newer):
            return
        self._reloading = True
        self.run_worker(self._reload, thread=True, group="reload", exit_on_error=False)

    def _reload(self) -> None:
        assert self.reload is not None
        why = self.reload()
        self.app.call_from_thread(self._reloaded, why)

    def _reloaded(self, why: str) -> None:
        self._reloading = False
        if why:  # e.g. no checkpoint yet: a run saves its first at the end of epoch 1
            self.reload_note = f"no model to read yet ({why.rsplit(': ', 1)[-1]}): labels only"
        else:
            self.reload_note = ""

    # ---- explain a gradient on a digit ------------------------------------------------------------------------
    def action_explain(self) -> None:
        """Explain a gradient on the selected grid digit, or on the digit drawn (tui/explain/)."""
        from tui.explain import Digits, ExplainScreen, ModelSource
        from tui.explain.source import default_address

        config = self.config_source() if self.config_source is not None else None
        if config is None:
            self.notify("Explain needs the run's configuration: open the digits from the dashboard (d).",
                        severity="warning")
            return
        active = self.query_one(TabbedContent).active
        if active == "tab-draw":
            digits = Digits(self.draw.canvas.pixels.reshape(1, -1), None, self.draw.canvas.surface.side, "canvas")
        else:
            grid = self.grid if active == "tab-grid" else self.cell_grid
            index = grid.selected_index()
            if index is None:
                self.notify("No digit selected.", severity="warning")
                return
            digits = Digits(grid.images, grid.labels, self.data.side, grid.split, index)
        address = default_address(tuple(config.layer_sizes), self.watched(), digits.label)
        self.app.push_screen(ExplainScreen(ModelSource(self.probe, lambda: config), address, digits))
