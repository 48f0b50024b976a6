"""A sweep as data for any front end: its trials as rows, best so far, the reproducing command, importance."""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.config import FIELDS, TrainConfig
from core.sweeps.study import SweepSpec

STATES = ("waiting", "running", "complete", "pruned", "failed")


@dataclass(frozen=True)
class TrialRow:
    """One trial as the table shows it."""

    number: int
    state: str  # one of STATES
    params: dict[str, Any] = field(default_factory=dict)
    value: float | None = None  # the objective (a pruned trial: its last reported value)
    epoch: int | None = None  # the last epoch it reported
    best: float | None = None  # the best complete trial's objective when this trial finished
    pruned_at: int | None = None  # the epoch at which the pruner stopped it
    run_dir: str = ""
    retry_of: int | None = None
    host: str = ""
    pid: int = 0  # the worker process on that host
    finished: float | None = None  # Unix time, for the best-so-far curve
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "SweepTrial", **asdict(self)}


def trial_rows(study: Any, direction: str | None = None) -> list[TrialRow]:
    """Every trial of the study, by number; best-so-far (over complete trials) follows the order they finished in."""
    from optuna.trial import TrialState

    direction = direction or study.direction.name.lower()
    better = max if direction == "maximize" else min
    state_words = {TrialState.WAITING: "waiting", TrialState.RUNNING: "running", TrialState.COMPLETE: "complete",
                   TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}
    trials = study.get_trials(deepcopy=False)
    done = sorted((t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)),
                  key=lambda t: (t.datetime_complete.timestamp() if t.datetime_complete else 0.0, t.number))
    best_at: dict[int, float | None] = {}
    best: float | None = None
    for t in done:
        if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value):
            best = t.value if best is None else better(best, t.value)  # a pruned trial is never the best
        best_at[t.number] = best
    rows = []
    for t in trials:
        waiting = t.state == TrialState.WAITING
        epoch = max(t.intermediate_values) if t.intermediate_values else None
        rows.append(TrialRow(
            number=t.number, state=state_words.get(t.state, t.state.name.lower()), params=dict(t.params),
            value=t.value if t.state in (TrialState.COMPLETE, TrialState.PRUNED) else None,
            epoch=epoch, best=best_at.get(t.number),
            pruned_at=epoch if t.state == TrialState.PRUNED else None,
            run_dir="" if waiting else str(t.system_attrs.get("run_dir", "")),
            retry_of=t.system_attrs.get("failed_trial"), host="" if waiting else str(t.system_attrs.get("host", "")),
            pid=0 if waiting else int(t.system_attrs.get("pid") or 0),
            finished=t.datetime_complete.timestamp() if t.datetime_complete else None,
            error=str(t.system_attrs.get("error", "")) if t.state == TrialState.FAIL else ""))
    return rows


def best_row(rows: list[TrialRow], direction: str) -> TrialRow | None:
    """The best complete trial (pruned ones stopped early: never the answer)."""
    done = [r for r in rows if r.state == "complete" and r.value is not None and math.isfinite(r.value)]
    if not done:
        return None
    pick = max if direction == "maximize" else min
    return pick(done, key=lambda r: (r.value, -r.number) if direction == "maximize" else (r.value, r.number))


def best_curve(rows: list[TrialRow]) -> list[tuple[int, float]]:
    """(finished trials so far, best objective) in the order trials finished: the best-so-far curve."""
    done = sorted((r for r in rows if r.best is not None), key=lambda r: (r.finished or 0.0, r.number))
    return [(i + 1, r.best) for i, r in enumerate(done)]


def config_flags(config: TrainConfig) -> list[str]:
    """The flags that set every setting of `config` that differs from the defaults."""
    default = TrainConfig()
    words: list[str] = []
    for name, info in FIELDS.items():
        value = getattr(config, name)
        if value == getattr(default, name):
            continue
        if info.widget == "bool":
            words.append(info.flag if value else "--no-" + info.flag[2:])
        else:
            words += [info.flag, _flag_value(value)]
    return words


def reproduce(spec: SweepSpec, params: dict[str, Any]) -> str:
    """The exact command that trains this trial's settings again (flags for every non-default setting)."""
    return shlex.join(["mnist-dash", "--headless", *config_flags(spec.base.replace(**params))])


def _flag_value(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return repr(value) if isinstance(value, float) else str(value)


def importance(study: Any) -> dict[str, float]:
    """Optuna's parameter importance (its default evaluator, PED-ANOVA: numpy only) over complete trials; {}
    until it can be computed."""
    from optuna.importance import get_param_importances

    try:
        with warnings.catch_warnings():  # "fewer than 2 trials in a regime": the screen says how many there are
            warnings.simplefilter("ignore")
            return {name: float(share) for name, share in get_param_importances(study).items()}
    except (ValueError, RuntimeError, ZeroDivisionError, ImportError):  # too few trials, one value only
        return {}


def fmt_value(value: Any) -> str:
    """A parameter or objective value, short and exact enough to tell trials apart."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table_lines(rows: list[TrialRow], params: list[str]) -> list[str]:
    """The trials as a text table (one header line, one line per trial)."""
    head = ["trial", "state", *params, "value", "epoch", "best", "pruned at", "run"]
    body = [[str(r.number), r.state + (f" (retry of {r.retry_of})" if r.retry_of is not None else ""),
             *[fmt_value(r.params.get(p)) for p in params], fmt_value(r.value), fmt_value(r.epoch),
             fmt_value(r.best), fmt_value(r.pruned_at), short_path(r.run_dir)] for r in rows]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            for line in [head, *body]]


def short_path(path: str) -> str:
    """A run folder relative to the working directory when it is below it ("-" for none)."""
    if not path:
        return "-"
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if relative.startswith("..") else relative


def jsonl_lines(rows: list[TrialRow], spec: SweepSpec, best: TrialRow | None) -> list[str]:
    """One JSON object per trial, then the sweep's summary (best trial and its command)."""
    out = [json.dumps(r.to_dict(), allow_nan=False, default=str) for r in rows]
    summary = {"type": "SweepSummary", "sweep": spec.name, "objective": spec.objective, "direction": spec.direction,
               "trials": len(rows), "best_trial": best.number if best else None,
               "best_value": best.value if best else None, "best_params": best.params if best else None,
               "command": reproduce(spec, best.params) if best else None}
    out.append(json.dumps(summary, allow_nan=False, default=str))
    return out


MARK = re.compile(r"^sweep (?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,63}) trial (?P<number>\d{1,9})\b")
MARK_LINES = 200  # the mark follows RunStarted; a few SystemStats lines may come first


def sweep_of(run_dir: str | os.PathLike) -> tuple[str, int] | None:
    """(sweep name, trial number) when the run folder is a sweep's trial (its record's `sweep` LogLine)."""
    from core.records.files import EVENTS_FILE
    from core.records.jsonl import iter_lines, loads

    try:
        for count, line in enumerate(iter_lines(Path(run_dir) / EVENTS_FILE)):
            if count >= MARK_LINES:
                return None
            if b'"sweep"' not in line:
                continue
            try:
                obj = loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("type") == "LogLine" and obj.get("source") == "sweep":
                match = MARK.match(str(obj.get("message", "")))
                if match:
                    return match["name"], int(match["number"])
    except OSError:
        return None
    return None
