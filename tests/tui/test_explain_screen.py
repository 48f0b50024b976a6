"""The explain screen: stepping with keys on both backends, from the inspector, the digits screen, and mid-run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from textual.app import App
from waiting import wait_for

import tui.explain.screen as explain_screen
from core.backends import load_probe
from core.explain import explain, network_from_probe
from core.records.runs import open_run
from tui.app import make_app
from tui.digits import DigitsScreen
from tui.explain import Digits, ExplainScreen, ModelSource
from tui.inspector import InspectorScreen

SIZE = (160, 45)


def source_of(run: Path) -> ModelSource:
    probe, config = load_probe(run), open_run(run).config
    return ModelSource(lambda: probe, lambda: config, lambda: run.name)


class Host(App[None]):
    """A bare app that opens one screen, as the inspector and the digits screen do."""

    def __init__(self, screen) -> None:
        super().__init__()
        self.first = screen

    def on_mount(self) -> None:
        self.push_screen(self.first)


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


@pytest.mark.parametrize("backend", ["scalar", "lightning"])
async def test_step_back_play_and_the_result(backend, trained_runs, tiny_data, monkeypatch):
    monkeypatch.setattr(explain_screen, "PLAY_S", 0.02)
    run = trained_runs[backend]
    val = tiny_data.val
    screen = ExplainScreen(source_of(run), "L1.N2.w3", Digits(val.images, val.labels, tiny_data.side, "val", 3))
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: screen.explanation is not None)
        e = screen.explanation
        config = open_run(run).config
        expected = explain(network_from_probe(load_probe(run), config.activation, config.loss),
                           "L1.N2.w3", val.images[3].tolist(), int(val.labels[3]))
        assert e.gradient == expected.gradient and e.label == int(val.labels[3])
        assert f"label {e.label}" in text(screen, "#explain-title") and "val digit 3" in text(screen, "#explain-title")
        assert screen.position == 0 and "▶  1. input" in text(screen, "#explain-steps")
        await pilot.press("right", "right")
        assert screen.position == 2
        assert f"▶  3. {e.steps[2].node}" in text(screen, "#explain-steps")
        assert "▶ L1" in text(screen, "#explain-path")  # the path marks the layer the walk is in
        await pilot.press("left")
        assert screen.position == 1
        await pilot.press("end")
        assert screen.position == len(e.steps)
        result = text(screen, "#explain-steps")
        own = "the engine's backward pass" if backend == "scalar" else "torch autograd (float32)"
        assert "the walk" in result and own in result and "central finite difference" in result
        await pilot.press("home")
        assert screen.position == 0
        await pilot.press("space")  # play: one step at a time to the end, then it stops
        assert screen.playing or screen.position == len(e.steps)
        await wait_for(pilot, lambda: screen.position == len(e.steps))
        await wait_for(pilot, lambda: not screen.playing)
        await pilot.press("right")
        assert screen.position == len(e.steps)  # the end stays the end
        await pilot.press("]")  # the next digit of the split
        await wait_for(pilot, lambda: screen.explanation is not None and screen.digits.index == 4
                       and screen.explanation.label == int(val.labels[4]))
        await pilot.press("a")
        field = screen.query_one("#explain-address")
        field.value = "L0.N1.b"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.explanation is not None and screen.explanation.address == "L0.N1.b")
        await pilot.press("escape")
        assert not isinstance(app.screen, ExplainScreen)


async def test_a_bad_address_is_one_line_in_the_title(trained_runs, tiny_data):
    val = tiny_data.val
    screen = ExplainScreen(source_of(trained_runs["scalar"]), "L1.N9.w3", Digits(val.images, val.labels, 7, "val", 0))
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(screen.problem))
        assert "neuron 9 does not exist" in text(screen, "#explain-title")


async def test_from_the_digits_screen_on_a_grid_digit_and_on_the_canvas(trained_runs, tiny_data):
    run = trained_runs["scalar"]
    probe, config = load_probe(run), open_run(run).config
    digits = DigitsScreen(lambda: probe, tiny_data, config=lambda: config, watched=lambda: ["loss", "L1.N0.w5"])
    app = Host(digits)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: digits.grid.live.known().any())
        await pilot.press("right", "enter")  # the second digit of the grid
        await wait_for(pilot, lambda: isinstance(app.screen, ExplainScreen) and app.screen.explanation is not None)
        e = app.screen.explanation
        assert e.address == "L1.N0.w5"  # the first watched parameter
        assert app.screen.digits.index == digits.grid.selected_index() == 1 and e.label == int(tiny_data.val.labels[1])
        await pilot.press("escape")
        await pilot.press("w", "space", "enter")  # a dot on the canvas
        await wait_for(pilot, lambda: isinstance(app.screen, ExplainScreen) and app.screen.explanation is not None)
        screen = app.screen
        assert screen.digits.name == "canvas" and "the digit drawn" in text(screen, "#explain-title")
        assert screen.explanation.label == screen.explanation.prediction  # no label: the network's own answer
        other = (screen.explanation.label + 1) % 10
        await pilot.press(str(other))  # 0-9 chooses the label
        await wait_for(pilot, lambda: screen.explanation is not None and screen.explanation.label == other)


@pytest.mark.parametrize("backend", ["scalar", "lightning"])
async def test_from_the_inspector_while_a_run_trains(backend, tmp_path, tiny_config):
    config = tiny_config.replace(backend=backend, hidden=(8, 6), epochs=10000, train_subset=48)  # the test stops it
    app = make_app(config, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.controller.data is not None and app.controller.probe() is not None
                       and app.history.current is not None and app.history.current.step > 0, timeout=60)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectorScreen))
        inspector = app.screen
        assert inspector.add_watch("L1.N3.w2")  # typing it is tested in test_inspector.py (slow beside a run)
        inspector.watch_pane.table.focus()
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExplainScreen) and app.screen.explanation is not None,
                       timeout=60)
        screen = app.screen
        first = screen.explanation
        assert first.address == "L1.N3.w2" and first.backend == backend
        assert app.controller.state == "running"  # the run goes on
        rel = 1e-9 if backend == "scalar" else 1e-5  # torch's own autograd in float32
        assert first.gradient == pytest.approx(first.own, rel=rel, abs=1e-7)
        await wait_for(pilot, lambda: app.controller.probe().step() > first.step, timeout=60)
        await pilot.press("r")  # the weights again, at a later step
        await wait_for(pilot, lambda: screen.explanation is not None and screen.explanation.step > first.step,
                       timeout=60)
        await pilot.press("right", "right", "right")
        assert screen.position == 3
        await pilot.press("escape", "escape", "x")
        await wait_for(pilot, lambda: app.controller.state != "running", timeout=60)
        assert np.isfinite(screen.explanation.gradient)
