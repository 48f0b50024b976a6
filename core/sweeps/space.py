"""A sweep's search space: `--param FIELD=SPACE` parsed and checked against TrainConfig's fields, once.

SPACE is `log(a,b)`, `uniform(a,b)`, `int(a,b)` or a choice `[v1,v2,...]`. Every end and every choice is
checked the way the field itself is checked (a rate of 0, a width of 0, an unknown optimiser): a bad space is a
SpaceError naming the flag and why, before anything runs. Optuna is imported only to ask a trial.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

from core.config import FIELDS, TrainConfig
from core.problems import ConfigError

KINDS = ("log", "uniform", "int", "choice")
_RANGE = re.compile(r"^(log|uniform|int)\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)$")
Value = Any  # what a field takes: float, int, str (sizes as text, e.g. "64,32"), bool


class SpaceError(ValueError):
    """A --param that cannot be searched; str() is the one line to print."""


@dataclass(frozen=True)
class Space:
    """One searched field: a range (log, uniform, int) or a list of choices."""

    field: str
    kind: str  # one of KINDS
    low: float | int | None = None
    high: float | int | None = None
    choices: tuple[Value, ...] = ()

    def text(self) -> str:
        """The space as --param would spell it, e.g. lr=log(0.001,0.5)."""
        if self.kind == "choice":
            return f"{self.field}=[{','.join(_choice_text(c) for c in self.choices)}]"
        return f"{self.field}={self.kind}({self.low:g},{self.high:g})"

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "kind": self.kind, "low": self.low, "high": self.high,
                "choices": list(self.choices)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Space:
        return cls(field=data["field"], kind=data["kind"], low=data.get("low"), high=data.get("high"),
                   choices=tuple(data.get("choices") or ()))

    def suggest(self, trial: Any) -> Value:
        """Ask an optuna Trial for this field's value (a retried trial gets its first value back)."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.field, list(self.choices))
        if isinstance(self.low, int) and isinstance(self.high, int) and self.kind != "uniform" \
                and _is_int_field(self.field):
            return trial.suggest_int(self.field, self.low, self.high, log=self.kind == "log")
        return trial.suggest_float(self.field, float(self.low), float(self.high), log=self.kind == "log")


def _choice_text(value: Value) -> str:
    if isinstance(value, str) and ("," in value or not value):
        return json.dumps(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _is_int_field(name: str) -> bool:
    return FIELDS[name].widget in ("int", "sizes")  # input_size is an int too, but only 28, 14 or 7


def _is_float_field(name: str) -> bool:
    return type(FIELDS[name].default) is float


def parse_param(text: str, base: TrainConfig | None = None) -> Space:
    """'lr=log(1e-3,0.5)' -> Space; SpaceError (one line, naming the flag) for anything that cannot be searched."""
    base = base or TrainConfig()
    name, sep, spec = text.partition("=")
    name, spec = name.strip().replace("-", "_"), spec.strip()
    where = f"--param {text}"
    if not sep or not name or not spec:
        raise SpaceError(f"{where}: write FIELD=SPACE, e.g. lr=log(1e-3,0.5) or hidden=[16,64]")
    if name not in FIELDS:
        raise SpaceError(f"{where}: no setting called {name!r} (known: {', '.join(FIELDS)})")
    match = _RANGE.match(spec)
    if match:
        kind, low_text, high_text = match.groups()
        space = _range(where, name, kind, low_text, high_text)
        ends = (space.low, space.high)
    elif spec.startswith("[") and spec.endswith("]"):
        space = Space(field=name, kind="choice", choices=_choices(where, name, spec))
        ends = space.choices
    else:
        raise SpaceError(f"{where}: the space must be log(a,b), uniform(a,b), int(a,b) or [v1,v2,...]")
    for value in ends:  # each end and each choice must be a value the field takes, with the other settings
        _check_value(where, base, name, value)
    return space


def parse_params(texts: Sequence[str], base: TrainConfig | None = None) -> tuple[list[Space], list[str]]:
    """Every --param parsed: (spaces, problems as lines); a field given twice is a problem."""
    spaces: list[Space] = []
    problems: list[str] = []
    for text in texts:
        try:
            space = parse_param(text, base)
        except SpaceError as exc:
            problems.append(str(exc))
            continue
        if any(s.field == space.field for s in spaces):
            problems.append(f"--param {text}: {space.field} is already searched; give each setting once")
            continue
        spaces.append(space)
    return spaces, problems


def _number(where: str, name: str, text: str, integer: bool) -> float | int:
    try:
        if integer:
            if not re.fullmatch(r"[+-]?\d{1,18}", text):
                raise ValueError
            return int(text)
        value = float(text)
    except ValueError:
        raise SpaceError(f"{where}: {text!r} is not a {'whole number' if integer else 'number'}") from None
    if not math.isfinite(value):
        raise SpaceError(f"{where}: {text!r} is not a finite number")
    return value


def _range(where: str, name: str, kind: str, low_text: str, high_text: str) -> Space:
    if kind == "int" and not _is_int_field(name):
        raise SpaceError(f"{where}: {name} is not a whole-number setting; use log(a,b), uniform(a,b) or [..]")
    if kind in ("log", "uniform") and not (_is_float_field(name) or (kind == "log" and _is_int_field(name))):
        if _is_int_field(name):
            raise SpaceError(f"{where}: {name} is a whole number; use int(a,b) or log(a,b)")
        raise SpaceError(f"{where}: {name} is not a number range; use a list of choices [v1,v2,...]")
    integer = kind == "int" or (kind == "log" and _is_int_field(name))
    low, high = _number(where, name, low_text, integer), _number(where, name, high_text, integer)
    if not low < high:
        raise SpaceError(f"{where}: the low end must be below the high end")
    if kind == "log" and low <= 0:
        raise SpaceError(f"{where}: a log range must start above 0")
    return Space(field=name, kind=kind, low=low, high=high)


def _choices(where: str, name: str, spec: str) -> tuple[Value, ...]:
    try:  # [16,64,128], ["64,32",128] (quoted: several layers), [relu,tanh], [true,false]
        raw = next(csv.reader([spec[1:-1]], skipinitialspace=True, strict=True))
    except (csv.Error, StopIteration):
        raise SpaceError(f"{where}: cannot read the list of choices (quote a value with commas: \"64,32\")") from None
    raw = [part.strip() for part in raw]
    if not raw or any(part == "" for part in raw):
        raise SpaceError(f"{where}: the list of choices has an empty entry")
    values: list[Value] = []
    for item in raw:
        values.append(_choice_value(where, name, item))
    if len(set(map(repr, values))) != len(values):
        raise SpaceError(f"{where}: a choice is listed twice")
    return tuple(values)


def _choice_value(where: str, name: str, item: Value) -> Value:
    """The value as Optuna stores it: sizes as text ("64,32"), numbers as numbers, the rest as the field's type."""
    if FIELDS[name].widget == "sizes":
        return item
    try:
        value = TrainConfig.from_dict({name: item})
    except ConfigError as exc:
        raise SpaceError(f"{where}: {exc.problems[0].message}") from None
    return getattr(value, name)


def _check_value(where: str, base: TrainConfig, name: str, value: Value) -> None:
    try:
        config = base.replace(**{name: value})
    except ConfigError as exc:
        raise SpaceError(f"{where}: {exc.problems[0].message}") from None
    problems = config.problems()
    if problems:
        first = next((p for p in problems if p.field == name), problems[0])
        label = "" if first.field == name else f"with {FIELDS[first.field].flag} "
        raise SpaceError(f"{where}: {label}{first.message}")


def config_for(base: TrainConfig, params: dict[str, Value]) -> TrainConfig:
    """The trial's config: the sweep's base settings with the trial's parameters (ConfigError when invalid).

    An int for hidden is one layer of that width; sizes chosen from a list arrive as text ("64,32")."""
    return base.replace(**params).validate()
