"""Where a run's digits came from, kept in its folder, so `--resume RUN` trains on the same data.

The run folder's DATA_FILE says `{"kind": "directory", "dir": ABSOLUTE, "files": [{"name", "size"}...]}` or
`{"kind": "sample"}` (the embedded sample). `--resume RUN` uses it; `--data-dir` overrides it; a folder that
says nothing (an older run) leaves the usual search.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.atomic import atomic_write_text
from core.records.files import DATA_FILE

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.data import MnistData

LAYOUTS = ("", os.path.join("MNIST", "raw"))  # the directory itself, or torchvision's layout under it


def describe(data: MnistData) -> dict[str, Any]:
    """What DATA_FILE says about `data`: the embedded sample, or the directory and its four files."""
    if data.is_sample:
        return {"kind": "sample", "source": data.source}
    from core.data import FILES

    directory = os.path.abspath(os.path.expanduser(data.source))
    files = []
    for base, _ in FILES.values():
        for layout in LAYOUTS:
            found = next((os.path.join(layout, name) for name in (base, f"{base}.gz")
                          if os.path.isfile(os.path.join(directory, layout, name))), None)
            if found:
                files.append({"name": found, "size": os.path.getsize(os.path.join(directory, found))})
                break
    return {"kind": "directory", "dir": directory, "files": files}


def record(run_dir: str | Path, data: MnistData) -> None:
    """Write DATA_FILE into the run folder (a resume that changed the data rewrites it)."""
    atomic_write_text(Path(run_dir) / DATA_FILE, json.dumps(describe(data), indent=2) + "\n")


def recorded(run_dir: str | Path) -> dict[str, Any] | None:
    """What the run folder says about its data; None when it says nothing readable (an older run)."""
    path = Path(run_dir) / DATA_FILE
    try:
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("kind") in ("directory", "sample") else None


def gone(info: dict[str, Any]) -> str | None:
    """Why the recorded data cannot be read again (the directory or one of its files is gone), or None."""
    if info.get("kind") != "directory":
        return None
    directory = str(info.get("dir", ""))
    if not os.path.isdir(directory):
        return f"{directory} is gone"
    for entry in info.get("files", []):
        name = str(entry.get("name", "")) if isinstance(entry, dict) else ""
        if name and not os.path.isfile(os.path.join(directory, name)):
            return f"{os.path.join(directory, name)} is gone"
    return None


def sample_data(config: TrainConfig) -> MnistData:
    """The embedded sample prepared for `config`, whatever $MNIST_DASH_DATA or the cache hold."""
    from core.data import RawMnist, prepare, read_sample

    arrays = read_sample()
    n_train, n_test = len(arrays["train_labels"]), len(arrays["test_labels"])
    raw = RawMnist(**arrays, source=f"embedded MNIST sample ({n_train:,} train / {n_test:,} test)", is_sample=True)
    return prepare(raw, input_size=config.input_size, seed=config.seed, train_subset=config.train_subset,
                   val_subset=config.val_subset, test_subset=config.test_subset)


def for_resume(run_dir: str | Path, data_dir: str | None,
               config: TrainConfig) -> tuple[str | None, MnistData | None, str | None]:
    """(data_dir, data, problem) for resuming `run_dir`: the flag wins, else what the folder recorded."""
    if data_dir:
        return data_dir, None, None
    info = recorded(run_dir)
    if info is None:
        return None, None, None
    if info["kind"] == "sample":
        return None, sample_data(config), None
    why = gone(info)
    if why:
        return None, None, (f"--resume {run_dir}: the run's data is gone ({why}, as {DATA_FILE} recorded); "
                            "name where it is now with --data-dir DIR")
    return str(info["dir"]), None, None
