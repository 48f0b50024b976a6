"""The inspector's per-layer views: gradient statistics of every layer and one neuron's weight heatmap."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from core.events import LayerGradStats
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


def layer_text(stats: Mapping[int, LayerGradStats], layer_sizes: Sequence[int]) -> Text:
    """Two lines per layer: mean/std/max of its weight gradients; dead units, update ratio, |grad| histogram.

    Separating spaces end a styled run rather than start one: SVG renderers drop a run's leading spaces.
    """
    text = Text()
    for layer in range(len(layer_sizes) - 1):
        if layer:
            text.append("\n")
        text.append(f"L{layer} {layer_sizes[layer]}→{layer_sizes[layer + 1]}  ", style="bold")
        s = stats.get(layer)
        if s is None:
            text.append("no statistics yet (they come every second or so)", style="dim")
            continue
        text.append(f"mean {s.mean:.1e}  std {s.std:.1e}  max|g| {s.max_abs:.1e}\n└ dead ")
        last = layer == len(layer_sizes) - 2
        text.append("n/a " if last else f"{s.dead_fraction:.0%} ", style="yellow" if s.dead_fraction > 0.5 else "")
        text.append("· upd/w ")
        text.append(f"{s.update_ratio:.1e} ", style=_ratio_style(s.update_ratio))
        text.append("· |g| ")
        text.append(histogram_text(s.histogram) + " ", style="cyan")
        text.append(edges_text(s.histogram_edges), style="dim")
    return text


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

    def show(self, stats: Mapping[int, LayerGradStats], layer_sizes: Sequence[int], step: int | None) -> None:
        if not layer_sizes:
            self.update("")
            return
        self.update(layer_text(stats, layer_sizes))


class HeatmapPane(Vertical):
    """A neuron's incoming weights and their gradients in the input's shape, drawn with half blocks."""

    DEFAULT_CSS = """
    HeatmapPane { height: auto; padding: 0 1; }
    HeatmapPane #heatmap-title { height: auto; }
    HeatmapPane #heatmaps { height: auto; }
    HeatmapPane .heatmap { width: auto; height: auto; margin-right: 2; }
    """

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
            title_widget.update(Text(title, style="dim"))
            w_widget.update("")
            g_widget.update("")
            return
        rows, cols = grid_shape(len(weights), side)
        title_widget.update(Text(f"{title} ({rows}×{cols}) · blue < 0 < red"))
        for widget, name, values in ((w_widget, "weights", weights), (g_widget, "grads", grads or [])):
            finite = [abs(v) for v in values if math.isfinite(v)]
            scale = max(finite, default=0.0)
            header = f"{name} (all 0 now)" if scale == 0 else name
            body = Text(f"{header}\n", style="bold")
            body.append_text(heatmap_text(values, side, scale) if values else Text(""))
            body.append(f"\n{heatmap_legend(scale)}", style="dim")
            widget.update(body)
