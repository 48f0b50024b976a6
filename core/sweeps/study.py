"""The Optuna side of a sweep: its folder, storage, study, the queue of trials, samplers and pruners.

A sweep is a study whose trials are queued when it is created (`--trials` of them, WAITING): a process takes
one by moving it to RUNNING, which Optuna's storages do atomically, so several processes and machines split the
trials and no number runs twice. The spec (space, base settings, objective) lives in the study's user
attributes: a machine that joins runs exactly what the creator asked for. Optuna is imported lazily.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_text
from core.config import TrainConfig
from core.sweeps.space import Space

SWEEPS_DIR = "sweeps"  # under the runs folder: runs/sweeps/NAME/
SWEEP_FILE = "sweep.json"  # names the study and its storage
JOURNAL_FILE = "study.journal"  # the default storage: one host, nothing to install
SPEC_ATTR = "mnist_dash_sweep"  # study user attribute holding the SweepSpec
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
OBJECTIVES = {"val_accuracy": ("maximize", "best validation accuracy"),
              "val_loss": ("minimize", "lowest validation loss")}
PRUNERS = ("none", "median", "asha")
HEARTBEAT_S = 10  # database storages: a trial silent for 2x this long is failed (and retried once)
HEARTBEAT_ENV = "MNIST_DASH_SWEEP_HEARTBEAT"  # seconds, to tune it (a slow shared database, a test)
MAX_RETRY = 1
JOIN_WAIT_S = 60.0  # a joining machine waits this long for the creator to queue the trials


class SweepError(Exception):
    """A sweep that cannot be created, joined or read; str() is one line."""


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep searches and how: the one description every process of the sweep reads."""

    name: str
    spaces: tuple[Space, ...]
    base: TrainConfig = field(default_factory=TrainConfig)
    trials: int = 10
    objective: str = "val_accuracy"
    prune: str = "median"
    seed: int = 0

    @property
    def direction(self) -> str:
        return OBJECTIVES[self.objective][0]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "spaces": [s.to_dict() for s in self.spaces], "base": self.base.to_dict(),
                "trials": self.trials, "objective": self.objective, "prune": self.prune, "seed": self.seed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSpec:
        return cls(name=data["name"], spaces=tuple(Space.from_dict(s) for s in data["spaces"]),
                   base=TrainConfig.from_dict(data["base"]), trials=int(data["trials"]),
                   objective=data["objective"], prune=data["prune"], seed=int(data["seed"]))


def check_name(name: str) -> str | None:
    """Why `name` cannot name a sweep (it becomes a folder), or None."""
    if NAME.fullmatch(name):
        return None
    return f"{name!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def sweep_dir(runs_dir: str | os.PathLike, name: str) -> Path:
    """Where a sweep's folder lives: runs/sweeps/NAME."""
    return Path(runs_dir) / SWEEPS_DIR / name


def default_storage(folder: Path) -> str:
    """The journal file in the sweep's folder, as a storage description."""
    return f"journal:{folder.resolve() / JOURNAL_FILE}"


def write_sweep_file(folder: Path, name: str, storage: str, runs_dir: str | os.PathLike) -> None:
    """Name the study and its storage in the sweep's folder (the dashboard opens a sweep from it)."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / SWEEP_FILE, json.dumps({"name": name, "storage": storage,
                                                       "runs_dir": str(runs_dir)}, indent=2) + "\n")


def read_sweep_file(folder: str | os.PathLike) -> dict[str, str]:
    """The study name and storage named by a sweep folder (SweepError when it is not one)."""
    path = Path(folder) / SWEEP_FILE
    try:
        if not path.is_file():
            raise SweepError(f"{folder}: not a sweep folder (no {SWEEP_FILE})")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepError(f"{path}: cannot read it ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not isinstance(data.get("storage"),
                                                                                               str):
        raise SweepError(f"{path}: not a sweep description")
    return data


def quiet_optuna() -> None:
    """Optuna logs every trial at INFO and warns about experimental options: our own lines say what matters."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def open_storage(storage: str) -> Any:
    """An Optuna storage: 'journal:PATH' is a JournalStorage on a file; anything else an RDB URL with heartbeat."""
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    quiet_optuna()
    if storage.startswith("journal:"):
        path = Path(storage[len("journal:"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    last: Exception | None = None
    for _ in range(5):  # two processes creating a fresh SQLite file's tables at once: one of them retries
        try:
            return RDBStorage(storage, heartbeat_interval=heartbeat_seconds(),
                              heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY))
        except (ImportError, ValueError) as exc:  # no database driver installed, a malformed URL
            raise SweepError(f"--storage {storage}: {exc}") from None
        except Exception as exc:  # sqlalchemy's errors: a bad URL is final, a locked file is worth a retry
            if type(exc).__name__ in ("ArgumentError", "NoSuchModuleError"):
                raise SweepError(f"--storage {storage}: {exc}") from None
            last = exc
            time.sleep(0.5)
    raise SweepError(f"--storage {storage}: cannot open it ({last})")


def heartbeat_seconds() -> int:
    """Optuna's heartbeat interval for database storages: HEARTBEAT_S, or the environment's whole seconds."""
    text = os.environ.get(HEARTBEAT_ENV, "").strip()
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) <= 3600 else HEARTBEAT_S


def make_sampler(spec: SweepSpec, trial_number: int) -> Any:
    """TPE, seeded per trial: the same trial number draws the same start-up values on any worker or machine."""
    import optuna

    return optuna.samplers.TPESampler(seed=spec.seed + trial_number)


def startup_trials(trials: int) -> int:
    """Trials that finish before the median pruner may prune: a third of the sweep, 1 to 5."""
    return max(1, min(5, trials // 3))


def make_pruner(spec: SweepSpec) -> Any:
    """none, median (MedianPruner, per epoch) or asha (SuccessiveHalvingPruner)."""
    import optuna

    if spec.prune == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials(spec.trials), n_warmup_steps=0)
    if spec.prune == "asha":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def describe(spec: SweepSpec, storage: str) -> list[str]:
    """The sweep in words: space, sampler, pruner, storage (what --dry-run prints)."""
    label = OBJECTIVES[spec.objective][1]
    pruner = {"median": f"MedianPruner (per epoch, once {startup_trials(spec.trials)} trial(s) finished)",
              "asha": "SuccessiveHalvingPruner (asynchronous successive halving, per epoch)",
              "none": "none (every trial runs to its end)"}[spec.prune]
    where = f"journal file {storage[len('journal:'):]}" if storage.startswith("journal:") else storage
    return [f"sweep {spec.name}: {spec.trials} trials, objective {spec.objective} ({label}, {spec.direction}d)",
            *[f"  param {s.text()}" for s in spec.spaces],
            f"  sampler: TPESampler (seed {spec.seed} + trial number)",
            f"  pruner: {pruner}",
            f"  storage: {where}",
            "  base: " + " ".join(f"{k}={_text(v)}" for k, v in spec.base.to_dict().items()
                                  if v != _text_default(k))]


def _text(value: Any) -> str:
    return ",".join(map(str, value)) or "none" if isinstance(value, (list, tuple)) else str(value)


def _text_default(name: str) -> Any:
    return TrainConfig().to_dict()[name]


def create_or_join(spec: SweepSpec, storage: Any, *, wait_s: float = JOIN_WAIT_S) -> tuple[Any, SweepSpec, bool]:
    """(study, the study's spec, created): create the study and queue its trials, or join one by that name.

    Creating is atomic in every storage (a duplicate name is refused), so of two machines starting at once one
    creates and queues, the other joins and waits for the queue; a joined study keeps its creator's spec.
    """
    import optuna

    try:
        study = optuna.create_study(study_name=spec.name, storage=storage, direction=spec.direction,
                                    load_if_exists=False)
    except optuna.exceptions.DuplicatedStudyError:
        joined = wait_for_spec(storage, spec.name, wait_s)
        return optuna.load_study(study_name=spec.name, storage=storage), joined, False
    for _ in range(spec.trials):
        study.enqueue_trial({})  # empty: the sampler chooses every value when a process takes the trial
    study.set_user_attr(SPEC_ATTR, spec.to_dict())  # last: a joiner waits for it, so the queue is complete
    return study, spec, True


def wait_for_spec(storage: Any, name: str, wait_s: float = JOIN_WAIT_S) -> SweepSpec:
    """The spec of a study made by a sweep (its creator may be queueing trials still)."""
    deadline = time.monotonic() + wait_s
    sid = study_id(storage, name)
    while True:
        data = storage.get_study_user_attrs(sid).get(SPEC_ATTR)
        if isinstance(data, dict):
            return SweepSpec.from_dict(data)
        if time.monotonic() > deadline:
            raise SweepError(f"study {name} was not made by a sweep (no {SPEC_ATTR} attribute)")
        time.sleep(0.5)


def load(storage: Any, name: str) -> Any:
    """An existing study (SweepError when there is none by that name)."""
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise SweepError(f"no sweep called {name} in that storage") from None


def study_id(storage: Any, name: str) -> int:
    return storage.get_study_id_from_name(name)


def claim(storage: Any, name: str) -> int | None:
    """Take the first WAITING trial of the study (atomically: RUNNING by this call or not at all): its trial id."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    sid = study_id(storage, name)
    for trial in storage.get_all_trials(sid, deepcopy=False, states=(TrialState.WAITING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(sid, trial.number)
        try:
            if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                storage.set_trial_system_attr(trial_id, "host", socket.gethostname())
                return trial_id
        except UpdateFinishedTrialError:
            continue
    return None


def fail_and_retry(study: Any, storage: Any, number: int, why: str) -> bool:
    """Mark a RUNNING trial failed (its process died) and queue its retry through Optuna's retry callback."""
    from optuna.storages import RetryHeartbeatStaleTrialCallback
    from optuna.trial import TrialState

    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id(storage, study.study_name), number)
    if storage.get_trial(trial_id).state != TrialState.RUNNING:
        return False
    storage.set_trial_system_attr(trial_id, "error", why[:300])
    study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
    RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)(study, storage.get_trial(trial_id))
    return True


def fail_stale(study: Any) -> None:
    """Optuna's heartbeat check (database storages): trials of dead processes on any machine fail and retry."""
    from optuna.storages import fail_stale_trials

    fail_stale_trials(study)


def counts(study: Any) -> dict[str, int]:
    """Trials by state name, lower case (waiting, running, complete, pruned, fail)."""
    out: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        key = trial.state.name.lower()
        out[key] = out.get(key, 0) + 1
    return out
