"""core.evaluation: exact values on tiny hand-built cases."""

from __future__ import annotations

import numpy as np
import pytest

from core.evaluation import MAX_MISTAKES, evaluate_predictions, format_confusion
from core.records.jsonl import from_json, to_json


def one_hot_probs(predicted: list[int], confidence: list[float] | None = None) -> np.ndarray:
    """Rows whose argmax is `predicted`, with that class at `confidence` and the rest spread evenly."""
    confidence = confidence or [0.9] * len(predicted)
    probs = np.zeros((len(predicted), 10))
    for i, (p, c) in enumerate(zip(predicted, confidence, strict=True)):
        probs[i, :] = (1.0 - c) / 9
        probs[i, p] = c
    return probs


# true:      0  0  1  1  1  2  3  3   (class 4..9 absent; class 3 never predicted)
# predicted: 0  1  1  1  0  2  2  0
TRUE = [0, 0, 1, 1, 1, 2, 3, 3]
PRED = [0, 1, 1, 1, 0, 2, 2, 0]
CONF = [0.9, 0.6, 0.8, 0.7, 0.95, 0.5, 0.6, 0.4]


def small_result():
    return evaluate_predictions(one_hot_probs(PRED, CONF), np.array(TRUE))


def test_confusion_rows_true_columns_predicted():
    r = small_result()
    assert r.confusion[0][:4] == (1, 1, 0, 0)
    assert r.confusion[1][:4] == (1, 2, 0, 0)
    assert r.confusion[2][:4] == (0, 0, 1, 0)
    assert r.confusion[3][:4] == (1, 0, 1, 0)
    assert all(row[4:] == (0,) * 6 for row in r.confusion)
    assert all(r.confusion[k] == (0,) * 10 for k in range(4, 10))
    assert r.count == 8


def test_accuracy_is_trace_over_sum():
    assert small_result().accuracy == 4 / 8


def test_precision_and_recall_with_zero_denominators():
    r = small_result()
    # precision: column sums 3, 3, 2, 0 -> hits 1, 2, 1, 0; class 3 never predicted -> 0.0
    assert r.precision[:4] == (1 / 3, 2 / 3, 1 / 2, 0.0)
    # recall: row sums 2, 3, 1, 2; classes 4..9 absent -> 0.0
    assert r.recall[:4] == (1 / 2, 2 / 3, 1.0, 0.0)
    assert r.precision[4:] == (0.0,) * 6 and r.recall[4:] == (0.0,) * 6


def test_mistakes_most_confident_first():
    r = small_result()
    # wrong: idx1 (0->1, .6), idx4 (1->0, .95), idx6 (3->2, .6), idx7 (3->0, .4); .6 tie broken by index
    assert [m[:3] for m in r.mistakes] == [(4, 1, 0), (1, 0, 1), (6, 3, 2), (7, 3, 0)]
    assert [m[3] for m in r.mistakes] == pytest.approx([0.95, 0.6, 0.6, 0.4])
    assert all(isinstance(v, int) for m in r.mistakes for v in m[:3])


def test_ties_in_probability_pick_the_lower_class():
    probs = np.full((1, 10), 0.1)
    r = evaluate_predictions(probs, np.array([3]))
    assert r.confusion[3][0] == 1 and r.mistakes == ((0, 3, 0, 0.1),)


def test_mistakes_capped_at_200_keeping_the_most_confident():
    n = MAX_MISTAKES + 50
    conf = [0.2 + 0.7 * i / n for i in range(n)]  # later indices are more confident
    r = evaluate_predictions(one_hot_probs([1] * n, conf), np.zeros(n, dtype=np.int64))
    assert len(r.mistakes) == MAX_MISTAKES
    assert r.mistakes[0][0] == n - 1 and r.mistakes[-1][0] == n - MAX_MISTAKES
    assert r.accuracy == 0.0 and r.confusion[0][1] == n


def test_all_right_and_empty():
    r = evaluate_predictions(one_hot_probs(list(range(10))), np.arange(10))
    assert r.accuracy == 1.0 and r.mistakes == ()
    assert r.precision == (1.0,) * 10 and r.recall == (1.0,) * 10
    empty = evaluate_predictions(np.zeros((0, 10)), np.zeros(0, dtype=np.int64))
    assert empty.accuracy == 0.0 and empty.count == 0 and empty.mistakes == ()


@pytest.mark.parametrize("probs, labels", [
    (np.zeros((3, 9)), np.zeros(3)),
    (np.zeros((3, 10)), np.zeros(2)),
    (np.zeros((1, 10)), np.array([10])),
    (np.zeros((1, 10)), np.array([-1])),
])
def test_bad_shapes_and_labels_are_value_errors(probs, labels):
    with pytest.raises(ValueError):
        evaluate_predictions(probs, labels)


def test_to_event_carries_every_field():
    r = small_result()
    e = r.to_event("run-1", step=12, epoch=2, split="val", loss=0.5)
    assert (e.run_id, e.step, e.epoch, e.split, e.loss) == ("run-1", 12, 2, "val", 0.5)
    assert e.confusion == r.confusion and e.precision == r.precision and e.recall == r.recall
    assert e.mistakes == r.mistakes and e.accuracy == 0.5
    assert from_json(to_json(e)) == e  # survives the record: nested tuples come back as tuples


def test_format_confusion_lines():
    lines = format_confusion(small_result(), title="val")
    assert lines[0] == "val"
    assert lines[1].split()[:3] == ["true\\pred", "0", "1"] and lines[1].endswith("| recall")
    assert lines[2].split() == ["0", "1", "1", *["0"] * 8, "|", "50.0%"]
    assert lines[5].split() == ["3", "1", "0", "1", *["0"] * 7, "|", "0.0%"]
    assert lines[-1].split()[:5] == ["precision", "33%", "67%", "50%", "0%"]
    assert lines[-1].endswith("accuracy 50.00%")
    assert len(lines) == 1 + 1 + 10 + 1
