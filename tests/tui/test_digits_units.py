"""Digits screen logic without a terminal: brush values, selection and filters, confusion cells, rendering."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tui.digits.brush import Surface
from tui.digits.render import SHADES, bar, count_colour, count_level, heat, top3
from tui.digits.screen import resize
from tui.digits.selection import Filter, LivePredictions, cell_indices, select


def test_keyboard_stamp_exact_values():
    s = Surface(28)
    s.stamp(10.5, 5.5)  # centre of pixel (row 5, col 10)
    assert s.pixels[5, 10] == 1.0
    assert s.pixels[4, 10] == s.pixels[6, 10] == s.pixels[5, 9] == s.pixels[5, 11] == 0.75
    assert s.pixels[4, 9] == pytest.approx(1 - (math.sqrt(2) - 0.75))
    assert s.pixels[5, 12] == 0.0 and s.pixels[3, 10] == 0.0
    assert np.count_nonzero(s.pixels) == 9


def test_stamps_keep_the_darker_ink_and_erase_lowers_it():
    s = Surface(28)
    s.stamp(10.5, 5.5)
    s.stamp(11.5, 5.5)
    assert s.pixels[5, 10] == 1.0 and s.pixels[5, 11] == 1.0  # max, not a sum above 1
    s.stamp(10.5, 5.5, erase=True)
    assert s.pixels[5, 10] == 0.0 and s.pixels[5, 11] == 0.25  # min(1, 1 - 0.75)


def test_stroke_leaves_no_gaps():
    s = Surface(28)
    s.stroke(2.5, 14.5, 25.5, 14.5)
    assert (s.pixels[14, 2:26] == 1.0).all()


def test_downsampled_is_the_block_mean_and_load_enlarges():
    s = Surface(28)
    s.pixels[0:2, 0:2] = [[1.0, 0.5], [0.0, 0.5]]
    small = s.downsampled(14)
    assert small.shape == (196,) and small[0] == 0.5 and small[1] == 0.0
    assert s.downsampled(7)[0] == 2.0 / 16
    s.load(np.arange(196) / 196, 14)
    assert s.pixels[0, 0] == s.pixels[1, 1] == 0.0 and s.pixels[0, 2] == s.pixels[1, 3] == 1 / 196


def live_from(predicted: list[int], confidence: list[float]) -> LivePredictions:
    live = LivePredictions(len(predicted))
    rows = []
    for p, c in zip(predicted, confidence, strict=True):
        row = [(1 - c) / 9] * 10
        row[p] = c
        rows.append(row)
    live.update(range(len(predicted)), rows, step=3)
    return live


LABELS = np.array([3, 1, 3, 7, 3, 1])


def test_filters_and_sorts():
    live = live_from([3, 7, 5, 7, 3, 1], [0.9, 0.8, 0.6, 0.95, 0.5, 0.7])
    assert select(LABELS, live, Filter("all")) == [0, 1, 2, 3, 4, 5]
    assert select(LABELS, live, Filter("digit", digit=3)) == [0, 2, 4]
    assert select(LABELS, live, Filter("mistakes")) == [1, 2]  # live mistakes, index order
    # recorded mistakes first, in the record's order, but not those the model now gets right (4 is a 3 → 3)
    assert select(LABELS, live, Filter("mistakes", recorded=(4, 2))) == [2, 1]
    assert select(LABELS, LivePredictions(6), Filter("mistakes", recorded=(4, 2))) == [4, 2]  # none answered yet
    assert Filter("mistakes").describe() == "mistakes now"
    assert select(LABELS, live, Filter("all"), "most confident") == [3, 0, 1, 5, 2, 4]
    assert select(LABELS, live, Filter("digit", digit=3), "least confident") == [4, 2, 0]
    assert select(LABELS, live, Filter("cell", cell=(3, 5), recorded=(2,))) == [2]


def test_unknown_predictions_sort_last_and_are_not_mistakes():
    live = LivePredictions(3)
    live.update([1], [[0.0] * 9 + [1.0]], step=1)
    labels = np.array([0, 0, 0])
    assert select(labels, live, Filter("mistakes")) == [1]
    assert select(labels, live, Filter("all"), "least confident") == [1, 0, 2]


def test_next_batch_visible_page_first_then_a_sweep():
    live = LivePredictions(10)
    assert live.next_batch([4, 5], step=1, sweep=3) == [4, 5, 0, 1, 2]
    live.update([4, 5, 0, 1, 2], [[0.1] * 10] * 5, step=1)
    assert live.next_batch([4, 5], step=1, sweep=3) == [3, 6, 7]
    assert live.next_batch([4, 5], step=2, sweep=0) == [4, 5]  # a new model step: the page is stale again


CONFUSION = [[0] * 10 for _ in range(10)]
CONFUSION[3][3], CONFUSION[3][5], CONFUSION[1][7] = 2, 1, 1


def test_cell_indices_off_and_on_the_diagonal():
    mistakes = [(2, 3, 5, 0.6), (1, 1, 7, 0.8)]
    assert cell_indices(CONFUSION, mistakes, LABELS, 3, 5) == ((2,), True)
    assert cell_indices(CONFUSION, mistakes, LABELS, 1, 7) == ((1,), True)
    assert cell_indices(CONFUSION, mistakes, LABELS, 3, 3) == ((0, 4), True)  # the 3s minus the mistaken one
    assert cell_indices(CONFUSION, mistakes, LABELS, 0, 0) == ((), True)
    assert cell_indices(CONFUSION, [], LABELS, 3, 5) == ((), False)  # cut off by the 200-mistake cap


def test_resize_pools_and_refuses_non_divisors():
    images = np.arange(2 * 196, dtype=np.float64).reshape(2, 196)
    assert resize(images, 14, 7)[0, 0] == np.mean([0, 1, 14, 15])
    assert resize(images, 14, 14) is images and resize(images, 14, 28) is None


def test_bar_and_top3_and_heat():
    assert bar(0.5, 4) == "██  " and bar(1 / 16, 2) == "▏ " and bar(0, 3) == "   "
    probs = np.array([0.05, 0.6, 0.0, 0.25, 0, 0, 0, 0.1, 0, 0])
    assert top3(probs, 14).plain.split()[0].startswith("1") and top3(probs).plain.count("3") == 1
    rgb = heat(np.array([[2.0, -2.0, 0.0, 0.5]]))
    assert tuple(rgb[0, 0]) == (255, 60, 0) and tuple(rgb[0, 1]) == (0, 60, 255) and tuple(rgb[0, 2]) == (0, 0, 0)
    assert rgb[0, 3, 0] == int(255 * 0.5)  # sqrt(0.5 / 2)


def test_count_level_is_exact_at_its_boundaries():
    # log(3)/log(9) is exactly 1/2: level 8 of 16, however a machine's log1p rounds
    assert count_level(2, 8) == SHADES // 2
    assert count_level(0, 8) == 0 and count_level(8, 8) == SHADES and count_level(9, 8) == SHADES
    assert count_level(1, 1) == SHADES and count_level(1, 0) == SHADES  # largest 0 counts as 1
    # 16 * log(2)/log(1001) = 1.6055...: rounds to 2; log(2)/log(2**16 * 4) * 16 = 16/18 = 0.888...: 1
    assert count_level(1, 1000) == 2 and count_level(1, 2**18 - 1) == 1
    # exactly half-way between levels: 16 * log(2)/log(2**32) = 0.5 rounds up to 1, just below it to 0
    assert count_level(1, 2**32 - 1) == 1 and count_level(1, 2**32) == 0
    for count in range(0, 50):
        exact = 0 if count == 0 else round(SHADES * math.log1p(count) / math.log1p(49))
        assert abs(count_level(count, 49) - exact) <= 0, count  # no half-way cases here: libm agrees


def test_count_colour_is_integer_rounded():
    assert count_colour(0, 8, True).color.name == "#5a5a5a"
    half = count_colour(2, 8, False)  # 20 + (200-20)/2 = 110, (60-20)/2+20 = 40, (50-20)/2+20 = 35
    assert half.bgcolor.triplet.hex == "#6e2823" and half.color.triplet.hex == "#ffffff"
    assert count_colour(8, 8, True).bgcolor.triplet.hex == "#28aa3c"  # the full diagonal colour
    dim = count_colour(1, 1000, True)  # level 2: 20 + 20*2/16 = 22.5 -> 23 (half up), 20 + 150/8 -> 39, 25
    assert dim.bgcolor.triplet.hex == "#172719" and dim.color.triplet.hex == "#dddddd"
    # the text turns white from level 6 (6/16 > 0.35) and not at level 5
    first = {count_level(c, 1000): c for c in range(999, 0, -1)}  # the smallest count of each level
    assert count_colour(first[6], 1000, False).color.triplet.hex == "#ffffff"
    assert count_colour(first[5], 1000, False).color.triplet.hex == "#dddddd"
