"""The configuration form: one control per TrainConfig field, validated inline as the user types."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from core.config import ACTIVATIONS, DEVICES, INITS, INPUT_SIZES, LOSSES, OPTIMIZERS, ConfigError, TrainConfig

# (field, label, choices or None for a text input, placeholder/hint)
FIELDS: tuple[tuple[str, str, tuple | None, str], ...] = (
    ("hidden", "hidden layers", None, "e.g. 64,32"),
    ("activation", "activation", ACTIVATIONS, ""),
    ("loss", "loss", LOSSES, ""),
    ("optimizer", "optimiser", OPTIMIZERS, ""),
    ("lr", "learning rate", None, "e.g. 0.05"),
    ("momentum", "momentum", None, "0..1"),
    ("batch_size", "batch size", None, ""),
    ("epochs", "epochs", None, ""),
    ("train_subset", "train subset", None, "0 = all"),
    ("val_subset", "val subset", None, "0 = all"),
    ("test_subset", "test subset", None, "0 = all"),
    ("input_size", "input size", INPUT_SIZES, ""),
    ("init", "init", INITS, ""),
    ("seed", "seed", None, ""),
    ("patience", "patience", None, "0 = off"),
    ("device", "device", DEVICES, ""),
    ("devices", "devices", None, "1 in the TUI"),
    ("strategy", "strategy", None, "auto"),
    ("num_nodes", "nodes", None, "1 in the TUI"),
)
FIELD_NAMES = tuple(f[0] for f in FIELDS)
MULTI_DEVICE = (
    "devices: multi-device training runs only in headless mode "
    "(mnist-dash --headless --devices N): DDP re-runs the program"
)


def _label(name: str, value: object) -> str:
    if name == "input_size":
        return f"{value}x{value}"
    if name == "loss" and value == "cross_entropy":
        return "cross-entropy"
    return str(value)


def _text(name: str, value: object) -> str:
    if name == "hidden":
        return ",".join(map(str, value)) if value else "none"  # type: ignore[arg-type]
    return str(value)


def tui_problems(config: TrainConfig) -> list[str]:
    """TrainConfig.problems() plus what only the TUI refuses (multi-device runs)."""
    found = [p for p in config.problems() if not p.startswith("devices/num_nodes")]  # CLI-worded; ours below
    if (config.devices != 1 or config.num_nodes != 1) and not any(
        p.startswith(("devices", "num_nodes")) for p in found
    ):
        found.append(MULTI_DEVICE)
    return found


def field_of(problem: str) -> str:
    """Which field a problem line is about ('devices/num_nodes: ...' -> 'devices')."""
    head = problem.split(":", 1)[0].split("/", 1)[0].strip()
    return head if head in FIELD_NAMES else "hidden"


class ConfigForm(VerticalScroll):
    """Every setting of a run; posts ConfigForm.Changed with the parsed config (or None) and problems."""

    @dataclass
    class Changed(Message):
        config: TrainConfig | None
        problems: list[str]

    def __init__(self, config: TrainConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self._initial = config
        self.backend = config.backend
        self.problems: list[str] = []
        self.config: TrainConfig | None = config

    def compose(self) -> ComposeResult:
        for name, label, choices, hint in FIELDS:
            value = getattr(self._initial, name)
            # Flat (row, error) pairs: every container costs start-up time in style matching.
            with Horizontal(classes="field-row", id=f"field-{name.replace('_', '-')}"):
                yield Label(label, classes="field-label")
                if choices is None:
                    yield Input(_text(name, value), placeholder=hint, compact=True, id=f"cfg-{name}")
                else:
                    yield Select(
                        [(_label(name, c), c) for c in choices],
                        value=value,
                        allow_blank=False,
                        compact=True,
                        id=f"cfg-{name}",
                    )
            yield Static("", classes="field-error", id=f"err-{name}")

    def on_mount(self) -> None:
        self.validate_now()

    def values(self) -> dict[str, object]:
        """The raw values of every control, keyed by field name."""
        out: dict[str, object] = {"backend": self.backend}
        for name, *_ in FIELDS:
            widget = self.query_one(f"#cfg-{name}")
            out[name] = widget.value  # type: ignore[attr-defined]
        return out

    def parse(self) -> tuple[TrainConfig | None, list[str]]:
        """The config the form describes and every problem with it."""
        found: list[str] = []
        good: dict[str, object] = {}
        for key, value in self.values().items():  # field by field, so one typo doesn't hide the rest
            try:
                TrainConfig.from_dict({key: value})
                good[key] = value
            except ConfigError as exc:
                found.extend(exc.problems)
        config = TrainConfig.from_dict(good)
        found.extend(tui_problems(config))
        return (None if found else config), found

    def validate_now(self) -> None:
        """Parse, show each problem under its field and tell the app."""
        self.config, self.problems = self.parse()
        by_field: dict[str, list[str]] = {}
        for problem in self.problems:
            by_field.setdefault(field_of(problem), []).append(problem)
        for name in FIELD_NAMES:
            lines = by_field.get(name, [])
            error = self.query_one(f"#err-{name}", Static)
            error.update("\n".join(line.split(": ", 1)[-1] for line in lines))  # the field is right above
            if error.display != bool(lines):
                error.display = bool(lines)
            self.query_one(f"#cfg-{name}").set_class(bool(lines), "-invalid")
        self.post_message(self.Changed(self.config, list(self.problems)))

    def set_backend(self, backend: str) -> None:
        self.backend = backend
        self.validate_now()

    def load(self, config: TrainConfig) -> None:
        """Show another config (e.g. a past run's)."""
        self.backend = config.backend
        for name, _label_text, choices, _hint in FIELDS:
            widget = self.query_one(f"#cfg-{name}")
            value = getattr(config, name)
            widget.value = value if choices is not None else _text(name, value)  # type: ignore[attr-defined]
        self.validate_now()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.validate_now()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.validate_now()
