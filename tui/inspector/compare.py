"""The inspector's compared-runs columns: the same watched address in each compared run of this shape.

Reads the RunController's ComparedRuns (the runs table's last comparison; probes loaded off the UI thread by
the inspector); gives the watch table one ExtraColumn per run that shares the current network's shape, and
names the runs it leaves out once, in a notice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from rich.text import Text

from tui.compared import ComparedRun, ComparedRuns, labels
from tui.inspector.pack import joined
from tui.inspector.watch import ExtraColumn, short
from tui.render import fmt

KEY_PREFIX = "compared:"


def column_key(run: ComparedRun) -> str:
    """The watch-table column key of a compared run (unique per run folder)."""
    return f"{KEY_PREFIX}{run.path}"


class ComparedColumns:
    """What the watch table shows of the compared runs; `shown` is toggled by the inspector's `c`."""

    def __init__(self, compared: ComparedRuns, notify: Callable[[str], None]) -> None:
        self.compared = compared
        self.notify = notify
        self.shown = True
        self.named: set[Path] = set()  # runs already named in a "left out" notice

    def runs(self, sizes: tuple[int, ...], exclude: list[Path]) -> list[ComparedRun]:
        """The compared runs of this shape; names (once) those left out: another shape, or unusable."""
        shown, left_out = self.compared.split(sizes, exclude=exclude)
        new = [r for r in left_out if r.path not in self.named]
        if new:
            self.named.update(r.path for r in new)
            why = [f"{r.run_id} ({r.error})" if r.error else f"{r.run_id} ({'-'.join(map(str, r.layer_sizes))})"
                   for r in new]
            self.notify(f"compared runs left out (this network is {'-'.join(map(str, sizes))}): {', '.join(why)}")
        return shown

    def columns(self, sizes: tuple[int, ...], exclude: list[Path]) -> list[ExtraColumn]:
        """One column per compared run of this shape, headed by its short name; [] when hidden or none."""
        if not self.shown or not sizes or not self.compared.runs:
            return []
        runs = self.runs(sizes, exclude)
        names = labels(runs)
        return [ExtraColumn(column_key(run), names[run.path], self.cell(run), self.cell(run, compact=True))
                for run in runs]

    def cell(self, run: ComparedRun, compact: bool = False) -> Callable[[str], Text | str]:
        """The run's checkpoint value of an address, formatted as the table's own numbers (`compact`: the narrow
        layout's, `short` and right-aligned)."""
        def of(address: str) -> Text | str:
            value = self.compared.value(run, address)
            if value is None:
                return Text("n/a", style="dim", justify="right" if compact else "left")
            return Text(short(value[0]), justify="right") if compact else fmt(value[0])
        return of

    def detail(self, columns: list[ExtraColumn], address: str | None) -> str:
        """The highlighted scalar in each shown compared run: data and grad from its checkpoint."""
        return joined(self.phrases(columns, address))

    def phrases(self, columns: list[ExtraColumn], address: str | None) -> list[tuple[str, str]]:
        """`detail` as (joiner, phrase) pairs, one phrase per run, for lines broken between runs."""
        if not columns or address is None:
            return []
        label = {c.key: c.label for c in columns}
        parts = []
        for run in self.compared.loaded():
            if column_key(run) in label:
                value: Any = self.compared.value(run, address)
                parts.append(f"{label[column_key(run)]}: " + (
                    "n/a" if value is None else f"data {fmt(value[0])} grad {fmt(value[1])}"))
        if not parts:
            return []
        joiners = [" ", *[" · "] * (len(parts) - 1)]
        return [("", "compared runs (checkpoints):"), *zip(joiners, parts, strict=True)]
