"""The configuration form: one control per TrainConfig field, built from core.config.FIELDS.

A change re-parses only the field that changed, then checks the assembled config once (`problems()`), and
shows each structured Problem under its field, worded with the field's label (never a CLI flag).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from core.config import FIELDS, ConfigError, FieldInfo, Problem, TrainConfig

FORM_FIELDS = tuple(info for name, info in FIELDS.items() if name != "backend")  # the switch sets the backend
MULTI_DEVICE = Problem("devices", "multi-device training runs only in headless mode "
                                  "(mnist-dash --headless --devices N): DDP re-runs the program")


def choice_label(name: str, value: object) -> str:
    """How a choice reads in a Select: 14x14, cross-entropy."""
    if name == "input_size":
        return f"{value}x{value}"
    if name == "loss" and value == "cross_entropy":
        return "cross-entropy"
    return str(value)


def field_text(name: str, value: object) -> str:
    """A field's value as the text its Input shows."""
    if FIELDS[name].widget == "sizes":  # hidden layers, lr drop epochs: "64,32", or "none" when empty
        return ",".join(map(str, value)) if value else "none"  # type: ignore[arg-type]
    return str(value)


def tui_problems(config: TrainConfig) -> list[Problem]:
    """What only the dashboard refuses: multi-device runs (DDP re-runs the program, so they are headless)."""
    return [MULTI_DEVICE] if config.devices != 1 or config.num_nodes != 1 else []


def worded(problem: Problem) -> str:
    """A problem as the dashboard says it: the field's label, then the message."""
    info = FIELDS.get(problem.field)
    return f"{info.label}: {problem.message}" if info else problem.message


def control_for(info: FieldInfo, value: object) -> Widget:
    """The input widget of one field, by its FieldInfo.widget kind."""
    wid = f"cfg-{info.name}"
    if info.widget == "choice":
        return Select([(choice_label(info.name, c), c) for c in info.choices], value=value, allow_blank=False,
                      compact=True, id=wid)
    if info.widget == "bool":  # a Select like the choices: a checkbox reads ambiguously in a compact row
        return Select([("off", False), ("on", True)], value=bool(value), allow_blank=False, compact=True, id=wid)
    return Input(field_text(info.name, value), placeholder=info.hint, compact=True, id=wid, tooltip=info.help)


class ConfigForm(VerticalScroll):
    """Every setting of a run; posts ConfigForm.Changed with the config (None when not valid) and problems."""

    @dataclass
    class Changed(Message):
        form: ConfigForm
        config: TrainConfig | None
        problems: list[Problem]

        @property
        def control(self) -> ConfigForm:
            return self.form

    def __init__(self, config: TrainConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self._initial = config
        self.backend = config.backend
        self.parsed: dict[str, Any] = {info.name: getattr(config, info.name) for info in FORM_FIELDS}
        self.field_problems: dict[str, list[Problem]] = {}  # from parsing each field's text alone
        self.problems: list[Problem] = []
        self.config: TrainConfig | None = config

    def compose(self) -> ComposeResult:
        yield Static("", classes="field-error", id="err-form")  # problems about the whole config
        for info in FORM_FIELDS:
            # Flat (row, error) pairs: every container costs start-up time in style matching.
            with Horizontal(classes="field-row", id=f"field-{info.name.replace('_', '-')}"):
                yield Label(info.label, classes="field-label")
                yield control_for(info, getattr(self._initial, info.name))
            yield Static("", classes="field-error", id=f"err-{info.name}")

    def on_mount(self) -> None:
        self.check()

    def value_of(self, name: str) -> object:
        """The raw value of one control (text for inputs)."""
        return self.query_one(f"#cfg-{name}").value  # type: ignore[attr-defined]

    def parse_field(self, name: str) -> None:
        """Re-parse one field's control into `parsed` (or its problems)."""
        try:
            value = getattr(TrainConfig.from_dict({name: self.value_of(name)}), name)
        except ConfigError as exc:
            self.field_problems[name] = [dataclasses.replace(p, field=p.field or name) for p in exc.problems]
            return
        self.field_problems.pop(name, None)
        self.parsed[name] = value

    def check(self) -> None:
        """Check the assembled config once, show each problem under its field and tell the app."""
        config = dataclasses.replace(self._initial, backend=self.backend, **self.parsed)
        found = [p for ps in self.field_problems.values() for p in ps]
        # fields whose text does not parse keep their last good value; their own problem is the one to show
        found += [p for p in config.problems() if p.field not in self.field_problems]
        if not any(p.field in ("devices", "num_nodes") for p in found):
            found += tui_problems(config)
        self.config, self.problems = (None if found else config), found
        by_field: dict[str, list[str]] = {}
        for problem in found:
            name = problem.field if problem.field in self.parsed else "form"
            by_field.setdefault(name, []).append(problem.message if name != "form" else worded(problem))
        for name in ("form", *self.parsed):
            lines = by_field.get(name, [])
            error = self.query_one(f"#err-{name}", Static)
            error.update("\n".join(lines))  # the field's label is right above
            if error.display != bool(lines):
                error.display = bool(lines)
            if name != "form":
                self.query_one(f"#cfg-{name}").set_class(bool(lines), "-invalid")
        self.post_message(self.Changed(self, self.config, list(found)))

    def problem_lines(self) -> list[str]:
        """Every problem worded with its field's label (for a notification)."""
        return [worded(p) for p in self.problems]

    def set_backend(self, backend: str) -> None:
        self.backend = backend
        self.check()

    def load(self, config: TrainConfig) -> None:
        """Show another config (e.g. a past run's)."""
        self.backend = config.backend
        with self.prevent(Input.Changed, Select.Changed):
            for info in FORM_FIELDS:
                value = getattr(config, info.name)
                widget = self.query_one(f"#cfg-{info.name}")
                widget.value = field_text(info.name, value) if isinstance(widget, Input) else value  # type: ignore[attr-defined]
        self.field_problems.clear()
        self.parsed = {info.name: getattr(config, info.name) for info in FORM_FIELDS}
        self.check()

    @on(Input.Changed)
    @on(Select.Changed)
    def control_changed(self, event: Input.Changed | Select.Changed) -> None:
        event.stop()
        name = (event.control.id or "").removeprefix("cfg-")
        if name in self.parsed:
            self.parse_field(name)
            self.check()
