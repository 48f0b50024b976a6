"""What the inspector reads from the dashboard: the config in force, the live model or module, the sample."""

from __future__ import annotations

from typing import Any, Sequence

from core.config import TrainConfig
from core.inspect import AddressError, resolve_scalar, tensor_value
from core.inspect_view import fmt, incoming, incoming_torch

ACTIVE = ("starting", "running", "paused", "stopping")


class LiveReader:
    """Read-only accessors over the app (history, trainer, config), tolerant of what is not there yet."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._cached: tuple[str, TrainConfig | None] = ("", None)

    def run(self) -> Any:
        history = getattr(self.app, "history", None)
        return getattr(history, "current", None)

    def state(self) -> str:
        return str(getattr(self.app, "state", "idle"))

    def config(self) -> TrainConfig | None:
        """The running run's config while one goes, else the app's (the next run's)."""
        run = self.run()
        if run is not None and run.started is not None and self.state() in ACTIVE:
            if self._cached[0] != run.run_id:
                try:
                    self._cached = (run.run_id, TrainConfig.from_dict(run.config))
                except ValueError:
                    self._cached = (run.run_id, None)
            if self._cached[1] is not None:
                return self._cached[1]
        return getattr(self.app, "config", None)

    def layer_sizes(self) -> tuple[int, ...]:
        config = self.config()
        return tuple(config.layer_sizes) if config is not None else ()

    def backend(self) -> str:
        config = self.config()
        return config.backend if config is not None else "scalar"

    def graph_nodes(self) -> bool:
        return self.backend() == "scalar"

    def loss_name(self) -> str:
        config = self.config()
        return config.loss if config is not None else "cross_entropy"

    def input_side(self) -> int | None:
        config = self.config()
        return config.input_size if config is not None else None

    def model(self) -> Any:
        """The handmade MLP being trained (or last trained), when it has the shape in force."""
        model = getattr(getattr(self.app, "trainer", None), "model", None)
        if model is None or not hasattr(model, "resolve") or self.backend() != "scalar":
            return None
        if (getattr(model, "nin", None), *getattr(model, "nouts", ())) != self.layer_sizes():
            return None
        return model

    def module(self) -> Any:
        """The torch module of a Lightning run (its nn.Linear layers hold the parameters)."""
        if self.backend() != "lightning":
            return None
        return getattr(getattr(self.app, "trainer", None), "module", None)

    def sample(self) -> tuple[Sequence[float], int] | None:
        return getattr(getattr(self.app, "trainer", None), "current_sample", None)

    def incoming(self, layer: int, neuron: int) -> tuple[list[float] | None, list[float] | None]:
        """A neuron's incoming weights and grads, from the engine or the parameter tensors."""
        sizes = self.layer_sizes()
        if not 0 <= layer < len(sizes) - 1 or not 0 <= neuron < sizes[layer + 1]:
            return None, None
        model, module = self.model(), self.module()
        try:
            if model is not None:
                return incoming(model, layer, neuron, sizes[layer])
            if module is not None:
                return incoming_torch(module, layer, neuron)
        except (KeyError, IndexError, AttributeError, RuntimeError):
            pass
        return None, None

    def describe(self, address: str | None) -> str:
        """'live: data … grad …' read right now from the engine or the tensors ('' when not possible)."""
        if not address:
            return ""
        model, module = self.model(), self.module()
        try:
            if model is not None:
                node = resolve_scalar(model, address)
                return f"live now (engine): data {fmt(node.data)}  grad {fmt(node.grad)}"
            if module is not None:
                data, grad = tensor_value(module, address)
                return f"live now (tensor): data {fmt(data)}  grad {fmt(grad)}"
        except (AddressError, IndexError, RuntimeError):
            return ""
        return ""
