"""The plots draw plotext's matrix as Strips directly: cell for cell what plotext's own ANSI output would show."""

from __future__ import annotations

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult

from tui.widgets.plots import CurvePlot


class PlotApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CurvePlot(id="plot")


def cells_of_ansi(ansi: str, width: int) -> list[list[tuple[str, Style]]]:
    """Each line of plotext's ANSI figure as (character, style) cells, as Rich parses it (textual-plotext's way)."""
    console = Console(width=width, color_system="truecolor", legacy_windows=False)
    lines = []
    for line in Text.from_ansi(ansi).split("\n"):
        cells = []
        for segment in line.render(console):
            cells += [(char, segment.style or Style.null()) for char in segment.text]
        lines.append(cells)
    return lines


def cells_of_strip(segments: list[Segment]) -> list[tuple[str, Style]]:
    return [(char, segment.style or Style.null()) for segment in segments for char in segment.text]


def seen(cells: list[tuple[str, Style]]) -> list[tuple[str, Style]]:
    """What a terminal shows of each cell: a blank shows only its background."""
    return [(char, Style(bgcolor=style.bgcolor) if char == " " else style) for char, style in cells]


async def test_matrix_strips_match_plotexts_ansi_output_cell_for_cell():
    app = PlotApp()
    async with app.run_test(size=(70, 18)) as pilot:
        plot = app.query_one(CurvePlot)
        plt = plot.plt
        plt.plot([0, 1, 2, 3, 4, 5], [3.0, 1.0, 2.5, 0.5, 0.7, 0.2], color=(80, 170, 255), marker="braille")
        plt.scatter([1, 3, 5], [2.0, 1.0, 0.4], color=(255, 160, 40), marker="•")
        plt.vline(2.5, color=(70, 70, 70))
        plt.title("loss")
        plt.xlabel("step")
        plot.generation += 1
        plot.refresh()
        await pilot.pause()
        strips = plot.build_strips(Style())
        expected = cells_of_ansi(plt.build(), plot.size.width)  # the same figure, the same size: the old path
        assert len(strips) == plot.size.height
        drawn = [cells_of_strip(list(strip)) for strip in strips]
        assert [[c for c, _ in line] for line in drawn] == [[c for c, _ in line] for line in expected[:len(drawn)]]
        assert drawn == [seen(line) for line in expected[:len(drawn)]]
        assert any(style.color is not None and style.color.triplet == (80, 170, 255)
                   for line in drawn for _, style in line)  # the colours came through, not only the characters
