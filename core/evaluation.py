"""Evaluation of a split from one forward pass: confusion matrix, per-class precision/recall, worst mistakes.

Both backends call `evaluate_predictions` with the softmax probabilities of the same forward pass that gave
the validation/test loss, so the numbers are defined once. Definitions:

- predicted class = argmax of the probabilities (ties go to the lower class index, as `numpy.argmax`);
- confusion[t][p] = how many samples of true class t were predicted as p (rows true, columns predicted);
- accuracy = trace / sum (0.0 for an empty split);
- precision[k] = confusion[k][k] / column k's sum, recall[k] = confusion[k][k] / row k's sum; when the
  denominator is 0 (class k never predicted, or absent from the split) the value is 0.0, never NaN, so
  records stay plain JSON and a class nobody predicts reads as "no correct predictions";
- mistakes: misclassified samples as (index into the split, true, predicted, confidence of the
  prediction), most confident first, ties by index, at most `MAX_MISTAKES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from core.events import Evaluation

CLASSES = 10
MAX_MISTAKES = 200
TRUE_PRED = "true\\pred"


@dataclass(frozen=True)
class EvaluationResult:
    """Loss-independent evaluation of one split (same fields as the Evaluation event, minus loss)."""

    accuracy: float
    confusion: tuple[tuple[int, ...], ...]  # 10x10, rows true, columns predicted
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    mistakes: tuple[tuple[int, int, int, float], ...]  # (index, true, predicted, confidence)

    @property
    def count(self) -> int:
        """Samples evaluated (the confusion matrix's sum)."""
        return sum(map(sum, self.confusion))

    def to_event(self, run_id: str, step: int, epoch: int, split: str, loss: float) -> Evaluation:
        """The Evaluation event for this result."""
        return Evaluation(run_id=run_id, step=step, epoch=epoch, split=split, loss=float(loss),
                          accuracy=self.accuracy, confusion=self.confusion, precision=self.precision,
                          recall=self.recall, mistakes=self.mistakes)


def evaluate_predictions(probabilities: np.ndarray, labels: np.ndarray) -> EvaluationResult:
    """Confusion, precision, recall, accuracy and the most confident mistakes of (n, 10) probabilities."""
    probs = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(labels)
    if probs.ndim != 2 or probs.shape[1] != CLASSES:
        raise ValueError(f"probabilities must have shape (n, {CLASSES}), got {probs.shape}")
    if truth.shape != (probs.shape[0],):
        raise ValueError(f"labels must have shape ({probs.shape[0]},), got {truth.shape}")
    truth = truth.astype(np.int64)
    if truth.size and (truth.min() < 0 or truth.max() >= CLASSES):
        raise ValueError(f"labels must lie in 0..{CLASSES - 1}")
    predicted = probs.argmax(axis=1) if probs.shape[0] else np.zeros(0, dtype=np.int64)
    confusion = np.zeros((CLASSES, CLASSES), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    diagonal = np.diag(confusion).astype(np.float64)
    total = int(confusion.sum())
    accuracy = float(diagonal.sum() / total) if total else 0.0

    wrong = np.flatnonzero(predicted != truth)
    confidence = probs[wrong, predicted[wrong]] if wrong.size else np.zeros(0)
    order = np.lexsort((wrong, -confidence))[:MAX_MISTAKES]  # last key is primary: confidence descending
    mistakes = tuple((int(wrong[i]), int(truth[wrong[i]]), int(predicted[wrong[i]]), float(confidence[i]))
                     for i in order)
    return EvaluationResult(
        accuracy=accuracy,
        confusion=tuple(tuple(int(c) for c in row) for row in confusion),
        precision=_ratios(diagonal, confusion.sum(axis=0)),
        recall=_ratios(diagonal, confusion.sum(axis=1)),
        mistakes=mistakes,
    )


def _ratios(hits: np.ndarray, totals: np.ndarray) -> tuple[float, ...]:
    return tuple(float(h / t) if t else 0.0 for h, t in zip(hits, totals, strict=True))


class HasConfusion(Protocol):
    """An EvaluationResult or an Evaluation event."""

    confusion: Sequence[Sequence[int]]
    precision: Sequence[float]
    recall: Sequence[float]
    accuracy: float


def format_confusion(result: HasConfusion | Any, title: str = "") -> list[str]:
    """Plain-text confusion matrix (rows true, columns predicted) with recall per row and precision below."""
    lines = [title] if title else []
    lines.append(f"{TRUE_PRED:>9} " + "".join(f"{k:>6}" for k in range(CLASSES)) + " | recall")
    for t, row in enumerate(result.confusion):
        lines.append(f"{t:>9} " + "".join(f"{c:>6}" for c in row) + f" | {result.recall[t]:6.1%}")
    lines.append(f"{'precision':>9} " + "".join(f"{p:>6.0%}" for p in result.precision)
                 + f" | accuracy {result.accuracy:.2%}")
    return lines
