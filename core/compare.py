"""Comparing runs: loaded curves (core.records.curves) put on one x axis, smoothed, windowed and labelled.

`build_view` turns loaded runs and ChartSettings into the lines both plots draw: stable colours per
run id, legend names from what differs between the configs, seed groups as mean with a min-max band, the
baseline last (on top). `config_diff` and `readings_at` serve the diff table and the crosshair. No rendering.
"""

from __future__ import annotations

import bisect
import json
import math
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from core.records.curves import ACCURACY_SERIES, LOSS_SERIES, SERIES, SMOOTHED, X_LABELS, RunCurves, smooth
from core.records.runindex import RunRow
from core.settings import ChartSettings

# Twelve colours that stay apart on dark and light terminals; a run id hashes into them.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (80, 170, 255), (255, 160, 40), (90, 210, 120), (235, 90, 90), (190, 130, 255), (240, 220, 80),
    (60, 210, 210), (255, 120, 200), (170, 200, 90), (150, 150, 255), (220, 150, 110), (120, 230, 180),
)
MAX_LEGEND_KEYS = 3  # more differing settings than this are counted, not spelled out
OUTLIER_PERCENTILES = (1.0, 99.0)


def run_colour(run_id: str) -> tuple[int, int, int]:
    """The run's own colour: a hash of its id into PALETTE (the same in every view and session)."""
    return PALETTE[zlib.crc32(run_id.encode("utf-8")) % len(PALETTE)]


def assign_colours(run_ids: Iterable[str]) -> dict[str, tuple[int, int, int]]:
    """Each run's own colour; when two in one view share it, the later id (sorted) takes the next free one."""
    used: set[int] = set()
    out = {}
    for run_id in sorted(set(run_ids)):
        i = zlib.crc32(run_id.encode("utf-8")) % len(PALETTE)
        while i in used and len(used) < len(PALETTE):
            i = (i + 1) % len(PALETTE)
        used.add(i)
        out[run_id] = PALETTE[i]
    return out


def format_value(value: Any) -> str:
    """A config value as a legend shows it: 0.1, 64-32, relu."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "-".join(format_value(v) for v in value)
    return str(value)


def differing_keys(configs: Sequence[Mapping[str, Any]], ignore: Iterable[str] = ()) -> list[str]:
    """Settings whose values are not the same in every config, in the configs' own key order."""
    ignored = set(ignore)
    keys: list[str] = []
    for config in configs:
        keys += [k for k in config if k not in keys and k not in ignored]
    return [k for k in keys if len({_canonical(c, k) for c in configs}) > 1]


def _canonical(config: Mapping[str, Any], key: str) -> str:
    return json.dumps(config[key], sort_keys=True, default=str) if key in config else "\0unset"


def legend_names(configs: Mapping[str, Mapping[str, Any]], ignore: Iterable[str] = ()) -> dict[str, str]:
    """Run id -> a name from what differs between the configs (`lr=0.1`); the run id when nothing does."""
    keys = differing_keys(list(configs.values()), ignore)
    out = {}
    for run_id, config in configs.items():
        parts = [f"{k}={format_value(config[k]) if k in config else '-'}" for k in keys[:MAX_LEGEND_KEYS]]
        if len(keys) > MAX_LEGEND_KEYS:
            parts.append(f"+{len(keys) - MAX_LEGEND_KEYS} more")
        out[run_id] = ", ".join(parts) or run_id
    names = list(out.values())
    return {rid: (f"{name} [{rid}]" if names.count(name) > 1 and name != rid else name) for rid, name in out.items()}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation, as numpy's default."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def y_range(values: Iterable[float], mode: str = "auto") -> tuple[float, float]:
    """The y limits for these values, 5% padded; "outliers" spans the 1st..99th percentile only."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    if mode == "outliers":
        lo, hi = percentile(finite, OUTLIER_PERCENTILES[0]), percentile(finite, OUTLIER_PERCENTILES[1])
    else:
        lo, hi = min(finite), max(finite)
    pad = (hi - lo) * 0.05 or (abs(hi) * 0.05 or 0.5)
    return lo - pad, hi + pad


@dataclass
class Line:
    """One drawn curve of a run (or a seed group) in plot units: accuracy in %, log10 loss when asked."""

    key: str  # the run id, or "seeds:" + the group's first run id
    label: str
    colour: tuple[int, int, int]
    series: str
    xs: list[float]
    ys: list[float]  # smoothed (the same as raw for validation series and for smoothing 0)
    raw: list[float]
    steps: list[float]
    low: list[float] | None = None  # a seed group's min and max over its runs
    high: list[float] | None = None
    baseline: bool = False
    members: tuple[str, ...] = ()


@dataclass
class ChartView:
    """Everything both plots draw, with their limits; lines in drawing order (the baseline last, on top)."""

    settings: ChartSettings
    lines: list[Line]
    x_label: str
    x_range: tuple[float, float]
    full_x_range: tuple[float, float]
    loss_range: tuple[float, float]
    accuracy_range: tuple[float, float]

    def plot(self, kind: str) -> list[Line]:
        """The lines of the "loss" or the "accuracy" plot."""
        wanted = LOSS_SERIES if kind == "loss" else ACCURACY_SERIES
        return [line for line in self.lines if line.series in wanted]

    def legend(self) -> list[Line]:
        """One line per run or group (its training-loss line stands for it), baseline first."""
        seen, out = set(), []
        for line in sorted(self.lines, key=lambda li: not li.baseline):
            if line.key not in seen:
                seen.add(line.key)
                out.append(line)
        return out


def seed_groups(runs: Sequence[RunCurves]) -> list[list[RunCurves]]:
    """Runs whose configs are the same but for the seed, together (in the order given)."""
    groups: dict[str, list[RunCurves]] = {}
    for run in runs:
        key = json.dumps({k: v for k, v in run.config.items() if k != "seed"}, sort_keys=True, default=str)
        groups.setdefault(key, []).append(run)
    return list(groups.values())


def interp(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    """y at x on the polyline (xs ascending), held flat beyond its ends."""
    i = bisect.bisect_left(xs, x)
    if i < len(xs) and xs[i] == x:
        return ys[i]
    if i == 0:
        return ys[0]
    if i == len(xs):
        return ys[-1]
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def plot_units(series: str, value: float, log_loss: bool) -> float:
    """A value as plotted: accuracy in percent, loss as log10 when asked (NaN for a loss <= 0)."""
    if series in ACCURACY_SERIES:
        return value * 100.0
    if log_loss:
        return math.log10(value) if value > 0 else math.nan
    return value


def _points(run: RunCurves, series: str, settings: ChartSettings, since: float) -> Line:
    curve = run.curves[series]
    smoothed = smooth(curve.value, settings.smoothing) if series in SMOOTHED else curve.value
    line = Line(run.run_id, run.run_id, PALETTE[0], series, [], [], [], [])
    for x, step, y, raw in zip(curve.xs(settings.x_axis), curve.step, smoothed, curve.value, strict=True):
        y, raw = plot_units(series, y, settings.log_loss), plot_units(series, raw, settings.log_loss)
        if step >= since and math.isfinite(y) and math.isfinite(x):
            line.xs.append(x)
            line.ys.append(y)
            line.raw.append(raw)
            line.steps.append(step)
    return line


def _mean_band(parts: list[Line]) -> Line:
    """Mean with min and max of the members' lines, on the densest member's xs where all of them have data."""
    parts = [p for p in parts if p.xs]
    out = Line("", "", PALETTE[0], "", [], [], [], [], low=[], high=[])
    if not parts:
        return out
    lo, hi = max(p.xs[0] for p in parts), min(p.xs[-1] for p in parts)
    ref = max(parts, key=lambda p: len(p.xs))
    for x, step in zip(ref.xs, ref.steps, strict=True):
        if lo <= x <= hi:
            values = [interp(p.xs, p.ys, x) for p in parts]
            out.xs.append(x)
            out.steps.append(step)
            out.ys.append(sum(values) / len(values))
            out.raw.append(sum(interp(p.xs, p.raw, x) for p in parts) / len(parts))
            out.low.append(min(values))
            out.high.append(max(values))
    return out


def _clip(line: Line, lo: float, hi: float) -> None:
    keep = [i for i, x in enumerate(line.xs) if lo <= x <= hi]
    for name in ("xs", "ys", "raw", "steps", "low", "high"):
        values = getattr(line, name)
        if values is not None:
            setattr(line, name, [values[i] for i in keep])


def build_view(runs: Sequence[RunCurves], settings: ChartSettings, *, baseline: str | None = None,
               group_seeds: bool = True, zoom: float = 1.0, centre: float | None = None) -> ChartView:
    """The lines of both plots for these runs and settings; zoom > 1 narrows x around `centre` (default: newest)."""
    newest = max((run.newest_step for run in runs), default=0.0)
    since = newest - settings.window if settings.window else -math.inf
    colours = assign_colours(run.run_id for run in runs)
    groups = seed_groups(runs) if group_seeds else [[run] for run in runs]
    groups = [g for g in groups if len(g) == 1] + [g for g in groups if len(g) > 1]
    names = legend_names({g[0].run_id: g[0].config for g in groups}, ignore=("seed",) if group_seeds else ())
    lines = []
    for group in groups:
        first = group[0].run_id
        members = tuple(run.run_id for run in group)
        is_base = baseline in members
        label = names[first] if len(group) == 1 else (
            f"{'' if names[first] == first else names[first] + ' '}mean of {len(group)} seeds")
        label += " (baseline)" if is_base else ""
        for series in SERIES:
            parts = [_points(run, series, settings, since) for run in group]
            line = parts[0] if len(group) == 1 else _mean_band(parts)
            line.key = first if len(group) == 1 else "seeds:" + first
            line.label, line.colour, line.series = label, colours[first], series
            line.baseline, line.members = is_base, members
            lines.append(line)
    lines.sort(key=lambda li: li.baseline)  # stable: the baseline's lines go last, drawn on top
    xs = [x for line in lines for x in line.xs]
    full = (min(xs), max(xs)) if xs else (0.0, 1.0)
    x_range = zoom_range(full, zoom, centre)
    if x_range != full:
        for line in lines:
            _clip(line, *x_range)

    def values(kind: tuple[str, ...]) -> list[float]:
        return [y for li in lines if li.series in kind for y in li.ys + (li.low or []) + (li.high or [])]

    return ChartView(settings, lines, X_LABELS[settings.x_axis], x_range, full,
                     y_range(values(LOSS_SERIES), settings.y_mode), y_range(values(ACCURACY_SERIES), settings.y_mode))


def zoom_range(full: tuple[float, float], zoom: float, centre: float | None = None) -> tuple[float, float]:
    """A 1/zoom wide part of `full` around centre (default: its right end), kept inside `full`."""
    lo, hi = full
    if zoom <= 1 or hi <= lo:
        return full
    width = (hi - lo) / zoom
    centre = hi if centre is None else centre
    left = min(max(lo, centre - width / 2), hi - width)
    return left, left + width


@dataclass(frozen=True)
class Reading:
    """One line's nearest point to the crosshair."""

    label: str
    colour: tuple[int, int, int]
    series: str
    x: float
    step: float
    value: float  # smoothed, in plot units
    raw: float
    baseline: bool


def readings_at(lines: Iterable[Line], x: float) -> list[Reading]:
    """Each line's point at the crosshair; lines without one there are left out.

    A training line gives its point nearest to x (the earlier one on a tie). A validation value belongs to the
    step it was measured at: its line gives the last value measured at or before the step of its run's training
    point at x (none before the first epoch ends), never a later epoch's value.
    """
    lines = list(lines)
    steps_at = {}
    for line in lines:
        if line.series in SMOOTHED and line.xs and line.key not in steps_at:
            steps_at[line.key] = line.steps[_nearest(line.xs, x)]
    out = []
    for line in lines:
        if not line.xs:
            continue
        if line.series in SMOOTHED:
            i = _nearest(line.xs, x)
        elif line.key in steps_at:
            i = bisect.bisect_right(line.steps, steps_at[line.key]) - 1
        else:
            i = bisect.bisect_right(line.xs, x) - 1
        if i < 0:
            continue
        out.append(Reading(line.label, line.colour, line.series, line.xs[i], line.steps[i], line.ys[i],
                           line.raw[i], line.baseline))
    return out


def _nearest(xs: Sequence[float], x: float) -> int:
    """The index of the point of xs (ascending) nearest to x, the earlier one on a tie."""
    i = bisect.bisect_left(xs, x)
    if i == len(xs) or (i > 0 and x - xs[i - 1] <= xs[i] - x):
        i -= 1
    return i


def crosshair_stops(view: ChartView) -> list[float]:
    """The x values the crosshair steps through: the baseline's (else the first run's) training points."""
    train = [li for li in view.lines if li.series == "train_loss" and li.xs]
    ref = next((li for li in train if li.baseline), train[0] if train else None)
    return list(ref.xs) if ref is not None else []


OUTCOME_COLUMNS = (("status", "status"), ("best_val_accuracy", "best val"), ("test_accuracy", "test"),
                   ("seconds", "time"))


def config_diff(rows: Sequence[RunRow]) -> tuple[list[str], list[list[str]]]:
    """(headings, cells): the run id, only the settings that differ, then the outcome columns."""
    keys = differing_keys([row.config for row in rows])
    headings = ["run", *keys, *(heading for _, heading in OUTCOME_COLUMNS)]
    cells = [[row.run_id, *(format_value(row.config[k]) if k in row.config else "-" for k in keys),
              *(row.cell(column) for column, _ in OUTCOME_COLUMNS)] for row in rows]
    return headings, cells
