"""The runs of the last comparison, remembered for the dashboard: their configs and checkpoint probes.

A plain class the RunController owns (no Textual): the runs table's compare sets it; the inspector asks which
of the runs share the current network's shape and reads the same address from each run's checkpoint. Loading
a probe reads a checkpoint, so `load_pending` runs off the UI thread; what it loads is kept per run folder.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence


@dataclass(frozen=True)
class ComparedRun:
    """One compared run as loaded: its id, config, network shape and probe (None, with `error`, when unusable)."""

    path: Path
    run_id: str
    config: dict[str, Any]
    layer_sizes: tuple[int, ...]
    probe: Any = None
    error: str = ""


def load_compared(path: Path) -> ComparedRun:
    """Read a run's config and a probe over its latest checkpoint (slow: off the UI thread); never raises."""
    from core.backends import load_probe
    from core.records.runs import open_run

    try:
        record = open_run(path)
    except Exception as exc:  # a folder that went away or is not a run: named in the notice, never a crash
        return ComparedRun(path, path.name, {}, (), error=str(exc))
    config = record.config
    try:
        probe = load_probe(path)
    except Exception as exc:  # no checkpoint yet (a run just started) or an unreadable one
        return ComparedRun(path, record.run_id, config.to_dict(), tuple(config.layer_sizes),
                           error=f"{type(exc).__name__}: {exc}")
    return ComparedRun(path, record.run_id, config.to_dict(), tuple(config.layer_sizes), probe)


class ComparedRuns:
    """The run folders of the last comparison and, once loaded, each one's probe (cached per folder)."""

    def __init__(self) -> None:
        self.runs: tuple[Path, ...] = ()
        self.version = 0  # bumps whenever the selection or what is loaded changes (the inspector redraws)
        self._loaded: dict[Path, ComparedRun] = {}
        self._values: dict[tuple[Path, str], tuple[float, float] | None] = {}
        self._lock = threading.Lock()

    def set(self, runs: Iterable[str | Path]) -> None:
        """Remember these run folders as the comparison (what was loaded for them before is kept)."""
        self.runs = tuple(dict.fromkeys(Path(r) for r in runs))
        self.version += 1

    def pending(self) -> list[Path]:
        """Compared runs not loaded yet."""
        with self._lock:
            return [p for p in self.runs if p not in self._loaded]

    def load_pending(self) -> int:
        """Load every pending run (slow: call off the UI thread); how many were loaded."""
        todo = self.pending()
        for path in todo:
            loaded = load_compared(path)
            with self._lock:
                self._loaded[path] = loaded
        if todo:
            self.version += 1
        return len(todo)

    def loaded(self) -> list[ComparedRun]:
        """The compared runs loaded so far, in the comparison's order."""
        with self._lock:
            return [self._loaded[p] for p in self.runs if p in self._loaded]

    def split(self, layer_sizes: Sequence[int], exclude: Iterable[Path] = ()) -> tuple[list[ComparedRun],
                                                                                    list[ComparedRun]]:
        """(runs to show: a probe and this shape, runs left out: another shape or unusable), minus `exclude`."""
        skip = {Path(p).resolve() for p in exclude}
        shown, left_out = [], []
        for run in self.loaded():
            if run.path.resolve() in skip:
                continue  # the run the dashboard shows already has its own column
            if run.probe is not None and run.layer_sizes == tuple(layer_sizes):
                shown.append(run)
            else:
                left_out.append(run)
        return shown, left_out

    def value(self, run: ComparedRun, address: str) -> tuple[float, float] | None:
        """The run's (data, grad) of the address from its checkpoint; None when the checkpoint cannot say."""
        key = (run.path, address)
        if key not in self._values:
            try:
                self._values[key] = tuple(run.probe.value(address))  # type: ignore[assignment]
            except Exception:  # graph nodes (z, a, loss) need a sample a checkpoint does not hold
                self._values[key] = None
        return self._values[key]


def labels(runs: Sequence[ComparedRun]) -> dict[Path, str]:
    """Each run's short name: what differs between them (`lr=0.01`), else its run id."""
    from core.compare import legend_names

    by_id = legend_names({run.run_id: run.config for run in runs})
    return {run.path: by_id.get(run.run_id, run.run_id) for run in runs}
