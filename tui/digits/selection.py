"""Which digits the grid shows: live predictions of a split, filters, sorting and confusion-cell picking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

SORTS = ("natural", "most confident", "least confident")  # natural: index order, or the record's order


class LivePredictions:
    """The latest probabilities the model gave for each image of a split, and the step they came from."""

    def __init__(self, n: int) -> None:
        self.probs = np.full((n, 10), np.nan, dtype=np.float64)
        self.steps = np.full(n, -1, dtype=np.int64)
        self._sweep = 0

    def known(self) -> np.ndarray:
        """Boolean mask of rows predicted at least once."""
        return self.steps >= 0

    def predicted(self) -> np.ndarray:
        """argmax per row (-1 where unknown)."""
        out = np.full(len(self.steps), -1, dtype=np.int64)
        mask = self.known()
        out[mask] = self.probs[mask].argmax(axis=1)
        return out

    def confidence(self) -> np.ndarray:
        """Largest probability per row (NaN where unknown)."""
        return self.probs.max(axis=1)

    def update(self, indices: Sequence[int], probs: Sequence[Sequence[float]], step: int) -> None:
        """Store the model's answers for these rows."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size:
            self.probs[idx] = np.asarray(probs, dtype=np.float64).reshape(len(idx), 10)
            self.steps[idx] = step

    def next_batch(self, page: Sequence[int], step: int, sweep: int) -> list[int]:
        """Rows to predict next: the visible page where stale, then `sweep` more stale rows round-robin."""
        batch = [i for i in page if self.steps[i] != step]
        seen, extra, n = set(batch), 0, len(self.steps)
        for _ in range(n):
            if extra >= sweep:
                break
            i, self._sweep = self._sweep, (self._sweep + 1) % n
            if self.steps[i] != step and i not in seen:
                batch.append(i)
                seen.add(i)
                extra += 1
        return batch


@dataclass(frozen=True)
class Filter:
    """What the grid shows: all, mistakes, one true digit, or one confusion cell (true, predicted)."""

    kind: str = "all"  # "all" | "mistakes" | "digit" | "cell"
    digit: int = 0  # for "digit"
    cell: tuple[int, int] = (0, 0)  # for "cell"
    recorded: tuple[int, ...] = ()  # indices an Evaluation gave for this cell / its mistakes

    def describe(self) -> str:
        """A few words for the grid's title."""
        if self.kind == "digit":
            return f"true digit {self.digit}"
        if self.kind == "cell":
            t, p = self.cell
            return f"{t}s predicted as {p}" if t != p else f"{t}s predicted right"
        return {"all": "all digits", "mistakes": "mistakes now"}[self.kind]


def cell_indices(confusion: Sequence[Sequence[int]], mistakes: Sequence[Sequence], labels: np.ndarray,
                 true: int, predicted: int) -> tuple[tuple[int, ...], bool]:
    """The split indices of one confusion cell from an Evaluation, and whether the list is complete.

    Off the diagonal they are the recorded mistakes of that cell; on it, the digits of that class that are
    not among the class's recorded mistakes. Complete unless the record's 200-mistake cap cut some off.
    """
    row_mistakes = [int(m[0]) for m in mistakes if int(m[1]) == true]
    if true != predicted:
        found = tuple(int(m[0]) for m in mistakes if int(m[1]) == true and int(m[2]) == predicted)
        return found, len(found) == confusion[true][predicted]
    row_total = sum(confusion[true])
    complete = len(row_mistakes) == row_total - confusion[true][true]
    wrong = set(row_mistakes)
    found = tuple(int(i) for i in np.flatnonzero(labels == true) if int(i) not in wrong)
    return found, complete and len(found) == confusion[true][true]


def select(labels: np.ndarray, live: LivePredictions, flt: Filter, sort: str = "natural") -> list[int]:
    """Indices into the split that the filter keeps, in the chosen order."""
    predicted = live.predicted()
    if flt.kind == "all":
        chosen = list(range(len(labels)))
    elif flt.kind == "digit":
        chosen = [int(i) for i in np.flatnonzero(labels == flt.digit)]
    elif flt.kind == "cell":
        chosen = list(flt.recorded)
    elif flt.kind == "mistakes":
        # Mistakes as the model answers now: the recorded ones it still gets wrong (or has not answered yet),
        # in the record's order, then any other it gets wrong now; a recorded one it now gets right leaves.
        now_wrong = np.flatnonzero((predicted >= 0) & (predicted != labels))
        still = [int(i) for i in flt.recorded if predicted[int(i)] < 0 or predicted[int(i)] != labels[int(i)]]
        chosen = list(dict.fromkeys([*still, *map(int, now_wrong)]))
    else:
        raise ValueError(f"unknown filter {flt.kind!r}")
    if sort == "natural":
        return chosen if flt.kind in ("mistakes", "cell") else sorted(chosen)
    confidence = live.confidence()
    known = [i for i in chosen if not np.isnan(confidence[i])]
    unknown = [i for i in chosen if np.isnan(confidence[i])]
    sign = -1.0 if sort == "most confident" else 1.0
    return sorted(known, key=lambda i: (sign * confidence[i], i)) + unknown
