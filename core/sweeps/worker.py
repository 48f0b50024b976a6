"""One trial in its own process: `python -m core.sweeps.worker SWEEP_DIR TRIAL_ID` trains an ordinary run.

The sweep's driver has already taken the trial (RUNNING); this process asks Optuna for the trial's values,
trains headless into a run folder of the runs folder (its record names the sweep and the trial), reports the
objective at every epoch end, asks the pruner, and tells the study how the trial ended. A pruned run stops with
the reason `pruned`. SIGINT/SIGTERM stop the run after the current step (its record stays whole).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

from core.backends import RunControl, get_trainer
from core.events import EpochEnded, Event, LogLine, RunStarted
from core.problems import ConfigError
from core.sweeps.space import config_for
from core.sweeps.study import (
    SweepSpec,
    load,
    make_pruner,
    make_sampler,
    open_storage,
    read_sweep_file,
    wait_for_spec,
)

EXIT_PRUNED = 0  # a pruned trial is a normal ending for the sweep
MARK = "sweep {name} trial {number}"  # the LogLine that ties a run folder to its sweep (see sweep_of)


def objective_value(objective: str, event: EpochEnded) -> float | None:
    """The objective's value at one epoch end (None when the epoch has no finite figure)."""
    value = event.val_accuracy if objective == "val_accuracy" else event.val_loss
    return value if math.isfinite(value) else None


class TrialHook:
    """Sits between the backend and the run's record: names the sweep, reports epochs, prunes."""

    def __init__(self, trial: Any, spec: SweepSpec, control: RunControl, pruner_name: str,
                 last_epoch: int = 0) -> None:
        self.trial = trial
        self.last_epoch = last_epoch  # the run's final epoch: done by then, never pruned (0 = unknown)
        self.spec = spec
        self.control = control
        self.pruner_name = pruner_name
        self.best: float | None = None
        self.pruned_at: int | None = None
        self._better = max if spec.direction == "maximize" else min

    def __call__(self, event: Event, emit: Callable[[Event], None]) -> None:
        emit(event)
        if isinstance(event, RunStarted):
            params = " ".join(f"{k}={v}" for k, v in self.trial.params.items())
            emit(LogLine(run_id=event.run_id, level="info", source="sweep",
                         message=MARK.format(name=self.spec.name, number=self.trial.number) + f": {params}"))
        elif isinstance(event, EpochEnded):
            value = objective_value(self.spec.objective, event)
            if value is None:
                return
            self.best = value if self.best is None else self._better(self.best, value)
            self.trial.report(self.best, event.epoch)  # the best so far: a pruned trial's value is its run's best
            final = self.last_epoch and event.epoch >= self.last_epoch
            if self.pruned_at is None and not final and self.trial.should_prune():
                self.pruned_at = event.epoch
                emit(LogLine(run_id=event.run_id, level="info", source="sweep",
                             message=f"pruned at epoch {event.epoch} by the {self.pruner_name} pruner "
                             f"({self.spec.objective} {self.best:.4g})"))
                stop_pruned(self.control)


def stop_pruned(control: RunControl) -> None:
    """Stop with the reason `pruned` (RunControl.stop(reason=...) where the backend supports it)."""
    try:
        control.stop(reason="pruned", source="sweep")  # recorded as one ControlApplied from the sweep
    except TypeError:  # an older RunControl: a plain stop (the summary then says stopped)
        control.stop()


class HookedTrainer:
    """A backend whose every event passes through the trial's hook first (so the record holds the sweep's lines)."""

    def __init__(self, inner: Any, hook: TrialHook) -> None:
        self.inner = inner
        self.hook = hook

    def fit(self, config: Any, data: Any, emit: Callable[[Event], None], control: RunControl, **kwargs: Any) -> Any:
        return self.inner.fit(config, data, lambda event: self.hook(event, emit), control, **kwargs)


class Heartbeat:
    """Optuna's heartbeat for a database storage: a trial whose process dies goes stale, fails and is retried."""

    def __init__(self, storage: Any, trial_id: int) -> None:
        self.storage = storage
        self.trial_id = trial_id
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="sweep-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        if hasattr(self.storage, "record_heartbeat") and self.storage.get_heartbeat_interval():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def _beat(self) -> None:
        while True:
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # a database hiccup: the next beat tries again
                pass
            if self._done.wait(self.storage.get_heartbeat_interval()):
                return


def run_trial(sweep_dir: Path, trial_id: int, *, data_dir: str | None, runs_dir: str, quiet: bool = False) -> int:
    """Train one taken trial to its end and tell the study; the process exit status."""
    import optuna
    from optuna.trial import TrialState

    from core.headless import HeadlessPrinter
    from core.session import run_training

    about = read_sweep_file(sweep_dir)
    storage = open_storage(about["storage"])
    name = about["name"]
    spec = wait_for_spec(storage, name, wait_s=5.0)
    number = storage.get_trial_number_from_id(trial_id)
    load(storage, name)  # a clear error when the study is gone
    study = optuna.load_study(study_name=name, storage=storage, sampler=make_sampler(spec, number),
                              pruner=make_pruner(spec))
    study.get_trials(deepcopy=False)  # a database study's cache learns the trial (Trial writes through it)
    trial = optuna.trial.Trial(study, trial_id)
    params = {space.field: space.suggest(trial) for space in spec.spaces}
    try:
        config = config_for(spec.base, params)
    except ConfigError as exc:  # values that clash with each other (each end was checked alone)
        storage.set_trial_system_attr(trial_id, "error", str(exc)[:300])
        study.tell(trial, state=TrialState.FAIL)
        print(f"trial {number}: {exc}", file=sys.stderr)
        return 0
    control = RunControl()
    signals: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        signals.append(signum)
        control.stop()  # every signal only asks: the driver decides when to give up waiting

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    printer = HeadlessPrinter(None if quiet else sys.stdout)
    hook = TrialHook(trial, spec, control, spec.prune, last_epoch=config.epochs)
    trainer = HookedTrainer(get_trainer(config.backend), hook)

    def on_run_dir(path: Path) -> None:
        storage.set_trial_system_attr(trial_id, "run_dir", str(Path(path).resolve()))  # any cwd finds it

    with Heartbeat(storage, trial_id):
        summary = run_training(config, printer, control, data_dir=data_dir, runs_dir=runs_dir, trainer=trainer,
                               on_run_dir=on_run_dir)
    if hook.pruned_at is not None:
        study.tell(trial, state=TrialState.PRUNED)
    elif signals or summary.reason == "stopped":
        storage.set_trial_system_attr(trial_id, "error", "stopped")
        study.tell(trial, state=TrialState.FAIL)
    elif hook.best is None or summary.reason == "failed":
        storage.set_trial_system_attr(trial_id, "error", f"run ended {summary.reason} without a "
                                      f"{spec.objective}")
        study.tell(trial, state=TrialState.FAIL)
    else:
        study.tell(trial, hook.best)
    return 128 + signals[0] if signals else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.sweeps.worker", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir")
    parser.add_argument("trial_id", type=int)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    return run_trial(Path(args.sweep_dir), args.trial_id, data_dir=args.data_dir, runs_dir=args.runs_dir,
                     quiet=args.quiet)


if __name__ == "__main__":
    sys.exit(main())
