"""What the sweep screen shows, read from the study (a journal file, or a database other machines feed)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.sweeps.study import SweepError, SweepSpec, counts, load, open_storage, read_sweep_file, wait_for_spec
from core.sweeps.view import TrialRow, best_curve, best_row, importance, trial_rows


@dataclass(frozen=True)
class SweepSnapshot:
    """The sweep at one moment."""

    spec: SweepSpec
    rows: tuple[TrialRow, ...]
    counts: dict[str, int]
    importance: dict[str, float] = field(default_factory=dict)
    storage: str = ""

    @property
    def best(self) -> TrialRow | None:
        return best_row(list(self.rows), self.spec.direction)

    @property
    def curve(self) -> list[tuple[int, float]]:
        return best_curve(list(self.rows))

    @property
    def finished_values(self) -> list[float]:
        """The value of each point of the curve's trial when it completed (NaN for a pruned one: no dot)."""
        done = sorted((r for r in self.rows if r.best is not None), key=lambda r: (r.finished or 0.0, r.number))
        return [r.value if r.state == "complete" and r.value is not None else math.nan for r in done]

    @property
    def active(self) -> bool:
        return bool(self.counts.get("waiting") or self.counts.get("running"))


class SweepSource:
    """Opens a sweep folder's storage once; `snapshot()` reads the study again (call it off the UI thread)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        about = read_sweep_file(self.folder)
        self.name = about["name"]
        self.storage_text = about["storage"]
        self.runs_dir = Path(about.get("runs_dir") or self.folder.parent.parent)
        self._storage: Any = None
        self._importance: dict[str, float] = {}
        self._importance_at = -1  # complete trials when importance was last computed (fANOVA is not free)

    def snapshot(self) -> SweepSnapshot:
        """The study now (SweepError when it cannot be read)."""
        if self._storage is None:
            self._storage = open_storage(self.storage_text)
        study = load(self._storage, self.name)
        spec = wait_for_spec(self._storage, self.name, wait_s=0.0)
        rows = trial_rows(study, spec.direction)
        tally = counts(study)
        complete = tally.get("complete", 0)
        if complete != self._importance_at:
            self._importance = importance(study) if complete >= 2 else {}
            self._importance_at = complete
        return SweepSnapshot(spec=spec, rows=tuple(rows), counts=tally, importance=dict(self._importance),
                             storage=self.storage_text)

    def run_path(self, row: TrialRow) -> Path | None:
        """The trial's run folder on this machine (None when it has none here, e.g. run by another machine)."""
        if not row.run_dir:
            return None
        path = Path(row.run_dir)
        return path if path.is_dir() else None


__all__ = ["SweepError", "SweepSnapshot", "SweepSource"]
