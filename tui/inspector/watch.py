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
from tui.inspector.pack import Row, pack, plain
from tui.render import fmt, spark_text, sparkline_data

COLUMNS = ("address", "data", "grad", "last update", "data ∿", "grad ∿")
# The compact table (the screen's narrow layout, below 140 columns): no sparkline columns (the highlighted
# scalar's full-width sparklines stay below it), a short heading, numbers of at most 8 characters.
COMPACT_COLUMNS = ("address", "data", "grad", "update")
COMPACT_WIDTH = 8  # a compact number's characters at most (`short`), and a compared run's heading's
SPARK = 10  # characters per table sparkline; the highlighted scalar gets full-width Sparkline widgets
PLACEHOLDER = "address, e.g. L0.N12.w345, L1.N3.b, L0.N12.z, loss (enter adds)"
COMPACT_PLACEHOLDER = "e.g. L0.N12.w345, L1.N3.b, loss (enter)"


def short(v: float) -> str:
    """A number in at most 8 characters (3 significant digits), e.g. -0.0123, 4.56, -1.58e-4, 2.1e3."""
    if not math.isfinite(v) or v == 0:
        return f"{v:g}"
    if 1e-2 <= abs(v) < 1e3 and "e" not in (plain := f"{v:.3g}"):  # 999.7 rounds to 1e+03: as below
        return plain
    mantissa, exponent = f"{v:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


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
    compact_cell: Callable[[str], Text | str] | None = None  # the narrow layout's (`short` numbers), if other


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


def watch_row(address: str, run: RunHistory | None, engine_only: bool = False, compact: bool = False) -> tuple:
    """The cells of one table row from the run's ScalarWatch track (dashes before the first report).

    `compact`: the COMPACT_COLUMNS' cells, numbers `short` and right-aligned; a scalar without reports says
    why ("engine only" or "waiting") in its grad cell.
    """
    track = run.watches.get(address) if run is not None else None
    if track is None:
        why = Text("engine only" if engine_only and is_graph_node(address) else "waiting", style="dim")
        return (address, "-", why, "-") if compact else (address, "-", "-", "-", why, "")
    update = track.update
    grad = track.latest.grad
    style = "bold red" if not math.isfinite(grad) else ""
    if compact:
        def cell(v: float | None, style: str = "") -> Text:
            return Text("-" if v is None else short(v), style=style, justify="right")
        return (address, cell(track.latest.data), cell(grad, style), cell(update))
    upd = "-" if update is None else fmt(update)
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
        self.compact = False  # COMPACT_COLUMNS and short numbers: the screen's narrow layout (set_compact)
        self._rows_of: tuple = (None, False)  # the run and engine_only of the last refresh_rows
        self._detail: list[Row] = []  # the detail's lines as phrases (refresh_detail), drawn by draw_detail
        self._detail_text: Text | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return COMPACT_COLUMNS if self.compact else COLUMNS

    def compose(self) -> ComposeResult:
        yield Input(placeholder=PLACEHOLDER, suggester=self.suggester, id="address-input")
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

    def set_compact(self, compact: bool) -> None:
        """The narrow layout's table (COMPACT_COLUMNS, short numbers, a short placeholder) or the full one."""
        if compact == self.compact:
            return
        self.compact = compact
        self.query_one("#address-input", Input).placeholder = COMPACT_PLACEHOLDER if compact else PLACEHOLDER
        if self.is_mounted:
            addresses, keep = self.addresses, self.selected
            self.set_columns(self.extra)
            self.refresh_rows(addresses, *self._rows_of)
            if keep in self.addresses:
                self.table.move_cursor(row=self.addresses.index(keep))

    def on_resize(self) -> None:
        self.set_compact(self.screen.has_class("-narrow"))  # the screen's breakpoint class, set by its width
        self.draw_detail()

    def set_columns(self, extra: Sequence[ExtraColumn]) -> None:
        """The table's columns: `columns` with `extra` after "data" (rows are added again by refresh_rows)."""
        table = self.table
        table.clear(columns=True)
        self.extra, self.addresses = tuple(extra), []

        def heading(name: str) -> Text | str:  # over right-aligned numbers, right-aligned
            return Text(name, justify="right") if self.compact and name != "address" else name

        shown = self.shown_columns
        for name in shown[:2]:
            table.add_column(heading(name), key=name)
        for column in self.extra:
            label = column.label
            if self.compact:  # the full names are in the line below the table (ComparedColumns.phrases)
                label = Text(label if len(label) <= COMPACT_WIDTH else label[:COMPACT_WIDTH - 1] + "…",
                             justify="right")
            table.add_column(label, key=column.key)
        for name in shown[2:]:
            table.add_column(heading(name), key=name)

    @property
    def shown_columns(self) -> tuple[str, ...]:
        """The table's own columns shown: in the narrow layout with compared runs, grad and update give their room
        to the runs' values (the highlighted scalar's grad is in the line below the table)."""
        return self.columns[:2] if self.compact and self.extra else self.columns

    def row(self, address: str, run: RunHistory | None, engine_only: bool = False) -> dict[str, object]:
        """Column key -> cell of one row (the shown columns only)."""
        cells: dict[str, object] = dict(zip(self.columns, watch_row(address, run, engine_only, self.compact),
                                            strict=True))
        cells = {name: cells[name] for name in self.shown_columns}
        for column in self.extra:
            cell = column.compact_cell if self.compact and column.compact_cell is not None else column.cell
            cells[column.key] = cell(address)
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
        self._rows_of = (run, engine_only)
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
                if name != "address":
                    table.update_cell(address, name, value, update_width=True)

    def refresh_detail(self, run: RunHistory | None, live: Sequence[Sequence[tuple[str, str]]] = ()) -> None:
        """Big sparklines and a summary line for the highlighted scalar; `live`: more lines as (joiner, phrase)
        pairs (LiveReader.phrases, ComparedColumns.phrases). Lines break between phrases at the pane's width."""
        address = self.selected
        track = run.watches.get(address) if (run is not None and address) else None
        data = sparkline_data(track.data.ys) if track else []
        grad = sparkline_data(track.grad.ys) if track else []
        self.query_one("#data-spark", Sparkline).data = data
        self.query_one("#grad-spark", Sparkline).data = grad
        if address is None:
            first = [("", "No scalars watched: type an address above or pick one in the network tree.")]
        elif track is None:
            first = [("", f"{address}:"), (" ", "no report yet"), (" ", "(reports come after each step of a run)")]
        else:
            first = [("", address), ("  ", f"step {track.latest.step}"), ("  ", f"data {fmt(track.latest.data)}"),
                     ("  ", f"grad {fmt(track.latest.grad)}"), ("  ", f"({track.data.count:,} reports)")]
        self._detail = [plain(first), *(plain(row) for row in live)]
        self.draw_detail()

    def draw_detail(self) -> None:
        widget = self.query_one("#watch-detail", Static)
        text = pack(self._detail, widget.content_size.width or None)
        if text != self._detail_text:
            self._detail_text = text
            widget.update(text)
