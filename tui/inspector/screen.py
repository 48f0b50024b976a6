"""The gradient inspector: watch scalars learn, per-layer gradient health, heatmaps, the graph, grad checks.

Pushed by the dashboard on `i` with a RunLink (tui/dashboard/lab.py: the run controller and the pause key, not
the app). Reads the controller (history, the config in force, watched addresses), looks inside the model only
through its probe (tui/inspector/live.py), and changes the watch list with `link.set_watched(...)`, which also
updates the running RunControl, so the list survives new runs. `e` explains the selected scalar's gradient.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane, Tree
from textual.worker import Worker, WorkerState

from core.address import AddressError, validate
from tui.footer_fit import KeyFooter, fit_footer
from tui.inspector.check import GradCheckPane
from tui.inspector.compare import ComparedColumns
from tui.inspector.graph import GraphPane, NetworkTree
from tui.inspector.layers import HeatmapPane, LayerStatsPane
from tui.inspector.live import LiveReader
from tui.inspector.watch import AddressSuggester, WatchPane, fits, neuron_of
from tui.kept_screen import KeptScreen

MAX_WATCHED = 48  # "a few dozen": the history keeps 64 tracks; each costs the handmade engine a little
REFRESH_S = 0.5


def title_text(backend: str, shape: str, run_id: str | None, step: int | None, status: str, width: int) -> str:
    """The header: "Gradient inspector · backend · shape · run ID · step N · status"; where that is wider than
    `width` (a 100-column terminal and a deep network), the screen's name goes first, then the run id keeps its
    last part (its backend and hash: the date is in the runs table), so that the step and status stay whole."""
    run = f"run {run_id} · step {step:,}" if run_id is not None and step is not None else (
        f"run {run_id}" if run_id is not None else "no run yet")
    facts = f"{backend} · {shape} · {run} · {status}"
    if len(f"Gradient inspector · {facts}") <= width:
        return f"Gradient inspector · {facts}"
    if len(facts) <= width or run_id is None:
        return facts
    short = "…" + run_id.split("-", 2)[-1] if run_id.count("-") >= 2 else run_id
    return facts.replace(f"run {run_id}", f"run {short}", 1)


class InspectorScreen(KeptScreen):
    """Pick scalars by address or by browsing; watch data and grad; layer stats; heatmap; graph; grad check."""

    BINDINGS = [
        Binding("escape", "close", "dashboard"),
        Binding("i", "close", "back to dashboard", show=False),  # the key that opened it closes it
        Binding("a", "focus_address", "address"),
        Binding("t", "focus_tree", "browse"),
        Binding("w", "focus_watches", "watches"),
        Binding("d,delete", "unwatch", "unwatch"),
        # the grad check pane's title names g and the tabs' titles name l and n: the footer keeps its room
        Binding("g", "grad_check", "grad check", show=False),
        Binding("n", "graph", "graph", show=False),
        Binding("l", "layers", "layers", show=False),
        Binding("p", "pause", "pause"),
        Binding("e", "explain", "explain"),
        Binding("c", "toggle_compare", "compared runs"),  # in the footer only when runs were compared
    ]
    DEFAULT_CSS = """
    InspectorScreen #inspector-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    InspectorScreen #inspector-body { height: 1fr; }
    InspectorScreen #inspector-left { width: 28; border-right: tall $panel; }
    InspectorScreen #network-tree { height: 1fr; }
    InspectorScreen #inspector-middle { width: 1fr; min-width: 40; }
    InspectorScreen #gradcheck { height: auto; max-height: 9; padding: 0 1; border-top: solid $panel; }
    InspectorScreen #inspector-tabs { width: 62; border-left: tall $panel; }
    InspectorScreen.-narrow #inspector-left { width: 20; }
    InspectorScreen.-narrow #inspector-middle { min-width: 34; }
    InspectorScreen.-narrow #inspector-tabs { width: 35; }
    InspectorScreen.-narrow #layers-tab { overflow-y: auto; }
    InspectorScreen.-narrow #heatmaps { layout: vertical; }
    """
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]  # below 140 columns the panes share the width

    neuron: reactive[tuple[int, int] | None] = reactive(None, init=False)  # whose heatmap is shown

    def __init__(self, link: Any) -> None:
        """`link`: a RunLink (controller, history, watched, set_watched, action_pause), never the app."""
        super().__init__()
        self.link = link
        self.live = LiveReader(link.controller)
        self._drawn: tuple = ()
        self._title: tuple | None = None  # title_text's facts, drawn again at a new width
        self._sizes: tuple[int, ...] = ()
        self.suspended = False  # back on the dashboard, kept for the next opening (see on_screen_suspend)
        self.compared = ComparedColumns(link.controller.compared, lambda text: self.notify(
            text, title="Compare watched scalars", severity="warning"))

    def shown_state(self) -> str:
        """The dashboard's word for the run shown: a followed live run is live (its status), not viewing."""
        shown = getattr(self.link, "shown_state", None)
        return shown() if callable(shown) else self.live.state()

    def watch_neuron(self) -> None:
        self.refresh_view(force=True)

    # ---- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        suggester = AddressSuggester(lambda: self.live.layer_sizes(), lambda: self.live.graph_nodes())
        yield Static("", id="inspector-title")
        with Horizontal(id="inspector-body"):
            with Vertical(id="inspector-left"):
                yield NetworkTree("network", id="network-tree")
            with Vertical(id="inspector-middle"):
                yield WatchPane(suggester, id="watch-pane")
                yield GradCheckPane(self.live, id="gradcheck")
            with TabbedContent(id="inspector-tabs"):
                with TabPane("layers (l)", id="layers-tab"):
                    yield LayerStatsPane(id="layer-stats")
                    yield HeatmapPane(id="heatmap")
                with TabPane("graph (n)", id="graph-tab"):
                    yield GraphPane(id="graph")
        yield KeyFooter()

    def on_resize(self, event: events.Resize) -> None:
        fit_footer(self, event.size.width)
        self.draw_title(event.size.width)

    def draw_title(self, width: int | None = None) -> None:
        """The one-line header at the screen's width: what is shown and of which run (title_text)."""
        if self._title is not None:
            width = (width if width is not None else self.size.width) - 2  # its padding
            self.query_one("#inspector-title", Static).update(Text(title_text(*self._title, width)))

    def on_mount(self) -> None:
        self.watch_pane = self.query_one(WatchPane)
        self.network_tree = self.query_one(NetworkTree)
        self.graph_pane = self.query_one(GraphPane)
        self.prune_watches()
        if self.link.watched:
            self.set_reactive(InspectorScreen.neuron, neuron_of(self.link.watched[0]) or self.neuron)
        self.load_compared()
        self.refresh_view(force=True)
        self.refresher = self.set_interval(REFRESH_S, self.refresh_view)
        self.focus_start()

    def focus_start(self) -> None:
        """Letters are the screen's keys (one escape or i goes back); typing an address starts with `a`."""
        (self.watch_pane.table if self.link.watched else self.network_tree).focus()

    def on_screen_suspend(self) -> None:
        """Back on the dashboard: the dashboard keeps this screen for next time, drawing nothing meanwhile."""
        self.refresher.pause()
        self.suspended = True

    def on_screen_resume(self) -> None:
        """Opened again (kept by the dashboard, not composed anew): catch up with the run, then follow it again."""
        if not self.suspended:  # the first opening: on_mount has just drawn everything
            return
        self.suspended = False
        self.prune_watches()
        self.refresh_view(force=True)
        self.refresher.resume()
        self.focus_start()

    # ---- redraw ----------------------------------------------------------------------------------

    def refresh_view(self, force: bool = False) -> None:
        """Redraw from the history and the live model, when anything changed."""
        sizes = self.live.layer_sizes()
        if sizes != self._sizes:
            if self._sizes:
                self.prune_watches()
            self._sizes = sizes
        run = self.live.run()
        probe = self.live.probe()
        compared = self.link.controller.compared
        key = (self.link.history.version, tuple(self.link.watched), self.neuron, sizes, self.shown_state(),
               id(probe), probe.step() if probe is not None else None, self.watch_pane.selected,
               compared.version, self.compared.shown)
        if key == self._drawn and not force:
            return
        self._drawn = key
        graph_nodes = self.live.graph_nodes()
        self.network_tree.set_shape(sizes, graph_nodes)
        step = None
        if run is not None:  # StepEnded is rate-limited; watch reports may be more recent
            step = max([run.step, *(t.latest.step for t in run.watches.values())])
        shape = "-".join(map(str, sizes))
        status = run.status if run is not None and run.done else self.shown_state()
        self._title = (self.live.backend(), shape, run.run_id if run is not None else None, step, status)
        self.draw_title()
        own = [p for p in (self.link.controller.run_dir, run.started.run_dir if run and run.started else None) if p]
        columns = self.compared.columns(sizes, [Path(p) for p in own])
        self.watch_pane.refresh_rows(self.link.watched, run, engine_only=not graph_nodes, extra=columns)
        detail = (self.live.phrases(self.watch_pane.selected), self.compared.phrases(columns, self.watch_pane.selected))
        self.watch_pane.refresh_detail(run, [row for row in detail if row])
        if self.query_one(TabbedContent).active == "graph-tab":  # draw only the visible tab
            self.graph_pane.redraw()
        else:
            self.query_one(LayerStatsPane).show(run.layer_stats if run else {}, sizes, step)
            self.show_heatmap()

    # ---- the compared runs (the runs table's last comparison) -------------------------------------------

    def load_compared(self) -> None:
        """Load the compared runs' checkpoints not loaded yet, off the UI thread."""
        if self.link.controller.compared.pending():
            self.run_worker(self.link.controller.compared.load_pending, thread=True, exit_on_error=False,
                            group="compared", name="load compared runs")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "compared" and event.state == WorkerState.SUCCESS:
            self.refresh_view(force=True)

    def action_toggle_compare(self) -> None:
        self.compared.shown = not self.compared.shown
        self.notify("compared runs shown" if self.compared.shown else "compared runs hidden", timeout=2)
        self.refresh_view(force=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_compare":  # hidden (not dimmed) without a comparison: the footer stays as it was
            return bool(self.link.controller.compared.runs)
        return True

    def show_heatmap(self) -> None:
        heatmap = self.query_one(HeatmapPane)
        if self.neuron is None:
            heatmap.show("Pick a neuron in the tree (or watch one of its scalars) to see its incoming weights.",
                         None, None, None)
            return
        layer, neuron = self.neuron
        weights, grads = self.live.incoming(layer, neuron)
        side = self.live.input_side() if layer == 0 else None
        what = "pixels" if layer == 0 else f"units of L{layer - 1}"
        if weights is None:
            heatmap.show(f"L{layer}.N{neuron}: weights appear once a run has built the network", None, None, None)
        else:
            heatmap.show(f"L{layer}.N{neuron}: weights from {len(weights)} {what}", weights, grads, side)

    # ---- the watch list --------------------------------------------------------------------------

    def add_watch(self, text: str) -> bool:
        """Validate and watch an address; show why not otherwise. True when it was added (or was already)."""
        try:
            addr = validate(text, self.live.layer_sizes(), graph_nodes=self.live.graph_nodes())
        except AddressError as exc:
            self.watch_pane.show_error(str(exc))
            return False
        address = str(addr)
        watched = list(self.link.watched)
        if address not in watched:
            if len(watched) >= MAX_WATCHED:
                self.watch_pane.show_error(f"{address}: at most {MAX_WATCHED} scalars at once; unwatch one (d)")
                return False
            self.link.set_watched([*watched, address])
        self.watch_pane.show_error("")
        self.neuron = neuron_of(address) or self.neuron
        self.refresh_view(force=True)
        self.watch_pane.table.move_cursor(row=self.watch_pane.addresses.index(address))
        return True

    def prune_watches(self) -> None:
        """Drop watched addresses the current network does not have (the shape changed)."""
        sizes = self.live.layer_sizes()
        keep = [a for a in self.link.watched if fits(a, sizes)]
        if len(keep) != len(self.link.watched):
            gone = [a for a in self.link.watched if a not in keep]
            self.link.set_watched(keep)
            self.notify(f"not in this network, unwatched: {', '.join(gone)}", severity="warning")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "address-input" and self.add_watch(event.value):
            # cleared, and the focus stays: the next address can be typed at once without firing a key
            # (escape leaves the field; then g, n, d, e act on the scalar just added, which is selected)
            event.input.value = ""

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "address-input" and not event.value:
            self.watch_pane.show_error("")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        address = event.row_key.value if event.row_key is not None else None
        if address:
            self.neuron = neuron_of(address) or self.neuron
        self.refresh_view(force=True)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_graph()  # enter on a watched scalar: its place in the graph

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[dict]) -> None:
        data = event.node.data or {}
        if "neuron" in data:
            self.neuron = (data["layer"], data["neuron"])  # reactive: redraws only when it changed

    def on_tree_node_selected(self, event: Tree.NodeSelected[dict]) -> None:
        data = event.node.data or {}
        if data.get("kind") == "scalar":
            self.add_watch(data["address"])

    # ---- actions ---------------------------------------------------------------------------------

    def action_close(self) -> None:
        if isinstance(self.focused, Input):  # escape leaves the address field first
            self.watch_pane.table.focus()
            return
        self.dismiss(None)

    def action_focus_address(self) -> None:
        self.query_one("#address-input", Input).focus()

    def action_focus_tree(self) -> None:
        self.network_tree.focus()

    def action_focus_watches(self) -> None:
        self.watch_pane.table.focus()

    def action_unwatch(self) -> None:
        address = self.watch_pane.selected
        if address is not None:
            self.link.set_watched([a for a in self.link.watched if a != address])
            self.refresh_view(force=True)

    def action_pause(self) -> None:
        self.link.action_pause()
        self.refresh_view(force=True)

    def action_layers(self) -> None:
        self.query_one(TabbedContent).active = "layers-tab"
        self.refresh_view(force=True)

    def on_tabbed_content_tab_activated(self, _event: TabbedContent.TabActivated) -> None:
        self.refresh_view(force=True)  # a tab clicked or switched: draw what it now shows

    def action_graph(self) -> None:
        """Open the graph of the last sample at the selected scalar (handmade engine only)."""
        self.query_one(TabbedContent).active = "graph-tab"
        if not self.live.graph_nodes():
            self.graph_pane.show_message("The graph view needs a handmade-engine run: Lightning keeps no scalar "
                                         "graph.")
            return
        probe = self.live.probe()
        view = probe.graph() if probe is not None else None
        if view is None:
            self.graph_pane.show_message("No sample has gone through the network yet: start a run (s).")
            return
        selected = self.watch_pane.selected
        self.graph_pane.set_graph(view, view.find(selected) if selected else None)
        self.graph_pane.query_one("#graph-list").focus()

    def action_explain(self) -> None:
        """Explain the selected scalar's gradient on a digit of the run's validation split (the explain screen)."""
        from tui.explain.screen import screen_for

        address = self.watch_pane.selected
        node = self.network_tree.cursor_node
        if self.focused is self.network_tree and node is not None and (node.data or {}).get("kind") == "scalar":
            address = node.data["address"]
        screen = screen_for(self.link.controller, address)
        if isinstance(screen, str):
            self.notify(screen, severity="warning")
        else:
            self.app.push_screen(screen)

    def action_grad_check(self) -> None:
        self.query_one(GradCheckPane).request(self.watch_pane.selected)
