"""The inspector's watch list: an address input with completion, a table of watched scalars, sparklines."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.suggester import Suggester
from textual.widgets import DataTable, Input, Label, Sparkline, Static

from core.address import AddressError, parse, suggest
from tui.history import RunHistory
from tui.render import fmt, spark_text, sparkline_data

COLUMNS = ("address", "data", "grad", "last update", "data ∿", "grad ∿")
SPARK = 10  # characters per table sparkline; the highlighted scalar gets full-width Sparkline widgets


def neuron_of(address: str) -> tuple[int, int] | None:
    """(layer, neuron) an address belongs to; None for the loss or text that is not an address."""
    try:
        addr = parse(address)
    except AddressError:
        return None
    return None if addr.layer is None or addr.neuron is None else (addr.layer, addr.neuron)


def fits(address: str, layer_sizes: tuple[int, ...]) -> bool:
    """Whether a network of this shape has the address (graph nodes allowed: the list outlives backends)."""
    try:
        return parse(address).problem(layer_sizes, graph_nodes=True) is None
    except AddressError:
        return False


@dataclass(frozen=True)
class ExtraColumn:
    """A column after "data" (another run's value of each address): its key, heading, and cell per address."""

    key: str
    label: str
    cell: Callable[[str], Text | str]


class AddressSuggester(Suggester):
    """Completes addresses for the current network shape (case-sensitive: L and N are capitals)."""

    def __init__(self, sizes: Callable[[], Sequence[int]], graph_nodes: Callable[[], bool]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.sizes, self.graph_nodes = sizes, graph_nodes

    async def get_suggestion(self, value: str) -> str | None:
        return suggest(value, self.sizes(), graph_nodes=self.graph_nodes()) if value else None


def is_graph_node(address: str) -> bool:
    """A z, a or loss address (a node of the handmade engine's graph, not a parameter)."""
    try:
        return parse(address).is_graph_node
    except AddressError:
        return False


def watch_row(address: str, run: RunHistory | None, engine_only: bool = False) -> tuple:
    """The cells of one table row from the run's ScalarWatch track (dashes before the first report)."""
    track = run.watches.get(address) if run is not None else None
    if track is None:
        why = "engine only" if engine_only and is_graph_node(address) else "waiting"
        return (address, "-", "-", "-", Text(why, style="dim"), "")
    update = track.update
    upd = "-" if update is None else fmt(update)
    grad = track.latest.grad
    style = "bold red" if not math.isfinite(grad) else ""
    return (address, fmt(track.latest.data), Text(fmt(grad), style=style), upd,
            Text(spark_text(track.data.ys, SPARK), style="cyan"),
            Text(spark_text(track.grad.ys, SPARK), style="magenta"))


class WatchPane(Vertical):
    """Address input, the watched scalars as a table, and big sparklines of the highlighted one."""

    DEFAULT_CSS = """
    WatchPane { height: 1fr; }
    WatchPane #address-input { width: 1fr; }
    WatchPane #address-error { height: auto; color: $error; padding: 0 1; }
    WatchPane #watch-table { height: 1fr; min-height: 5; }
    WatchPane #watch-detail { height: auto; padding: 0 1; }
    WatchPane .spark-row { height: 2; }
    WatchPane .spark-row Label { width: 6; }
    WatchPane Sparkline { width: 1fr; height: 2; }
    """

    def __init__(self, suggester: Suggester, **kwargs) -> None:
        super().__init__(**kwargs)
        self.suggester = suggester
        self.addresses: list[str] = []
        self.extra: tuple[ExtraColumn, ...] = ()

    def compose(self) -> ComposeResult:
        yield Input(placeholder="address, e.g. L0.N12.w345, L1.N3.b, L0.N12.z, loss (enter adds)",
                    suggester=self.suggester, id="address-input")
        yield Static("", id="address-error")
        yield DataTable(id="watch-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="watch-detail")
        with Horizontal(classes="spark-row"):
            yield Label("data")
            yield Sparkline([], id="data-spark")
        with Horizontal(classes="spark-row"):
            yield Label("grad")
            yield Sparkline([], id="grad-spark")

    def on_mount(self) -> None:
        self.set_columns(())

    def set_columns(self, extra: Sequence[ExtraColumn]) -> None:
        """The table's columns: COLUMNS with `extra` after "data" (rows are added again by refresh_rows)."""
        table = self.table
        table.clear(columns=True)
        self.extra, self.addresses = tuple(extra), []
        for name in COLUMNS[:2]:
            table.add_column(name, key=name)
        for column in self.extra:
            table.add_column(column.label, key=column.key)
        for name in COLUMNS[2:]:
            table.add_column(name, key=name)

    def row(self, address: str, run: RunHistory | None, engine_only: bool = False) -> dict[str, object]:
        """Column key -> cell of one row."""
        cells: dict[str, object] = dict(zip(COLUMNS, watch_row(address, run, engine_only), strict=True))
        for column in self.extra:
            cells[column.key] = column.cell(address)
        return cells

    @property
    def table(self) -> DataTable:
        return self.query_one("#watch-table", DataTable)

    def show_error(self, text: str) -> None:
        self.query_one("#address-error", Static).update(Text(text))

    @property
    def selected(self) -> str | None:
        """The address under the table's cursor."""
        table = self.table
        if not self.addresses or table.cursor_row < 0:
            return None
        return self.addresses[min(table.cursor_row, len(self.addresses) - 1)]

    def refresh_rows(self, addresses: Sequence[str], run: RunHistory | None, engine_only: bool = False,
                     extra: Sequence[ExtraColumn] | None = None) -> None:
        """Make the table show exactly `addresses`, with values from the run's history (and `extra` columns)."""
        table = self.table
        keep = self.selected
        if extra is not None and [(c.key, c.label) for c in extra] != [(c.key, c.label) for c in self.extra]:
            self.set_columns(extra)
        elif extra is not None:
            self.extra = tuple(extra)
        if list(addresses) != self.addresses:
            table.clear()
            keys = [str(column.key.value) for column in table.ordered_columns]
            for address in addresses:
                cells = self.row(address, run, engine_only)
                table.add_row(*(cells[key] for key in keys), key=address)
            self.addresses = list(addresses)
            if keep in self.addresses:
                table.move_cursor(row=self.addresses.index(keep))
            return
        for address in addresses:
            for name, value in self.row(address, run, engine_only).items():
                if name != COLUMNS[0]:
                    table.update_cell(address, name, value, update_width=True)

    def refresh_detail(self, run: RunHistory | None, live: str = "") -> None:
        """Big sparklines and a summary line for the highlighted scalar."""
        address = self.selected
        track = run.watches.get(address) if (run is not None and address) else None
        data = sparkline_data(track.data.ys) if track else []
        grad = sparkline_data(track.grad.ys) if track else []
        self.query_one("#data-spark", Sparkline).data = data
        self.query_one("#grad-spark", Sparkline).data = grad
        if address is None:
            text = "No scalars watched: type an address above or pick one in the network tree."
        elif track is None:
            text = f"{address}: no report yet (reports come after each step of a run)"
        else:
            text = (f"{address}  step {track.latest.step}  data {fmt(track.latest.data)}  grad "
                    f"{fmt(track.latest.grad)}  ({track.data.count:,} reports)")
        self.query_one("#watch-detail", Static).update(Text(text + (f"\n{live}" if live else "")))
