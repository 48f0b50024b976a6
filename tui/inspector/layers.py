"""The inspector's per-layer views: gradient statistics of every layer and one neuron's weight heatmap."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from core.events import LayerGradStats
from tui.inspector.pack import Group, Row, pack
from tui.render import grid_shape, heatmap_legend, heatmap_text

BARS = "·▁▂▃▄▅▆▇█"  # an empty bin is a dot, not a space: SVG export would drop a leading space


def histogram_text(counts: Sequence[int]) -> str:
    """Counts as a row of bars scaled to the largest bin (empty bins blank)."""
    top = max(counts, default=0)
    if top <= 0:
        return ""
    return "".join(BARS[0 if c == 0 else max(1, round(c / top * 8))] for c in counts)


def edges_text(edges: Sequence[float]) -> str:
    """The range of log10 |grad| edges as powers of ten, e.g. '1e-7 .. 1e-1'."""
    if len(edges) < 2 or not all(math.isfinite(e) for e in (edges[0], edges[-1])):
        return ""
    return f"1e{edges[0]:.0f}..1e{edges[-1]:.0f}"


def layer_rows(stats: Mapping[int, LayerGradStats], layer_sizes: Sequence[int]) -> list[Row]:
    """Two rows per layer, as fact groups: mean/std/max of its weight gradients; dead units, update ratio and
    the |grad| histogram with its range."""
    rows: list[Row] = []
    for layer in range(len(layer_sizes) - 1):
        head: Group = [(f"L{layer} {layer_sizes[layer]}→{layer_sizes[layer + 1]}", "bold")]
        s = stats.get(layer)
        if s is None:
            rows.append([("", head), ("  ", [("no statistics yet", "dim")]),
                         (" ", [("(they come every second or so)", "dim")])])
            continue
        rows.append([("", head), ("  ", [(f"mean {s.mean:.1e}", "")]), ("  ", [(f"std {s.std:.1e}", "")]),
                     ("  ", [(f"max|g| {s.max_abs:.1e}", "")])])
        last = layer == len(layer_sizes) - 2
        dead = "n/a" if last else f"{s.dead_fraction:.0%}"
        row: Row = [
            ("", [("└ dead ", ""), (dead, "yellow" if s.dead_fraction > 0.5 else "")]),
            (" · ", [("upd/w ", ""), (f"{s.update_ratio:.1e}", _ratio_style(s.update_ratio))]),
        ]
        bars = histogram_text(s.histogram)
        row.append((" · ", [("|g| ", ""), (bars, "cyan")] if bars else [("|g|", "")]))
        edges = edges_text(s.histogram_edges)
        if edges:
            row.append((" ", [(edges, "dim")]))
        rows.append(row)
    return rows


def layer_text(stats: Mapping[int, LayerGradStats], layer_sizes: Sequence[int], width: int | None = None) -> Text:
    """The layers' statistics (layer_rows) as lines no wider than `width`, broken only between facts."""
    return pack(layer_rows(stats, layer_sizes), width)


def _ratio_style(ratio: float) -> str:
    """Update-to-weight ratios far from ~1e-3 are worth a look: too small learns slowly, too big is unstable."""
    if not math.isfinite(ratio) or ratio > 1e-1:
        return "bold red"
    if ratio < 1e-5 or ratio > 1e-2:
        return "yellow"
    return "green"


class LayerStatsPane(Static):
    """Gradient statistics of every layer, from the latest LayerGradStats events."""

    DEFAULT_CSS = "LayerStatsPane { height: auto; padding: 0 1; }"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple = ({}, ())
        self._text: Text | None = None

    def show(self, stats: Mapping[int, LayerGradStats], layer_sizes: Sequence[int], step: int | None) -> None:
        self._shown = (stats, tuple(layer_sizes))
        self.draw()

    def draw(self) -> None:
        """Lines as wide as the pane (broken between facts, never inside one); unbroken before the first layout."""
        stats, sizes = self._shown
        width = self.content_size.width or None
        text = layer_text(stats, sizes, width) if sizes else Text()
        if self._text is None or text != self._text:
            self._text = text
            self.update(text)

    def on_resize(self) -> None:
        self.draw()


class HeatmapPane(Vertical):
    """A neuron's incoming weights and their gradients in the input's shape, drawn with half blocks."""

    DEFAULT_CSS = """
    HeatmapPane { height: auto; padding: 0 1; }
    HeatmapPane #heatmap-title { height: auto; }
    HeatmapPane #heatmaps { height: auto; }
    HeatmapPane .heatmap { width: auto; height: auto; margin-right: 2; }
    """

    _title: list = []  # the title's fact groups (pack), when there are maps

    def compose(self) -> ComposeResult:
        yield Static("", id="heatmap-title")
        with Horizontal(id="heatmaps"):
            yield Static("", id="heatmap-weights", classes="heatmap")
            yield Static("", id="heatmap-grads", classes="heatmap")

    def show(self, title: str, weights: Sequence[float] | None, grads: Sequence[float] | None,
             side: int | None) -> None:
        """Draw both maps side by side (or just the title when there is nothing to draw)."""
        title_widget = self.query_one("#heatmap-title", Static)
        w_widget = self.query_one("#heatmap-weights", Static)
        g_widget = self.query_one("#heatmap-grads", Static)
        if not weights:
            self._title = []
            title_widget.update(Text(title, style="dim"))
            w_widget.update("")
            g_widget.update("")
            return
        rows, cols = grid_shape(len(weights), side)
        self._title = [[("", [(title, "")]), (" ", [(f"({rows}×{cols})", "")]), (" · ", [("blue < 0 < red", "")])]]
        self.draw_title()
        for widget, name, values in ((w_widget, "weights", weights), (g_widget, "grads", grads or [])):
            finite = [abs(v) for v in values if math.isfinite(v)]
            scale = max(finite, default=0.0)
            header = f"{name} (all 0 now)" if scale == 0 else name
            body = Text(f"{header}\n", style="bold")
            body.append_text(heatmap_text(values, side, scale) if values else Text(""))
            body.append(f"\n{heatmap_legend(scale)}", style="dim")
            widget.update(body)

    def draw_title(self) -> None:
        """The title broken between its phrases at the pane's width, not inside one."""
        if self._title:
            title_widget = self.query_one("#heatmap-title", Static)
            title_widget.update(pack(self._title, title_widget.content_size.width or None))

    def on_resize(self) -> None:
        self.draw_title()
