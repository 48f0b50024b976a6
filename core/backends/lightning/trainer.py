"""LightningTrainer: the Trainer protocol for the Lightning backend (cheap to import: torch loads inside fit)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from core.backends import RunControl, RunSummary, new_run_id
from core.backends.lightning.device import env_rank_zero
from core.backends.lightning.logs import route_lightning_logs
from core.backends.runbook import run_failed

if TYPE_CHECKING:
    from core.backends.lightning.probe import LightningProbe
    from core.config import TrainConfig
    from core.data import MnistData
    from core.events import Event


class LightningTrainer:
    """Trains the configured MLP with PyTorch Lightning; reports through events, never raises."""

    name = "lightning"

    def __init__(self) -> None:
        self.module = None  # the LightningModule of the current (or last) run (tests and benchmarks only)
        self.book = self.box = self.callback = None
        self._probe: LightningProbe | None = None

    def probe(self) -> LightningProbe | None:
        """The read-only view of the model for any thread; None before a run has published a snapshot."""
        probe = self._probe
        return probe if probe is not None and probe.ready() else None

    def fit(self, config: TrainConfig, data: MnistData, emit: Callable[[Event], None], control: RunControl, *,
            run_id: str | None = None, checkpoint_dir: Path | None = None,
            resume_from: Path | None = None) -> RunSummary:
        """Run one training run to its end; RunStarted first, RunFinished or RunFailed last."""
        run_id = run_id or new_run_id(self.name)
        self.module = self.book = self.box = self.callback = self._probe = None
        rank_zero = env_rank_zero()

        def tracked(event: Event) -> None:
            if rank_zero:
                emit(event)

        try:
            config.validate()
            from core.backends.lightning.fit import run_fit  # imports lightning, which adds its stderr handlers

            with route_lightning_logs(tracked, run_id):
                return run_fit(self, config, data, tracked, control, run_id=run_id,
                               checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir),
                               resume_from=None if resume_from is None else Path(resume_from))
        except BaseException as exc:  # noqa: B036 -- fit never raises; Lightning may turn ^C into SystemExit
            position = getattr(self.book, "position", None)  # how far a run got before it failed
            event, summary = run_failed(
                run_id, exc, steps=getattr(position, "step", 0), epochs_completed=getattr(position, "epoch", 0),
                seconds=self.book.seconds() if self.book is not None else 0.0,
            )
            try:  # no RunStarted first: a run that fails before starting leaves a resumed record untouched
                tracked(event)
            except Exception:
                pass
            return summary

