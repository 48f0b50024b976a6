"""Pilot and snapshot tests of the gradient inspector, on deterministic data (no training thread)."""

from __future__ import annotations

import asyncio
import html
import math
import random
from types import SimpleNamespace

import pytest
from engine_probe import EngineProbe  # noqa: E402
from footer_fit import cut_footer_keys  # noqa: E402
from textual.widgets import Input, Static

import core.gradcheck
from core.backends import RunControl
from core.config import TrainConfig
from core.engine import ReLU
from core.events import LayerGradStats, RunStarted, ScalarWatch
from core.nn import MLP, cross_entropy
from tui.app import make_app
from tui.inspector import InspectorScreen
from tui.inspector.watch import AddressSuggester
from tui.render import fmt

CONFIG = TrainConfig(hidden=(6,), input_size=7, train_subset=64, val_subset=16, test_subset=16, epochs=1)
SIZE = (150, 46)
RUN = "inspector-test"


def digit() -> list[float]:
    """A deterministic 7x7 'one' with some noise."""
    rng = random.Random(7)
    return [round(0.9 - 0.1 * rng.random(), 3) if c in (3, 4) and 0 < r < 6 else 0.0
            for r in range(7) for c in range(7)]


def populate(app, watched=("L0.N1.w24", "L0.N1.b", "L1.N4.z", "loss"), backend="scalar", steps=30) -> MLP:
    """A trained-looking state: a model with its last sample's graph, watch history and layer statistics."""
    model = MLP(49, [6, 10], activation="relu", seed=3)
    x = digit()
    lossv = cross_entropy(model(x), 4)
    model.last_loss = lossv
    lossv.backward()
    probe = EngineProbe(model, (x, 4), input_side=7, step=steps)
    if backend != "scalar":  # the same numbers through a probe without a graph
        probe.backend, probe.graph_nodes = backend, False
    config = CONFIG.replace(backend=backend)
    controller = app.controller
    controller.trainer = SimpleNamespace(probe=lambda: probe)
    controller.control = RunControl(watched)
    controller.watched = list(watched)
    controller.config = controller.run_config = config
    events = [RunStarted(run_id=RUN, time=0.0, backend=backend, device="cpu", data_source="test digits",
                         config=config.to_dict(), train_size=64, val_size=16, test_size=16, total_steps=steps)]
    for step in range(1, steps + 1):
        for k, address in enumerate(watched):
            if backend != "scalar" and (address == "loss" or address[-2:] in (".z", ".a")):
                continue  # Lightning reports parameters only
            value = 0.5 * math.sin(step / 5 + k) / (k + 1)
            events.append(ScalarWatch(run_id=RUN, time=0.0, step=step, address=address, data=value,
                                      grad=0.1 * math.cos(step / 3 + k)))
    for layer in (0, 1):
        events.append(LayerGradStats(run_id=RUN, time=0.0, step=steps, layer=layer, mean=1e-4 * (layer + 1),
                                     std=2e-3, max_abs=3e-2, histogram=(0, 1, 4, 9, 12, 7, 3, 1),
                                     histogram_edges=tuple(float(e) for e in range(-8, 1)),
                                     dead_fraction=0.25 if layer == 0 else 0.0, update_ratio=1.2e-3))
    app.history.extend(events)
    return model


async def open_inspector(pilot) -> InspectorScreen:
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, InspectorScreen)
                   and hasattr(pilot.app.screen, "watch_pane"))  # mounted, even on a loaded machine
    await pilot.pause()
    return pilot.app.screen


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def wait_for(pilot, condition, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture(autouse=True)
def no_torch_in_the_ui_tests(monkeypatch):
    """The torch comparison is covered in tests/test_inspect.py; here it would only cost an import."""

    def unavailable(*args, **kwargs):
        raise ImportError("torch skipped in UI tests")

    monkeypatch.setattr(core.gradcheck, "torch_gradient", unavailable)


async def test_add_watch_by_address_and_reject_invalid(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        app.controller.control = RunControl()
        screen = await open_inspector(pilot)
        assert not isinstance(screen.focused, Input)  # the screen's keys work at once: one escape or i goes back
        await pilot.press("a", *"L0.N99.w3", "enter")
        assert "L0.N99.w3: neuron 99 does not exist: layer 0 has neurons N0..N5" in text_of(screen, "#address-error")
        assert app.watched == [] and app.control.watched == ()
        field = screen.query_one("#address-input", Input)
        assert field.value == "L0.N99.w3"  # kept, to be corrected
        field.value = ""
        await pilot.press(*"L0.N2.w1")
        await pilot.pause()
        await pilot.press("right")  # accept the suggestion: L0.N2.w1 -> L0.N2.w10
        assert field.value == "L0.N2.w10"
        await pilot.press("enter")
        assert app.watched == ["L0.N2.w10"] and app.control.watched == ("L0.N2.w10",)
        assert text_of(screen, "#address-error") == ""
        assert screen.watch_pane.addresses == ["L0.N2.w10"]
        # the field is cleared and keeps the focus: the next address is typed, not taken as keys (w, n, d...)
        assert screen.focused is field and field.value == ""
        await pilot.press(*"L0.N3.w4", "enter")
        assert app.watched == ["L0.N2.w10", "L0.N3.w4"] and screen.query_one("#inspector-tabs").active == "layers-tab"
        await pilot.press("escape")  # leaves the field for the table, on the scalar just added
        assert screen.focused is screen.watch_pane.table and screen.watch_pane.selected == "L0.N3.w4"
        await pilot.press("d")  # d unwatches the selected row
        assert app.watched == ["L0.N2.w10"] and app.control.watched == ("L0.N2.w10",)
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectorScreen)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectorScreen))
        await pilot.press("i")  # the key that opened it closes it, at once
        assert not isinstance(app.screen, InspectorScreen)


async def test_nothing_watched_one_escape_goes_back(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_inspector(pilot)
        assert screen.focused is screen.network_tree
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectorScreen)


async def test_suggester_completes_for_the_shape():
    suggester = AddressSuggester(lambda: (49, 6, 10), lambda: True)
    assert await suggester.get_suggestion("L1.N") == "L1.N0."
    assert await suggester.get_suggestion("L0.N5.w4") == "L0.N5.w40"
    assert await suggester.get_suggestion("lo") == "loss"
    assert await suggester.get_suggestion("L2") is None


async def test_values_shown_equal_the_history_and_the_engine(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        model = populate(app)
        screen = await open_inspector(pilot)
        table = screen.watch_pane.table
        last = app.history.current.watches["L0.N1.w24"]
        row = table.get_row("L0.N1.w24")
        assert row[1] == fmt(last.latest.data) and str(row[2]) == fmt(last.latest.grad)
        assert row[3] == fmt(last.latest.data - last.previous.data)
        detail = text_of(screen, "#watch-detail")
        assert "L0.N1.w24  step 30" in detail
        live = model.resolve("L0.N1.w24")
        assert f"live now (step 30): data {fmt(live.data)}  grad {fmt(live.grad)}" in detail
        assert "L0 49→6" in text_of(screen, "#layer-stats") and "dead 25%" in text_of(screen, "#layer-stats")
        assert "L0.N1: weights from 49 pixels (7×7)" in text_of(screen, "#heatmap-title")
        assert "step 30" in text_of(screen, "#inspector-title")


async def test_browse_the_network_tree_to_watch_a_bias(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        populate(app, watched=("loss",))
        screen = await open_inspector(pilot)
        await pilot.press("t", "down", "enter")  # L0: expand (children are added on expansion)
        await pilot.pause()
        await pilot.press("down", "down")  # N1
        assert screen.neuron == (0, 1)
        await pilot.press("enter")  # expand N1
        await pilot.pause()
        await pilot.press("down", "enter")  # pick its bias
        assert app.watched == ["loss", "L0.N1.b"] and app.control.watched == ("loss", "L0.N1.b")


@pytest.mark.parametrize(("size", "labels"), [
    ((160, 45), ("z  pre-activation", "a  activation", "b  bias")),  # whole, not "z pre-" or "a acti"
    ((100, 30), ("z  w·x+b", "a  f(z)", "b  bias")),  # the narrow layout's 20 columns: "z  pre-" before
])
async def test_tree_labels_are_not_cut(tmp_path, size, labels):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=size) as pilot:
        populate(app, watched=("loss",))
        await open_inspector(pilot)
        await pilot.press("t", "down", "enter")
        await pilot.pause()
        await pilot.press("down", "down", "enter")  # expand L0.N1: b, z, a, w0...
        await pilot.pause()
        shown = html.unescape(app.export_screenshot()).replace("\xa0", " ")
        for label in labels:
            assert label in shown, label


async def test_the_tree_renames_a_neurons_scalars_when_the_layout_changes(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        populate(app, watched=("loss",))
        screen = await open_inspector(pilot)
        await pilot.press("t", "down", "enter")
        await pilot.pause()
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        labels = [str(node.label) for node in screen.network_tree.root.children[0].children[1].children[:3]]
        assert labels == ["b  bias", "z  w·x+b", "a  f(z)"]


async def test_graph_view_is_navigable_by_keyboard(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        model = populate(app)
        screen = await open_inspector(pilot)
        screen.watch_pane.table.move_cursor(row=2)  # L1.N4.z
        await pilot.press("w", "n")
        graph = screen.graph_pane
        assert graph.label == "L1.N4.z" and graph.node is model.resolve("L1.N4.z")
        options = screen.query_one("#graph-list")
        assert str(options.get_option_at_index(1).prompt).startswith("L1.N4.w0")  # parents: w0..w5, a0..a5, b
        assert str(options.get_option_at_index(7).prompt).startswith("L0.N0.a")
        await pilot.press(*["down"] * 6, "enter")  # follow the edge to L0.N0.a
        assert graph.label == "L0.N0.a" and graph.trail == [model.resolve("L1.N4.z")]
        assert "L1.N4.z" in [str(options.get_option(f"c{i}").prompt).split()[0] for i in range(6)]
        await pilot.press("enter")  # L0.N0.a's first parent: L0.N0.z (relu)
        assert graph.label == "L0.N0.z" and len(graph.trail) == 2
        await pilot.press("backspace", "backspace")
        assert graph.label == "L1.N4.z" and graph.trail == []
        await pilot.press("r")
        assert graph.label == "loss" and graph.node is model.last_loss
        await pilot.press("w")
        screen.watch_pane.table.move_cursor(row=1)  # L0.N1.b
        await pilot.press("enter")  # enter on a watched scalar opens the graph there
        assert graph.label == "L0.N1.b" and "x=" not in str(options.get_option("c0").prompt)
        await pilot.press("l")
        assert screen.query_one("#inspector-tabs").active == "layers-tab"
        assert "L0.N1: weights from 49 pixels" in text_of(screen, "#heatmap-title")


async def test_gradient_check_passes_and_flags_a_wrong_derivative(tmp_path, monkeypatch):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        model = populate(app, watched=("L0.N1.b",))
        screen = await open_inspector(pilot)
        assert model.resolve("L0.N1.z").data > 0  # a live ReLU, so its derivative matters
        await pilot.press("g")
        await wait_for(pilot, lambda: "PASS" in text_of(screen, "#gradcheck"))
        assert "torch not installed" in text_of(screen, "#gradcheck")

        def wrong(out) -> None:
            if out.data > 0.0:
                out._prev[0].grad += 3.0 * out.grad

        monkeypatch.setattr(ReLU, "backward", staticmethod(wrong))
        await pilot.press("g")
        await wait_for(pilot, lambda: "FAIL L0.N1.b" in text_of(screen, "#gradcheck"))


async def test_a_probe_without_graph_nodes_refuses_them(tmp_path):
    app = make_app(CONFIG.replace(backend="lightning"), runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        model = populate(app, watched=("L0.N1.w24", "L1.N0.z"), backend="lightning")
        screen = await open_inspector(pilot)
        live = model.resolve("L0.N1.w24")
        assert f"live now (step 30): data {fmt(live.data)}  grad {fmt(live.grad)}" in text_of(screen, "#watch-detail")
        assert "L0.N1: weights from 49 pixels" in text_of(screen, "#heatmap-title")
        assert str(screen.watch_pane.table.get_row("L1.N0.z")[4]) == "engine only"
        await pilot.press("a", *"L0.N1.z", "enter")
        assert "only the handmade engine has them" in text_of(screen, "#address-error")
        await pilot.press("escape", "n")
        assert "Lightning keeps no scalar graph" in text_of(screen, "#graph-node")


async def test_p_pauses_and_resumes_the_run_from_the_inspector(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        populate(app)
        control = app.controller.start(CONFIG)  # a run going (no thread: the state machine alone)
        app.controller.fold([app.history.current.started])
        assert app.state == "running"
        screen = await open_inspector(pilot)
        await pilot.press("w", "p")
        assert app.state == "paused" and control.user_paused and isinstance(app.screen, InspectorScreen)
        assert "paused" in text_of(screen, "#inspector-title")
        await pilot.press("p")
        assert app.state == "running" and not control.user_paused


async def test_watches_outside_the_network_are_dropped(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path, watch=["L0.N1.b", "L3.N0.b", "L0.N1.w99"])
    async with app.run_test(size=SIZE) as pilot:
        await open_inspector(pilot)
        assert app.watched == ["L0.N1.b"]


def test_inspector_snapshot(snap_compare, tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)

    async def setup(pilot) -> None:
        populate(app)
        await pilot.press("i")
        await pilot.pause()
        await asyncio.sleep(0.1)

    assert snap_compare(app, terminal_size=SIZE, run_before=setup)


async def test_watch_list_survives_a_run_of_the_same_shape_only(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        populate(app, watched=("L0.N5.b", "L0.N1.b", "L1.N9.w5"))
        screen = await open_inspector(pilot)
        app.history.add(RunStarted(run_id="next-run", time=0.0, backend="scalar", device="cpu", data_source="t",
                                   config=CONFIG.to_dict(), train_size=1, val_size=1, test_size=1))
        screen.refresh_view()
        assert app.watched == ["L0.N5.b", "L0.N1.b", "L1.N9.w5"]  # same shape: all kept
        app.controller.config = CONFIG.replace(hidden=(4,))  # the next run is narrower: L0.N5 and w5 are gone
        screen.refresh_view()
        assert app.watched == ["L0.N1.b"] and app.control.watched == ("L0.N1.b",)
        assert screen.watch_pane.addresses == ["L0.N1.b"]


@pytest.mark.parametrize("focus", ["watches", "graph"])
async def test_footer_key_hints_fit_beside_the_palette_hint_at_160_columns(tmp_path, focus):
    from textual.widgets import Footer

    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        populate(app)
        screen = await open_inspector(pilot)
        await pilot.press("w", "n" if focus == "graph" else "l")
        await pilot.pause()
        footer = screen.query_one(Footer)
        keys = [w for w in footer.query("FooterKey") if w.display and not w.has_class("-command-palette")]
        palette = footer.query_one(".-command-palette")
        assert keys and max(k.region.right for k in keys) <= palette.region.x
        shown = {k.key for k in keys}
        assert not shown & {"s", "x", "b", "o"}  # the dashboard's own keys stay on the dashboard


async def test_a_followed_live_run_says_live_not_viewing(tmp_path):
    import json
    import time

    from core.events import to_dict
    from core.records.files import CONFIG_FILE, EVENTS_FILE

    run_dir = tmp_path / "runs" / RUN
    run_dir.mkdir(parents=True)
    (run_dir / CONFIG_FILE).write_text(CONFIG.to_json(), encoding="utf-8")
    started = RunStarted(run_id=RUN, time=time.time(), backend="scalar", device="cpu", data_source="test digits",
                         config=CONFIG.to_dict(), train_size=64, val_size=16, test_size=16, total_steps=30)
    (run_dir / EVENTS_FILE).write_text(json.dumps(to_dict(started)) + "\n", encoding="utf-8")  # fresh: live
    app = make_app(CONFIG, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        app.dashboard.open_run_dir(run_dir)  # what the runs table's "open" does
        await wait_for(pilot, lambda: app.controller.state == "viewing")
        screen = await open_inspector(pilot)
        title = text_of(screen, "#inspector-title")
        assert "· live" in title and "viewing" not in title, title


async def test_layer_statistics_are_whole_at_100_columns(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        populate(app)
        screen = await open_inspector(pilot)
        assert screen.has_class("-narrow")
        stats = screen.query_one("#layer-stats")
        svg = app.export_screenshot()
        # both layers' lines whole (wrapped between words, not cut): max|g| and the histogram's range
        assert svg.count("3.0e-02") == 2 and svg.count("1e-8..1e0") == 2
        assert stats.size.width <= screen.query_one("#inspector-tabs").size.width


async def test_the_footer_fits_whole_at_100_columns(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        populate(app)
        screen = await open_inspector(pilot)
        assert cut_footer_keys(screen) == []
        await pilot.press("n")  # the graph view adds its own keys while it has the focus
        await pilot.pause()
        assert screen.query_one("#inspector-tabs").active == "graph-tab"
        assert cut_footer_keys(screen) == []


async def test_the_inspector_is_kept_between_openings_and_catches_up_when_opened_again(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        populate(app, watched=("L0.N5.b", "L0.N1.b", "L1.N9.w5"))
        first = await open_inspector(pilot)
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectorScreen)
        # while it is away a narrower run starts: nothing redraws the hidden inspector (its timer is paused) ...
        app.controller.config = CONFIG.replace(hidden=(4,))
        app.history.add(RunStarted(run_id="next-run", time=0.0, backend="scalar", device="cpu", data_source="t",
                                   config=CONFIG.replace(hidden=(4,)).to_dict(), train_size=1, val_size=1,
                                   test_size=1))
        await pilot.pause(0.6)
        assert first.watch_pane.addresses == ["L0.N5.b", "L0.N1.b", "L1.N9.w5"]
        await pilot.press("i")
        await pilot.pause()
        again = app.screen
        assert again is first  # kept, not composed anew
        # ... and opening it again catches up at once: the watches the new shape lacks are dropped
        assert again.watch_pane.addresses == ["L0.N1.b"] and app.watched == ["L0.N1.b"]
        assert again.focused is again.watch_pane.table  # letters are keys again: one i goes back
        await pilot.press("i")
        assert not isinstance(app.screen, InspectorScreen)


def shown_lines(widget) -> list[str]:
    """The widget's lines as drawn on the screen (its padding included, trailing blanks stripped)."""
    from textual.geometry import Region

    return [strip.text.rstrip() for strip in widget.render_lines(Region(0, 0, *widget.outer_size))]


async def test_every_watch_table_column_is_whole_at_100_columns(tmp_path):
    from tui.inspector.watch import COMPACT_COLUMNS, COMPACT_PLACEHOLDER, short

    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        populate(app, watched=("L0.N1.w24", "L0.N1.b", "L1.N4.z", "L0.N5.a", "loss"))
        screen = await open_inspector(pilot)
        table = screen.watch_pane.table
        columns = [str(c.label) for c in table.ordered_columns]
        assert columns == list(COMPACT_COLUMNS)  # the highlighted scalar's sparklines stay below the table
        widths = sum(c.get_render_width(table) for c in table.ordered_columns)
        assert widths <= table.scrollable_content_region.width and not table.scrollbars_enabled[1]
        for column in columns:  # each heading whole in what the table shows
            assert column in shown_lines(table)[0], column
        last = app.history.current.watches["L0.N1.w24"]
        row = [str(cell) for cell in table.get_row("L0.N1.w24")]
        assert row == ["L0.N1.w24", short(last.latest.data), short(last.latest.grad), short(last.update)]
        field = screen.query_one("#address-input", Input)
        assert field.placeholder == COMPACT_PLACEHOLDER and len(field.placeholder) <= field.content_size.width
        table.move_cursor(row=3)
        await pilot.resize_terminal(160, 45)  # wide again: the full table, the same scalar highlighted
        await wait_for(pilot, lambda: len(table.ordered_columns) == 6)
        assert screen.watch_pane.selected == "L0.N5.a"
        assert [str(cell) for cell in table.get_row("L0.N1.w24")][:4] == [
            "L0.N1.w24", fmt(last.latest.data), fmt(last.latest.grad), fmt(last.update)]
        assert not table.scrollbars_enabled[1] and "loss (enter adds)" in field.placeholder


def test_short_numbers_fit_in_8_characters():
    from tui.inspector.watch import short

    for v in (0.0, 1.0, -1.0, 0.012345, -0.0098765, 123.456, -999.4, 1234.5, -98765.4, 3.015e-05, -1.58e-4,
              -2.5e-9, 1e-3, 0.1, 42.0, 999.7, -0.0099996):
        text = short(v)
        assert len(text) <= 8, (v, text)
        assert math.isclose(float(text), v, rel_tol=6e-3), (v, text)
    assert (short(float("nan")), short(float("inf")), short(-2.99e-5), short(0.0326)) == ("nan", "inf", "-2.99e-5",
                                                                                          "0.0326")


async def test_layer_statistics_lines_break_between_facts_at_100_columns(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        populate(app)
        screen = await open_inspector(pilot)
        stats = screen.query_one("#layer-stats")
        lines = shown_lines(stats)
        facts = ["L0 49→6", "mean 1.0e-04", "std 2.0e-03", "max|g| 3.0e-02", "└ dead 25%", "upd/w 1.2e-03",
                 "|g| ·▁▃▆█▅▂▁", "1e-8..1e0", "L1 6→10", "mean 2.0e-04", "└ dead n/a"]
        for fact in facts:  # every fact whole on one line
            assert any(fact in line for line in lines), (fact, lines)
        for line in lines:  # no line ends in a joiner or a heading whose value went to the next line
            assert not line.endswith(("·", "|g|", "max|g|", "upd/w", "mean", "std", "dead")), lines
        assert len(lines) == 8  # two layers: four lines each, nothing wrapped by the widget itself
        title = shown_lines(screen.query_one("#heatmap-title"))
        assert title[0].strip() == "L0.N1: weights from 49 pixels" and title[1].strip() == "(7×7) · blue < 0 < red"
        detail = shown_lines(screen.query_one("#watch-detail"))
        assert any("grad -0.08391" in line for line in detail) and any("(30 reports)" in line for line in detail)
        assert any("live now (step 30): data" in line for line in detail)


async def test_gradient_check_lines_break_between_facts_at_100_columns(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        populate(app, watched=("L0.N1.b",))
        screen = await open_inspector(pilot)
        await pilot.press("g")
        pane = screen.query_one("#gradcheck")
        await wait_for(pilot, lambda: "PASS" in text_of(screen, "#gradcheck"))
        check = pane.checks[-1]
        lines = str(pane.render()).splitlines()  # all of them (the pane may be shorter than its text here)
        facts = check.line().split("  ")  # "PASS L0.N1.b: engine …", "finite-diff …", "torch n/a", "rel.err …", …
        lines = lines[1:]  # under the title (prose, wrapped between words)
        assert len(lines) > 1 and all(len(line) <= pane.content_size.width for line in lines), lines
        for fact in facts:
            assert any(fact in line for line in lines), (fact, lines)


async def test_the_graph_nodes_lines_break_between_phrases_at_100_columns(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        model = populate(app)
        screen = await open_inspector(pilot)
        screen.watch_pane.table.move_cursor(row=2)  # L1.N4.z
        await pilot.press("w", "n")
        await pilot.pause()
        node = model.resolve("L1.N4.z")
        head = screen.query_one("#graph-node")
        lines = [line.strip() for line in shown_lines(head)]
        for phrase in (f"L1.N4.z · dot · data {node.data:.6g}", f"grad {node.grad:.6g}", "backspace: back (0)",
                       "r: the loss", "191 nodes (this sample)"):
            assert any(phrase in line for line in lines), (phrase, lines)
        assert not any(line.endswith(("·", ":", "data", "grad", "back")) for line in lines), lines


def test_the_header_keeps_step_and_status_whole_when_the_terminal_is_narrow():
    from tui.inspector.screen import title_text

    facts = ("scalar", "196-64-32-10", "20261203-154940-scalar-0d3eb2", 647, "training")
    full = "Gradient inspector · scalar · 196-64-32-10 · run 20261203-154940-scalar-0d3eb2 · step 647 · training"
    assert title_text(*facts, 160) == full
    assert title_text(*facts, 98) == "scalar · 196-64-32-10 · run 20261203-154940-scalar-0d3eb2 · step 647 · training"
    assert title_text(*facts, 70) == "scalar · 196-64-32-10 · run …scalar-0d3eb2 · step 647 · training"
    idle = title_text("scalar", "49-8-10", None, None, "idle", 98)
    assert idle == "Gradient inspector · scalar · 49-8-10 · no run yet · idle"


async def test_the_header_fits_100_columns(tmp_path):
    app = make_app(CONFIG, runs_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        populate(app)
        screen = await open_inspector(pilot)
        title = text_of(screen, "#inspector-title")
        assert len(title) <= 98 and title.endswith(screen.shown_state()), title
