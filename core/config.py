"""TrainConfig: every knob of a run, each described once (FIELDS), validated into structured Problems."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

from core.config_files import parse_settings, read_settings
from core.problems import ConfigError, Problem, plain, show

BACKENDS = ("scalar", "lightning")
ACTIVATIONS = ("relu", "tanh", "sigmoid")
LOSSES = ("mse", "cross_entropy")
OPTIMIZERS = ("sgd", "momentum", "adam")
INPUT_SIZES = (28, 14, 7)
INITS = ("scaled", "uniform")
DEVICES = ("auto", "cpu", "gpu")
WIDGETS = ("choice", "int", "float", "sizes", "text", "bool")
MAX_WIDTH = 4096  # wider layers are a typo, not a plan; the scalar engine would need gigabytes
MAX_LAYERS = 8
MAX_LR = 10.0  # the one bound on a learning rate: the form, the config, a live change (core.backends.control)


@dataclass(frozen=True)
class FieldInfo:
    """What front ends need to know about one TrainConfig field: the one description of it."""

    name: str
    label: str  # how the dashboard names it
    help: str  # one line, without the default (front ends add it)
    widget: str  # one of WIDGETS
    choices: tuple = ()
    flag: str = ""  # the CLI flag, e.g. --batch-size
    metavar: str = ""  # the CLI placeholder, e.g. N
    hint: str = ""  # a short placeholder for a form input
    default: Any = None


def _about(label: str, help: str, widget: str, choices: tuple = (), metavar: str = "N", hint: str = "") -> dict:
    return {"info": dict(label=label, help=help, widget=widget, choices=choices, metavar=metavar, hint=hint)}


def _choice(label: str, help: str, choices: tuple) -> dict:
    return _about(label, f"{help}: {', '.join(map(str, choices))}", "choice", choices, "NAME")


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run. Defaults make the handmade engine learn visibly within seconds."""

    # the handmade engine is the point of the tool; Lightning is one switch away
    backend: str = field(default="scalar", metadata=_choice("backend", "which engine trains (scalar = handmade)",
                                                            BACKENDS))
    # the seed's 784-64-32-10 shape
    hidden: tuple[int, ...] = field(default=(64, 32), metadata=_about(
        "hidden layers", "hidden layer sizes, comma-separated, e.g. 128,64 (none = a linear classifier)", "sizes",
        metavar="SIZES", hint="e.g. 64,32 or none"))
    # trains fastest of the three and shows dead units in the inspector
    activation: str = field(default="relu", metadata=_choice("activation", "hidden-layer activation", ACTIVATIONS))
    # learns faster than the seed's MSE on one-hot targets
    loss: str = field(default="cross_entropy", metadata=_choice("loss", "training loss", LOSSES))
    # plain SGD: a watched weight moves by exactly -lr*grad
    optimizer: str = field(default="sgd", metadata=_choice("optimiser", "optimiser (plain sgd moves a weight by "
                                                           "exactly -lr*grad)", OPTIMIZERS))
    # the seed's rate; stable with scaled init at every input size
    lr: float = field(default=0.05, metadata=_about("learning rate", f"learning rate, > 0 and <= {MAX_LR:g}", "float",
                                                    metavar="RATE", hint="e.g. 0.05"))
    # a step schedule: x0.1 at the start of each listed epoch (the handmade engine's 98% recipe drops at 5)
    lr_drop_epochs: tuple[int, ...] = field(default=(), metadata=_about(
        "lr drops", "epochs at whose start the learning rate is multiplied by 0.1, comma-separated, e.g. 4,6 "
        "(none = no drops)", "sizes", metavar="EPOCHS", hint="e.g. 5 or none"))
    # only read by the momentum optimiser
    momentum: float = field(default=0.9, metadata=_about(
        "momentum", "momentum (read by the momentum optimiser only), 0 <= beta < 1", "float", metavar="BETA",
        hint="0..1"))
    # small: the handmade engine updates often, so curves move while you watch
    batch_size: int = field(default=8, metadata=_about("batch size", "samples per optimiser step", "int"))
    # enough to see the validation curve bend
    epochs: int = field(default=3, metadata=_about("epochs", "passes over the training subset", "int"))
    # 2,000 digits keep a handmade epoch under a minute
    train_subset: int = field(default=2000, metadata=_about("train subset", "training digits to use (0 = all)",
                                                            "int", hint="0 = all"))
    # evaluated at every epoch end, so keep it small
    val_subset: int = field(default=500, metadata=_about(
        "val subset", "validation digits, evaluated at every epoch end (0 = all)", "int", hint="0 = all"))
    # evaluated once at the end
    test_subset: int = field(default=1000, metadata=_about(
        "test subset", "test digits, evaluated once at the end (0 = all)", "int", hint="0 = all"))
    # 14x14 average-pooled digits: 4x fewer weights, nearly the same accuracy
    input_size: int = field(default=14, metadata=_about(
        "input size", "digits are average-pooled to SIDE x SIDE pixels: 28, 14, 7", "choice", INPUT_SIZES, "SIDE"))
    # by fan-in; the seed's uniform U(-1,1) diverges within a few steps
    init: str = field(default="scaled", metadata=_choice("init", "weight initialisation (scaled = by fan-in, "
                                                         "uniform = the seed's U(-1,1))", INITS))
    # one seed drives init, shuffling and the validation split: runs repeat exactly
    seed: int = field(default=0, metadata=_about("seed", "seed for init, shuffling and the validation split", "int"))
    # 0 = off
    patience: int = field(default=0, metadata=_about(
        "patience", "stop after N epochs without validation improvement (0 = off)", "int", hint="0 = off"))
    # the GPU when there is one (Lightning only; the handmade engine is pure Python)
    device: str = field(default="auto", metadata=_choice("device", "Lightning's accelerator", DEVICES))
    # >1 means multi-device Lightning, which only the headless mode can run
    devices: int = field(default=1, metadata=_about("devices", "devices for Lightning (> 1 runs headless, e.g. DDP)",
                                                    "int", hint="1 in the TUI"))
    strategy: str = field(default="auto", metadata=_about(
        "strategy", "Lightning strategy: auto, ddp, fsdp, ... (not spawn-based ones)", "text", metavar="NAME",
        hint="auto"))
    num_nodes: int = field(default=1, metadata=_about("nodes", "machines in a multi-node Lightning run", "int",
                                                      hint="1 in the TUI"))
    # few threads for small models, one core left to the dashboard: torch's spinning workers starve the UI
    threads: int = field(default=0, metadata=_about(
        "CPU threads", "Lightning CPU threads (0 = auto: few for small models, one core left to the dashboard)",
        "int", hint="0 = auto"))
    # off: capture costs a warm-up and only pays on a GPU
    cuda_graphs: bool = field(default=False, metadata=_about(
        "CUDA graphs", "Lightning on a GPU: capture the training step as a CUDA graph", "bool", metavar=""))

    # ---- validation ------------------------------------------------------------------------------

    def problems(self) -> list[Problem]:
        """Every problem with this configuration; empty when valid. Checked once per config (it is frozen)."""
        return list(self._problems)

    @cached_property
    def _problems(self) -> tuple[Problem, ...]:
        return tuple(_check(self))

    def validate(self) -> TrainConfig:
        """Return self when valid; otherwise raise ConfigError listing every problem at once."""
        if self._problems:
            raise ConfigError(list(self._problems))
        return self

    # ---- derived ---------------------------------------------------------------------------------

    @property
    def n_inputs(self) -> int:
        """Pixels per (possibly downsampled) digit."""
        return self.input_size * self.input_size

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Input, hidden and output widths, e.g. (196, 64, 32, 10)."""
        return (self.n_inputs, *self.hidden, 10)

    def parameter_count(self) -> int:
        """Weights plus biases of the MLP this config describes."""
        sizes = self.layer_sizes
        return sum((a + 1) * b for a, b in zip(sizes, sizes[1:], strict=False))

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (coerced like from_dict, not validated)."""
        return TrainConfig.from_dict({**self.to_dict(), **changes})

    # ---- serialisation ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (hidden and lr_drop_epochs as lists)."""
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        d["lr_drop_epochs"] = list(self.lr_drop_epochs)
        return d

    def to_json(self) -> str:
        """The config as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict; unknown keys are rejected by name, values are coerced where unambiguous."""
        if not isinstance(data, dict):
            raise ConfigError([Problem("", f"expected a table of settings, got {type(data).__name__}")])
        unknown = sorted((k for k in data if k not in FIELDS), key=str)
        problems = [Problem(plain(k), f"unknown setting (known: {', '.join(FIELDS)})") for k in unknown]
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in FIELDS:
                try:
                    kwargs[key] = _coerce(key, value)
                except ValueError as exc:
                    problems.append(Problem(key, str(exc)))
        if problems:
            raise ConfigError(problems)
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """Parse JSON text (ConfigError for anything that is not a valid settings object)."""
        return cls.from_dict(parse_settings(text, "json"))

    def save(self, path: str | Path) -> None:
        """Write as JSON, atomically (temporary file, then rename)."""
        from core.atomic import atomic_write_text

        atomic_write_text(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a JSON or TOML file (by extension; TOML may put settings under [train])."""
        settings = read_settings(path)
        try:
            return cls.from_dict(settings)
        except ConfigError as exc:
            raise ConfigError(exc.problems, f"config file {plain(path)}") from None


FIELDS: dict[str, FieldInfo] = {
    f.name: FieldInfo(name=f.name, flag="--" + f.name.replace("_", "-"), default=f.default, **f.metadata["info"])
    for f in fields(TrainConfig)
}


def parse_hidden(text: str) -> tuple[int, ...]:
    """'64,32' -> (64, 32); 'none' -> () (a linear classifier); ValueError for anything else, '' included."""
    text = text.strip()
    if text.lower() == "none":
        return ()
    if not text:
        raise ValueError("is empty; give layer sizes such as 64,32, or none for a linear classifier")
    parts = [part.strip() for part in text.split(",")]
    if all(part.isascii() and part.isdigit() and len(part) <= 9 for part in parts):
        return tuple(int(part) for part in parts)
    raise ValueError(f"{show(text)} must be comma-separated layer sizes such as 64,32, or none")


def parse_epochs(text: str) -> tuple[int, ...]:
    """'4,6' -> (4, 6); 'none' or '' -> () (no drops); ValueError for anything else."""
    text = text.strip()
    if text.lower() in ("none", ""):
        return ()
    parts = [part.strip() for part in text.split(",")]
    if all(part.isascii() and part.isdigit() and len(part) <= 9 for part in parts):
        return tuple(int(part) for part in parts)
    raise ValueError(f"{show(text)} must be comma-separated epoch numbers such as 4,6, or none")


def _check(c: TrainConfig) -> list[Problem]:
    """Every problem with `c`, field by field, then the ones between fields."""
    out: list[Problem] = []

    def choice(name: str) -> None:
        value = getattr(c, name)
        if value not in FIELDS[name].choices or isinstance(value, bool):
            out.append(Problem(name, f"{show(value)} is not one of {', '.join(map(str, FIELDS[name].choices))}"))

    def integer(name: str, low: int, high: int, note: str = "") -> None:
        value = getattr(c, name)
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(Problem(name, f"{show(value)} is not a whole number"))
        elif not low <= value <= high:
            out.append(Problem(name, f"{show(value)} must be between {low} and {high}{note}"))

    def number(name: str, ok: bool, rule: str) -> None:
        value = getattr(c, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            out.append(Problem(name, f"{show(value)} is not a finite number"))
        elif not ok:
            out.append(Problem(name, f"{show(value)} must be {rule}"))

    choice("backend")
    sizes_ok = isinstance(c.hidden, tuple) and all(type(h) is int for h in c.hidden)
    if not sizes_ok:
        out.append(Problem("hidden", f"{show(c.hidden)} must be whole layer sizes, e.g. 64,32"))
    elif any(not 1 <= h <= MAX_WIDTH for h in c.hidden):
        out.append(Problem("hidden", f"{show(','.join(map(str, c.hidden)), quote=False)}: each layer size must be "
                                     f"1..{MAX_WIDTH}"))
    elif len(c.hidden) > MAX_LAYERS:
        out.append(Problem("hidden", f"{len(c.hidden)} layers is too many (at most {MAX_LAYERS})"))
    for name in ("activation", "loss", "optimizer"):
        choice(name)
    number("lr", isinstance(c.lr, (int, float)) and 0 < c.lr <= MAX_LR, f"> 0 and <= {MAX_LR}")
    drops = c.lr_drop_epochs
    if not isinstance(drops, tuple) or not all(type(d) is int for d in drops):
        out.append(Problem("lr_drop_epochs", f"{show(drops)} must be whole epoch numbers, e.g. 4,6"))
    elif drops:
        text = show(",".join(map(str, drops)), quote=False)
        last = c.epochs if type(c.epochs) is int else 10000  # a bad epochs value is its own problem
        if any(not 2 <= d <= last for d in drops):  # epoch 1 starts at the configured rate
            out.append(Problem("lr_drop_epochs", f"{text}: each epoch must be between 2 and the last epoch "
                                                 f"({last})"))
        elif any(b <= a for a, b in zip(drops, drops[1:], strict=False)):
            out.append(Problem("lr_drop_epochs", f"{text}: epochs must be strictly increasing"))
    number("momentum", isinstance(c.momentum, (int, float)) and 0 <= c.momentum < 1, ">= 0 and < 1")
    integer("batch_size", 1, 65536)
    integer("epochs", 1, 10000)
    for name in ("train_subset", "val_subset", "test_subset"):
        integer(name, 0, 10**9, " (0 = all)")
    for name in ("input_size", "init"):
        choice(name)
    integer("seed", 0, 2**32 - 1)
    integer("patience", 0, 10000, " (0 = off)")
    choice("device")
    integer("devices", 1, 1024)
    if not isinstance(c.strategy, str) or not c.strategy.strip():
        out.append(Problem("strategy", f"{show(c.strategy)} must be a Lightning strategy name such as auto or ddp"))
    elif not c.strategy.isprintable():
        out.append(Problem("strategy", f"{show(c.strategy)} contains a control character"))
    elif "spawn" in c.strategy:
        # Spawned processes receive the training function by pickling, and the event callback can't be.
        out.append(Problem("strategy", f"{show(c.strategy)} is not supported (spawned processes can't report "
                                       "events); use ddp"))
    integer("num_nodes", 1, 1024)
    integer("threads", 0, 1024, " (0 = auto)")
    if not isinstance(c.cuda_graphs, bool):
        out.append(Problem("cuda_graphs", f"{show(c.cuda_graphs)} must be true or false"))
    if c.backend == "scalar" and not out:
        for name in ("devices", "num_nodes"):
            if getattr(c, name) != 1:
                out.append(Problem(name, "the handmade engine runs on one CPU core; multi-device training needs "
                                         "the lightning backend"))
    return out


def _coerce(key: str, value: Any) -> Any:
    """Turn JSON/TOML/CLI values into the field's type without hiding real mistakes (ValueError says why)."""
    kind = type(FIELDS[key].default)
    if key == "hidden":
        if isinstance(value, str):
            return parse_hidden(value)
        if isinstance(value, (list, tuple)):
            return tuple(value)
        if type(value) is int:
            return (value,)
        raise ValueError(f"{show(value)} must be a list of layer sizes, e.g. [64, 32]")
    if key == "lr_drop_epochs":
        if isinstance(value, str):
            return parse_epochs(value)
        if isinstance(value, (list, tuple)):
            return tuple(value)
        if type(value) is int:
            return (value,)
        raise ValueError(f"{show(value)} must be a list of epoch numbers, e.g. [4, 6]")
    if kind is float and type(value) is int:
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"{show(value)} is too large a number") from None
    if kind is float and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{show(value)} is not a number") from None
        if not math.isfinite(number):  # a 400-digit rate rounds to inf; say what was typed
            raise ValueError(f"{show(value)} is not a finite number")
        return number
    if kind is int and isinstance(value, str):
        text = value.strip()
        if not (text.lstrip("+-").isascii() and text.lstrip("+-").isdigit()) or len(text) > 20:
            raise ValueError(f"{show(value)} is not a whole number")
        return int(text)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind is bool and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value
