"""The Lightning backend: the handmade engine's network shape, trained by PyTorch Lightning.

Importing this module is cheap: torch and lightning are imported inside functions only, so the dashboard's
first frame and the scalar path never pay for them. The torch-dependent pieces live in
core.backends._lightning_impl (network, device-resident batches, LightningModule), _lightning_events (the
Callback that turns training into events) and _lightning_run (one run, checkpoints).
"""

from __future__ import annotations

import logging
import os
import time
import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from core.backends import RunControl, RunSummary, new_run_id
from core.events import LogLine, RunFailed, RunStarted

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.data import MnistData
    from core.events import Event

CHECKPOINT_NAME = "lightning.pt"
GPU_MISSING = (
    "device=gpu but no CUDA GPU is visible (torch.cuda.is_available() is False); use --device cpu or auto"
)
# Loggers Lightning writes through; lightning.pytorch and lightning.fabric do not propagate to "lightning".
LIGHTNING_LOGGERS = (
    "lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "pytorch_lightning",
    "lightning_fabric",
)


class DeviceError(RuntimeError):
    """The requested device cannot be used here."""


def describe_device(device: str = "auto") -> str:
    """'cpu', or the name of the GPU `device` resolves to (e.g. 'NVIDIA H200')."""
    import torch

    if device == "cpu" or resolve_accelerator(device) == "cpu":
        return "cpu"
    index = int(device.split(":", 1)[1]) if device.startswith("cuda:") else 0
    return torch.cuda.get_device_name(index)


def resolve_accelerator(device: str) -> str:
    """Map a config device (auto, cpu, gpu) to Lightning's accelerator name ('gpu' or 'cpu')."""
    import torch

    if device == "cpu":
        return "cpu"
    available = torch.cuda.is_available()
    if device == "auto":
        return "gpu" if available else "cpu"
    if device in ("gpu", "cuda") or device.startswith("cuda:"):
        if not available:
            raise DeviceError(GPU_MISSING)
        return "gpu"
    raise DeviceError(f"device={device!r} is not one of auto, cpu, gpu")


def ensure_single_device(config: TrainConfig) -> None:
    """Raise ValueError unless the run uses one device on one node (what the dashboard can host)."""
    if config.devices > 1 or config.num_nodes > 1:
        raise ValueError(
            f"devices={config.devices}, num_nodes={config.num_nodes}: the dashboard trains on one device; "
            "multi-device Lightning (DDP relaunches the program) runs only in headless mode: "
            "mnist-dash --headless --backend lightning --devices N --strategy ddp"
        )


def parse_address(address: str) -> tuple[int, int, int | None] | None:
    """'L0.N12.w345' -> (0, 12, 345); 'L1.N3.b' -> (1, 3, None); graph nodes and junk -> None."""
    from core.nn import parse_address as parse

    try:
        parsed = parse(address)
    except ValueError:
        return None
    if parsed.kind not in ("w", "b"):
        return None
    return parsed.layer, parsed.neuron, parsed.index


def is_graph_node(address: str) -> bool:
    """True for the handmade engine's graph-node addresses (L0.N12.z, L0.N12.a, loss)."""
    from core.nn import parse_address as parse

    try:
        return parse(address).kind in ("z", "a", "loss")
    except ValueError:
        return False


def env_rank_zero() -> bool:
    """Whether this process is global rank zero, from the launcher's environment (True when not distributed)."""
    if "RANK" in os.environ:
        return os.environ["RANK"] == "0"
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


class _EmitHandler(logging.Handler):
    """Turns Lightning's log records into LogLine events."""

    def __init__(self, emit: Callable[[Event], None], run_id: str) -> None:
        super().__init__(logging.DEBUG)
        self._emit = emit
        self._run_id = run_id

    def emit(self, record: logging.LogRecord) -> None:
        level = "error" if record.levelno >= logging.ERROR else record.levelname.lower()
        if level not in ("debug", "info", "warning", "error"):
            level = "info"
        try:
            message = record.getMessage().strip()
            if message.startswith("💡"):  # Lightning's product tips say nothing about this run
                level = "debug"
            self._emit(LogLine(run_id=self._run_id, level=level, message=message, source="lightning"))
        except Exception:  # a broken consumer must not break training through logging
            pass


@contextmanager
def route_lightning_logs(emit: Callable[[Event], None], run_id: str) -> Iterator[None]:
    """Send Lightning's log records and Python warnings to `emit` as LogLines; nothing reaches stderr."""
    handler = _EmitHandler(emit, run_id)
    saved = []
    for name in LIGHTNING_LOGGERS:
        log = logging.getLogger(name)
        streams = [h for h in log.handlers if type(h) is logging.StreamHandler]
        for h in streams:
            log.removeHandler(h)
        saved.append((log, streams, log.propagate))
        log.addHandler(handler)
        log.propagate = False  # each record is handled once, by its nearest listed logger

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        # Deprecations inside torch/Lightning are for their maintainers, not for someone training.
        quiet = issubclass(category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning))
        text = f"{category.__name__}: {message} ({Path(filename).name}:{lineno})"
        try:
            emit(LogLine(run_id=run_id, level="debug" if quiet else "warning", message=text, source="lightning"))
        except Exception:  # a broken consumer must not break training through a warning
            pass

    saved_show = warnings.showwarning
    warnings.showwarning = show_warning
    try:
        yield
    finally:
        warnings.showwarning = saved_show
        for log, streams, propagate in saved:
            log.removeHandler(handler)
            for h in streams:
                log.addHandler(h)
            log.propagate = propagate


class LightningTrainer:
    """Trains the configured MLP with PyTorch Lightning; reports through events, never raises."""

    name = "lightning"

    def __init__(self) -> None:
        self.module = None  # the LightningModule of the current (or last) run, for the inspector
        self.callback = None  # its events callback (progress counters)

    def fit(
        self,
        config: TrainConfig,
        data: MnistData,
        emit: Callable[[Event], None],
        control: RunControl,
        *,
        run_id: str | None = None,
        checkpoint_dir: Path | None = None,
        resume_from: Path | None = None,
    ) -> RunSummary:
        """Run one training run to its end; RunStarted first, RunFinished or RunFailed last."""
        run_id = run_id or new_run_id(self.name)
        self.module = self.callback = None
        rank_zero = env_rank_zero()
        started = False
        t0 = time.perf_counter()

        def tracked(event: Event) -> None:
            nonlocal started
            if not rank_zero:
                return
            started = started or isinstance(event, RunStarted)
            emit(event)

        try:
            config.validate()
            from core.backends import _lightning_run  # imports lightning, which adds its stderr handlers

            with route_lightning_logs(tracked, run_id):
                return _lightning_run.run_fit(
                    self,
                    config,
                    data,
                    tracked,
                    control,
                    run_id=run_id,
                    checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir),
                    resume_from=None if resume_from is None else Path(resume_from),
                )
        except BaseException as exc:  # noqa: B036 -- fit never raises; Lightning may turn ^C into SystemExit
            try:
                if not started:
                    tracked(_fallback_started(run_id, config, data))
                tracked(
                    RunFailed(
                        run_id=run_id,
                        error=str(exc) or type(exc).__name__,
                        error_type=type(exc).__name__,
                        traceback=traceback.format_exc(),
                    )
                )
            except Exception:
                pass
            callback = getattr(self, "callback", None)  # how far a run got before it failed
            return RunSummary(
                run_id=run_id,
                reason="failed",
                steps=getattr(callback, "step", 0),
                epochs_completed=getattr(callback, "epochs_done", 0),
                seconds=time.perf_counter() - t0,
                message=str(exc),
            )


def _fallback_started(run_id: str, config: TrainConfig, data: MnistData) -> RunStarted:
    """The RunStarted a run that failed before starting still owes its listeners."""
    return RunStarted(
        run_id=run_id,
        backend="lightning",
        device=str(getattr(config, "device", "?")),
        data_source=str(getattr(data, "source", "")),
        config=config.to_dict(),
        train_size=_size(data, "train"),
        val_size=_size(data, "val"),
        test_size=_size(data, "test"),
        parameter_count=config.parameter_count() if not config.problems() else 0,
    )


def _size(data: object, split: str) -> int:
    try:
        return len(getattr(data, split))
    except Exception:
        return 0
