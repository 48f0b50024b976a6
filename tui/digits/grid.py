"""The prediction grid: a page of digits, each with its true label, the model's answer and top-3 bars."""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

from tui.digits.render import (
    BOLD,
    GREY_TEXT,
    REVERSE,
    RIGHT,
    WRONG,
    ImageRow,
    Item,
    Picture,
    Piece,
    grey,
    half_block_segments,
    pool,
    top3_pieces,
    upscale,
)
from tui.digits.selection import SORTS, Filter, LivePredictions, select

# Parsed once (not per tile per frame).
LABEL_RIGHT, LABEL_WRONG = Style.parse(f"bold {RIGHT}"), Style.parse(f"bold {WRONG}")


def head_lines(parts: list[Piece], width: int) -> list[list[Piece]]:
    """Title parts (each but the first starting " · ") on lines of `width`, broken only between parts: a part
    that starts a line drops its " · "; only a part wider than a whole line is broken, between its words."""
    lines: list[list[Piece]] = [[]]
    used = 0
    width = width if width > 0 else 1 << 30  # not laid out yet: one line
    for text, style in parts:
        if not text:
            continue
        if not used or used + len(text) <= width:
            lines[-1].append((text, style))
            used += len(text)
            continue
        body = text.removeprefix(" ·")
        chunks = [body]
        if len(body) > width:
            chunks = [""]
            for word in body.split():
                if chunks[-1] and len(chunks[-1]) + 1 + len(word) > width:
                    chunks.append("")
                chunks[-1] += f" {word}"
        lines += [[(chunk, style)] for chunk in chunks]
        used = len(chunks[-1])
    return lines


class PredictionGrid(Widget, can_focus=True):
    """Digits of one split as half-block tiles; arrows pick a tile, keys filter, sort and page."""

    BINDINGS = [
        Binding("left", "move(-1, 0)", "tile", show=False),
        Binding("right", "move(1, 0)", "tile", show=False),
        Binding("up", "move(0, -1)", "tile", show=False),
        Binding("down", "move(0, 1)", "tile", show=False),
        Binding("pageup,comma", "page(-1)", "page", show=False),
        Binding("pagedown,full_stop", "page(1)", "page", show=False),
        Binding("a", "show_all", "all"),
        Binding("x", "show_mistakes", "mistakes"),
        Binding("s", "cycle_sort", "sort"),
        Binding("z", "zoom", "zoom"),
        Binding("e", "edit", "draw on it"),
    ]
    DEFAULT_CSS = "PredictionGrid { height: 1fr; width: 1fr; }"
    # Tiles are pictures, not text: drawn as plain segments (no per-cell selection offsets), so not selectable.
    ALLOW_SELECT = False

    class Picked(Message):
        """The user wants this digit on the canvas."""

        def __init__(self, image: np.ndarray, side: int, label: int) -> None:
            super().__init__()
            self.image, self.side, self.label = image, side, label

    def __init__(self, images: np.ndarray, labels: np.ndarray, side: int, *, split: str = "val",
                 live: LivePredictions | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.images, self.labels, self.side, self.split = images, labels, side, split
        self.live = live or LivePredictions(len(labels))
        self.filter = Filter()
        self.mistakes: tuple[int, ...] = ()  # the latest recorded evaluation's mistakes on this split
        self.sort = SORTS[0]
        self.zoomed = False
        self.page = 0
        self.selected = 0  # position on the page
        self.step = -1  # the model step of the newest answer shown
        self.note = ""  # e.g. "no model yet"
        self._order: list[int] = list(range(len(labels)))
        # Each tile's image rows as ready segments, so a page seen before is drawn by lookups only.
        self._tiles: dict[tuple[int, int, Style], list[list[Segment]]] = {}
        self._tiles_of: np.ndarray | None = None

    # ---- geometry ------------------------------------------------------------------------------------
    @property
    def tile_pixels(self) -> int:
        """Displayed image side in pixels: 14 by default (28-pixel runs pooled), doubled when zoomed."""
        base = 14
        return base * 2 if self.zoomed else base

    def layout_grid(self) -> tuple[int, int]:
        """(columns, rows) of tiles that fit under the title."""
        cols, rows, _ = self.layout()
        return cols, rows

    def layout(self) -> tuple[int, int, list[list[Piece]]]:
        """(columns, rows) of tiles and the title's lines above them: one line when it fits, else broken
        between its parts (more title lines leave fewer rows, so more pages: a longer title, checked again)."""
        px = self.tile_pixels
        tile_w, tile_h = max(px, 14) + 2, (px + 1) // 2 + 3
        cols = max(1, self.size.width // tile_w)
        for lines in range(1, 5):
            rows = max(1, (self.size.height - lines) // tile_h)
            head = self.head_lines(cols * rows)
            if len(head) <= lines:
                break
        return cols, rows, head

    def head_lines(self, page_size: int) -> list[list[Piece]]:
        """The title (what is shown, how many, which page, ...) in lines no wider than the widget."""
        total = len(self._order)
        pages = max(1, -(-total // page_size))
        parts: list[Piece] = [(f" {self.filter.describe()}", BOLD),
                              (f" · {total:,} · page {self.page + 1}/{pages}", None)]
        if self.size.width >= 60:
            parts.append((f" · order: {self.sort}", None))
            parts.append((f" · model step {self.step}" if self.step >= 0 else "", None))
        if self.note:
            parts.append((f" · {self.note}", GREY_TEXT))
        return head_lines(parts, self.size.width)

    @property
    def page_size(self) -> int:
        cols, rows = self.layout_grid()
        return cols * rows

    def order(self) -> list[int]:
        """All indices the filter keeps, in order (cached until refilter)."""
        return self._order

    def visible(self) -> list[int]:
        """Split indices on the current page."""
        size = self.page_size
        return self._order[self.page * size:(self.page + 1) * size]

    def selected_index(self) -> int | None:
        page = self.visible()
        return page[self.selected] if 0 <= self.selected < len(page) else None

    # ---- state changes ------------------------------------------------------------------------------
    def refilter(self, keep_page: bool = False) -> None:
        """Recompute which digits are shown (after a filter, sort or prediction change)."""
        flt = self.filter
        if flt.kind == "mistakes":
            flt = Filter("mistakes", recorded=self.mistakes)
        self._order = select(self.labels, self.live, flt, self.sort)
        if not keep_page:
            self.page, self.selected = 0, 0
        pages = max(1, -(-len(self._order) // max(1, self.page_size)))
        self.page = min(self.page, pages - 1)
        self.refresh()

    def set_filter(self, flt: Filter) -> None:
        self.filter = flt
        self.refilter()

    def predictions_arrived(self, step: int) -> None:
        """New answers are in `live`: redraw (re-sorting only when the order depends on them)."""
        self.step = max(self.step, step)
        if self.sort != "natural" or self.filter.kind == "mistakes":
            self.refilter(keep_page=True)
        else:
            self.refresh()

    def on_resize(self) -> None:
        self.refilter(keep_page=True)

    # ---- actions --------------------------------------------------------------------------------------
    def action_move(self, dx: int, dy: int) -> None:
        cols, _ = self.layout_grid()
        n = len(self.visible())
        target = self.selected + dx + dy * cols
        if 0 <= target < n:
            self.selected = target
        elif target >= n and self._has_page(1):
            self.action_page(1)
        elif target < 0 and self.page > 0:
            self.action_page(-1)
            self.selected = len(self.visible()) - 1
        self.refresh()

    def _has_page(self, delta: int) -> bool:
        return 0 <= (self.page + delta) * self.page_size < len(self._order)

    def action_page(self, delta: int) -> None:
        if self._has_page(delta):
            self.page += delta
            self.selected = 0
            self.refresh()

    def action_show_all(self) -> None:
        self.set_filter(Filter("all"))

    def action_show_mistakes(self) -> None:
        self.set_filter(Filter("mistakes"))

    def on_key(self, event: events.Key) -> None:
        # Digit keys filter by true digit (one handler: a binding cannot tell which digit was pressed).
        if event.character and event.character.isdigit() and len(event.character) == 1:
            event.stop()
            self.set_filter(Filter("digit", digit=int(event.character)))

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.refilter()

    def action_zoom(self) -> None:
        self.zoomed = not self.zoomed
        self.refilter()

    def action_edit(self) -> None:
        index = self.selected_index()
        if index is not None:
            self.post_message(self.Picked(self.images[index], self.side, int(self.labels[index])))

    # ---- drawing --------------------------------------------------------------------------------------
    def _tile_pixels(self, index: int) -> np.ndarray:
        pixels = self.images[index].reshape(self.side, self.side)
        px = self.tile_pixels
        if self.side > px:
            pixels = pool(pixels, self.side // px)
        elif self.side < px:
            pixels = upscale(pixels, px // self.side)
        return pixels

    def _image_side(self) -> int:
        """Side in pixels of a tile's image as `_tile_pixels` makes it."""
        px = self.tile_pixels
        if self.side > px:
            return self.side // (self.side // px)
        return self.side * (px // self.side) if self.side < px else self.side

    def _image_row(self, index: int, row: int, base: Style) -> list[Segment]:
        """One row of a tile's half-block image; a tile's rows are made once per (images, zoom, base style)."""
        key = (index, self.tile_pixels, base)
        if self._tiles_of is not self.images or len(self._tiles) > 4096:
            self._tiles, self._tiles_of = {}, self.images
        rows = self._tiles.get(key)
        if rows is None:
            pixels = self._tile_pixels(index)
            rows = self._tiles[key] = half_block_segments(grey(pixels), base)
        return rows[row]

    def _tile_label(self, index: int, width: int) -> Piece:
        true = int(self.labels[index])
        if not self.live.known()[index]:
            return f" {true}→?".ljust(width), GREY_TEXT
        probs = self.live.probs[index]
        pred = int(probs.argmax())
        ok = pred == true
        text = f"{'✓' if ok else '✗'}{true}→{pred} {probs[pred]:4.0%}".ljust(width)
        return text, LABEL_RIGHT if ok else LABEL_WRONG

    def render(self) -> Picture:
        cols, rows, head = self.layout()
        lines: list[list[Item]] = [*head]
        page = self.visible()
        known = self.live.known()
        width = max(self.tile_pixels, 14)
        image_rows = (self._image_side() + 1) // 2
        gap: Item = (" ", None)
        for r in range(rows):
            tiles = page[r * cols:(r + 1) * cols]
            if not tiles:
                break
            blocks: list[list[list[Item]]] = []
            for k, index in enumerate(tiles):
                image: list[list[Item]] = [[ImageRow(index, row, width)] for row in range(image_rows)]
                text, style = self._tile_label(index, width)
                if r * cols + k == self.selected and self.has_focus:
                    style = style + REVERSE
                bars = top3_pieces(self.live.probs[index] if known[index] else None, width)
                blocks.append([*image, [(text, style)], bars])
            for line_no in range(len(blocks[0])):
                line: list[Item] = []
                for block in blocks:
                    line += [gap, *block[line_no], gap]
                lines.append(line)
            lines.append([])
        if not page:
            lines.append([("  nothing to show for this filter", GREY_TEXT)])
        return Picture(lines, self._image_row)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
