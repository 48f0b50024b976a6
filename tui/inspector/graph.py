"""The inspector's browsers: the network as a tree (layer → neuron → scalar) and a node's local graph."""

from __future__ import annotations

from typing import Any, Sequence

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import OptionList, Static, Tree
from textual.widgets.option_list import Option
from textual.widgets.tree import TreeNode

from tui.inspector.pack import Row, pack

NEIGHBOURS = 24  # per side; a first-layer z has up to 197 parents, the rest are summarised


# What a neuron's own scalars are called in the tree: in full, and in the narrow layout's 20 columns (three levels
# deep, a label has 10 of them there: "z  pre-activation" was cut to "z  pre-").
SCALAR_LABELS = {"b": "bias", "z": "pre-activation", "a": "activation"}
COMPACT_SCALAR_LABELS = {"b": "bias", "z": "w·x+b", "a": "f(z)"}


class NetworkTree(Tree[dict]):
    """Browse layer → neuron → scalar; children are added only when a node is expanded (784 weights)."""

    compact = False  # the screen's narrow layout: COMPACT_SCALAR_LABELS

    def on_mount(self) -> None:
        self.guide_depth = 2  # three levels deep, "z  pre-activation" still fits the wide layout's left pane

    def on_resize(self) -> None:
        self.set_compact(self.screen.has_class("-narrow"))  # the screen's breakpoint class, set by its width

    def set_compact(self, compact: bool) -> None:
        """Name a neuron's b, z and a for the narrow layout (or in full), those already shown too."""
        if compact == self.compact:
            return
        self.compact = compact
        stack = [self.root]
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            data = node.data or {}
            kind = data.get("address", "").rpartition(".")[2] if data.get("kind") == "scalar" else ""
            if kind in SCALAR_LABELS:
                node.set_label(self.scalar_label(kind))

    def scalar_label(self, kind: str) -> str:
        return f"{kind}  {(COMPACT_SCALAR_LABELS if self.compact else SCALAR_LABELS)[kind]}"

    def set_shape(self, layer_sizes: Sequence[int], graph_nodes: bool) -> None:
        """Rebuild for a network shape (inputs first); collapsed layers cost nothing."""
        key = (tuple(layer_sizes), graph_nodes)
        if getattr(self, "_shape", None) == key:
            return
        self._shape = key
        self.clear()
        sizes = list(layer_sizes)
        self.root.set_label("-".join(map(str, sizes)) if sizes else "no network")
        self.root.data = {"kind": "network"}
        for layer in range(len(sizes) - 1):
            label = f"L{layer}  {sizes[layer]}→{sizes[layer + 1]}"
            self.root.add(label, data={"kind": "layer", "layer": layer}, allow_expand=True)
        self.root.expand()

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[dict]) -> None:
        node: TreeNode[dict] = event.node
        data = node.data or {}
        if node.children or data.get("kind") not in ("layer", "neuron"):
            return
        sizes, graph_nodes = self._shape
        layer = data["layer"]
        if data["kind"] == "layer":
            for n in range(sizes[layer + 1]):
                node.add(f"N{n}", data={"kind": "neuron", "layer": layer, "neuron": n}, allow_expand=True)
            return
        stem = f"L{layer}.N{data['neuron']}."
        for kind in ("b", "z", "a") if graph_nodes else ("b",):
            node.add_leaf(self.scalar_label(kind), data={**data, "kind": "scalar", "address": stem + kind})
        for i in range(sizes[layer]):
            node.add_leaf(f"w{i}", data={**data, "kind": "scalar", "address": f"{stem}w{i}"})


class GraphPane(Vertical):
    """One node of the last sample's graph with its parents and children; enter follows, backspace returns."""

    # the pane's own help line names both ("backspace: back · r: the loss"): the footer keeps its room
    BINDINGS = [Binding("backspace", "back", "back", show=False), Binding("r", "to_loss", "to loss (root)", show=False)]
    DEFAULT_CSS = """
    GraphPane { height: 1fr; }
    GraphPane #graph-node { height: auto; padding: 0 1; }
    GraphPane #graph-list { height: 1fr; min-height: 6; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.index: Any = None  # the probe's GraphView of one sample (core/backends/scalar/graph.py)
        self.node: Any = None
        self.trail: list[Any] = []
        self._targets: dict[str, Any] = {}
        self._head: list[Row] = []  # the node's two lines as phrases, drawn at the pane's width (draw_head)

    def compose(self) -> ComposeResult:
        yield Static("", id="graph-node")
        yield OptionList(id="graph-list")

    def show_message(self, text: str) -> None:
        """No graph to show (Lightning, or no sample yet)."""
        self.index, self.node, self.trail = None, None, []
        self._head = []
        self.query_one("#graph-node", Static).update(Text(text, style="dim"))
        self.query_one("#graph-list", OptionList).clear_options()

    def set_graph(self, index: Any, node: Any = None) -> None:
        """Show a freshly scanned graph, starting at `node` (default: the loss)."""
        self.index, self.trail = index, []
        self.go(node if node is not None else index.root, remember=False)

    def go(self, node: Any, remember: bool = True) -> None:
        if self.index is None or node is None:
            return
        if remember and self.node is not None:
            self.trail.append(self.node)
        self.node = node
        self.redraw(keep_highlight=False)

    @property
    def label(self) -> str:
        """The current node's address (or op name)."""
        return self.index.view(self.node).label if self.index and self.node is not None else ""

    def redraw(self, keep_highlight: bool = True) -> None:
        """Render the current node and its neighbours with their current data | grad."""
        if self.index is None or self.node is None:
            return
        me = self.index.view(self.node)
        parents, more_p, children, more_c = self.index.neighbourhood(self.node, NEIGHBOURS)
        self._head = [
            [("", [(me.label, "bold")]), (" · ", [(me.op, "")]), (" · ", [(f"data {me.data:.6g}", "")]),
             (" · ", [(f"grad {me.grad:.6g}", "")])],
            [("", [(f"{self.index.size:,} nodes (this sample)", "dim")]), (" · ", [("enter: go", "dim")]),
             (" · ", [(f"backspace: back ({len(self.trail)})", "dim")]), (" · ", [("r: the loss", "dim")])],
        ]
        self.draw_head()
        options: list[Option | None] = []
        self._targets = {}

        def section(title: str, views: list[Any], more: int, tag: str) -> None:
            options.append(Option(Text(title, style="bold"), disabled=True))
            for i, view in enumerate(views):
                key = f"{tag}{i}"
                self._targets[key] = view.node
                options.append(Option(escape(view.line()), id=key))
            if more:
                options.append(Option(Text(f"  … {more} more", style="dim"), disabled=True))

        section(f"▲ parents ({len(parents) + more_p}) — what {me.label} is computed from", parents, more_p, "p")
        section(f"▼ children ({len(children) + more_c}) — what uses {me.label}", children, more_c, "c")
        olist = self.query_one("#graph-list", OptionList)
        highlighted = olist.highlighted if keep_highlight else None
        olist.clear_options()
        olist.add_options(options)
        first = next((i for i, o in enumerate(options) if o is not None and not o.disabled), None)
        target = highlighted if highlighted is not None and highlighted < len(options) else first
        if target is not None:
            olist.highlighted = target

    def draw_head(self) -> None:
        """The node's lines, broken between phrases (never inside "data 1.36"), at the pane's width."""
        if self._head:
            widget = self.query_one("#graph-node", Static)
            widget.update(pack(self._head, widget.content_size.width or None))

    def on_resize(self) -> None:
        self.draw_head()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        node = self._targets.get(event.option.id or "")
        if node is not None:
            self.go(node)

    def action_back(self) -> None:
        if self.trail:
            self.node = self.trail.pop()
            self.redraw(keep_highlight=False)

    def action_to_loss(self) -> None:
        if self.index is not None:
            self.go(self.index.root)
