"""TrainConfig: every knob of a run in one frozen, validated, JSON/TOML round-trippable dataclass."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

BACKENDS = ("scalar", "lightning")
ACTIVATIONS = ("relu", "tanh", "sigmoid")
LOSSES = ("mse", "cross_entropy")
OPTIMIZERS = ("sgd", "momentum", "adam")
INPUT_SIZES = (28, 14, 7)
INITS = ("scaled", "uniform")
DEVICES = ("auto", "cpu", "gpu")
MAX_WIDTH = 4096  # wider layers are a typo, not a plan; the scalar engine would need gigabytes


class ConfigError(ValueError):
    """One or more problems with a configuration, each naming the field, the value and what is allowed."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run. Defaults make the handmade engine learn visibly within seconds."""

    backend: str = "scalar"  # the handmade engine is the point of the tool; Lightning is one switch away
    hidden: tuple[int, ...] = (64, 32)  # the seed's 784-64-32-10 shape
    activation: str = "relu"  # trains fastest of the three and shows dead units in the inspector
    loss: str = "cross_entropy"  # learns faster than the seed's MSE on one-hot targets
    optimizer: str = "sgd"  # plain SGD: a watched weight moves by exactly -lr*grad
    lr: float = 0.05  # the seed's rate; stable with scaled init at every input size
    momentum: float = 0.9  # only read by the momentum optimiser (and as Adam's beta1 it is not used)
    batch_size: int = 8  # small: the handmade engine updates often, so curves move while you watch
    epochs: int = 3  # enough to see the validation curve bend
    train_subset: int = 2000  # 0 = all; 2,000 digits keep a handmade epoch under a minute
    val_subset: int = 500  # 0 = all; evaluated at every epoch end, so keep it small
    test_subset: int = 1000  # 0 = all; evaluated once at the end
    input_size: int = 14  # 14x14 average-pooled digits: 4x fewer weights, nearly the same accuracy
    init: str = "scaled"  # by fan-in; the seed's uniform U(-1,1) diverges within a few steps
    seed: int = 0  # one seed drives init, shuffling and the validation split: runs repeat exactly
    patience: int = 0  # epochs without validation improvement before stopping; 0 = off
    device: str = "auto"  # the GPU when there is one (Lightning only; the handmade engine is pure Python)
    devices: int = 1  # >1 means multi-device Lightning, which only the headless mode can run
    strategy: str = "auto"  # Lightning's strategy name (auto, ddp, fsdp, ...)
    num_nodes: int = 1  # machines in a multi-node Lightning run
    threads: int = 0  # Lightning CPU threads; 0 = auto (few for small models, one core left to the dashboard)
    cuda_graphs: bool = False  # Lightning on a GPU: capture the training step as a CUDA graph

    # ---- validation ------------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Every problem with this configuration, one readable line each; empty when valid."""
        out: list[str] = []

        def choice(name: str, allowed: tuple) -> None:
            value = getattr(self, name)
            if value not in allowed:
                out.append(f"{name}: {value!r} is not one of {', '.join(map(str, allowed))}")

        def integer(name: str, low: int, high: int | None = None, note: str = "") -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                out.append(f"{name}: {value!r} is not a whole number")
            elif value < low or (high is not None and value > high):
                span = f">= {low}" if high is None else f"between {low} and {high}"
                out.append(f"{name}: {value} must be {span}{note}")

        choice("backend", BACKENDS)
        if not isinstance(self.hidden, tuple) or not all(
            isinstance(h, int) and not isinstance(h, bool) for h in self.hidden
        ):
            out.append(f"hidden: {self.hidden!r} must be whole layer sizes, e.g. 64,32")
        elif any(h < 1 or h > MAX_WIDTH for h in self.hidden):
            out.append(f"hidden: {','.join(map(str, self.hidden))} each layer size must be 1..{MAX_WIDTH}")
        elif len(self.hidden) > 8:
            out.append(f"hidden: {len(self.hidden)} layers is too many (at most 8)")
        choice("activation", ACTIVATIONS)
        choice("loss", LOSSES)
        choice("optimizer", OPTIMIZERS)
        for name, high in (("lr", 10.0), ("momentum", 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                out.append(f"{name}: {value!r} is not a finite number")
            elif name == "lr" and not 0 < value <= high:
                out.append(f"lr: {value} must be > 0 and <= {high}")
            elif name == "momentum" and not 0 <= value < high:
                out.append(f"momentum: {value} must be >= 0 and < 1")
        integer("batch_size", 1, 65536)
        integer("epochs", 1, 10000)
        for name in ("train_subset", "val_subset", "test_subset"):
            integer(name, 0, note=" (0 = all)")
        choice("input_size", INPUT_SIZES)
        choice("init", INITS)
        integer("seed", 0, 2**32 - 1)
        integer("patience", 0, note=" (0 = off)")
        choice("device", DEVICES)
        integer("devices", 1, 1024)
        if not isinstance(self.strategy, str) or not self.strategy.strip():
            out.append(f"strategy: {self.strategy!r} must be a Lightning strategy name such as auto or ddp")
        elif "spawn" in self.strategy:
            # Spawned processes receive the training function by pickling, and the event callback can't be.
            out.append(f"strategy: {self.strategy!r} is not supported (spawned processes can't report events); use ddp")
        integer("num_nodes", 1, 1024)
        integer("threads", 0, 1024, note=" (0 = auto)")
        if not isinstance(self.cuda_graphs, bool):
            out.append(f"cuda_graphs: {self.cuda_graphs!r} must be true or false")
        if self.backend == "scalar" and not out:
            if self.devices != 1 or self.num_nodes != 1:
                out.append("devices/num_nodes: the handmade engine runs on one CPU core; use --backend lightning")
        return out

    def validate(self) -> TrainConfig:
        """Return self when valid; otherwise raise ConfigError listing every problem at once."""
        found = self.problems()
        if found:
            raise ConfigError(found)
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
        """Plain JSON-ready dict (hidden as a list)."""
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict; unknown keys are rejected by name, values are coerced where unambiguous."""
        if not isinstance(data, dict):
            raise ConfigError([f"config: expected an object of settings, got {type(data).__name__}"])
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(
                [f"{k}: unknown setting (known: {', '.join(known)})" for k in unknown]
            )
        kwargs: dict[str, Any] = {}
        problems: list[str] = []
        for key, value in data.items():
            try:
                kwargs[key] = _coerce(key, value, type(getattr(cls, key)))
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ConfigError(problems)
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError([f"config: not valid JSON ({exc.msg} at line {exc.lineno})"]) from None
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        """Write as JSON, atomically (temporary file, then rename)."""
        from core.runs import atomic_write_text

        atomic_write_text(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a JSON or TOML file (by extension; TOML may put settings under [train])."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([f"config file {path}: cannot read it ({exc.strerror or exc})"]) from None
        if path.suffix.lower() == ".toml":
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError([f"config file {path}: not valid TOML ({exc})"]) from None
            if set(data) == {"train"} and isinstance(data["train"], dict):
                data = data["train"]
            return cls.from_dict(data)
        try:
            return cls.from_json(text)
        except ConfigError as exc:
            raise ConfigError([f"config file {path}: {p}" for p in exc.problems]) from None


def parse_hidden(text: str) -> tuple[int, ...]:
    """'64,32' -> (64, 32); '' or 'none' -> () (a linear classifier)."""
    text = text.strip()
    if text.lower() in ("", "none", "-"):
        return ()
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(",") if part != "")
    except ValueError:
        raise ValueError(f"hidden: {text!r} must be comma-separated layer sizes, e.g. 64,32") from None


def _coerce(key: str, value: Any, kind: type) -> Any:
    """Turn JSON/TOML/CLI values into the field's type without hiding real mistakes."""
    if key == "hidden":
        if isinstance(value, str):
            return parse_hidden(value)
        if isinstance(value, (list, tuple)):
            return tuple(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return (value,)
        raise ValueError(f"hidden: {value!r} must be a list of layer sizes, e.g. [64, 32]")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{key}: {value!r} is not a number") from None
    if kind is int and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{key}: {value!r} is not a whole number") from None
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value
