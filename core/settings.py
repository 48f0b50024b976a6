"""Chart settings remembered per user: a small TOML file under the user's config directory.

`load_settings()` never fails: a missing file gives the defaults, a damaged one the defaults (or the values
it could read) and a message saying what was ignored; a FIFO or device in its place is never opened (it would
block), only named. `save_settings()` writes atomically, through a symlink (a dotfiles setup keeps its link),
and never replaces a file that is not a regular file.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import tomli_w
from platformdirs import user_config_dir

from core.atomic import atomic_write_bytes
from core.records.regular import read_regular

APP_NAME = "mnist-dash"
SETTINGS_FILE = "settings.toml"
SECTION = "chart"
X_AXES = ("step", "epoch", "samples", "time")
Y_MODES = ("auto", "outliers")  # outliers: the y range of the 1st..99th percentile of what is drawn
SMOOTHING_STEPS = (0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99, 0.999)
WINDOWS = (0, 100, 500, 2000, 10000, 50000)  # last N steps; 0 = the whole run
MAX_SMOOTHING = 0.999  # 1.0 would freeze the curve at its first value
MAX_SETTINGS_BYTES = 1 << 20  # the file holds a few lines; a bigger one is not ours


@dataclass(frozen=True)
class ChartSettings:
    """How the compare charts are drawn (what a user tunes and expects to find again next time)."""

    smoothing: float = 0.6  # TensorBoard's default weight: noisy per-report losses read as a trend
    log_loss: bool = False  # plot log10(loss): late training differences become visible
    x_axis: str = "step"  # one of X_AXES
    window: int = 0  # last N steps, following the newest; 0 = all
    y_mode: str = "auto"  # one of Y_MODES

    def problems(self) -> list[str]:
        """What is wrong with these values, one line each (empty when all are valid)."""
        out = []
        if not (isinstance(self.smoothing, (int, float)) and not isinstance(self.smoothing, bool)
                and math.isfinite(self.smoothing) and 0.0 <= self.smoothing <= MAX_SMOOTHING):
            out.append(f"smoothing must be a number from 0 to {MAX_SMOOTHING}, not {self.smoothing!r}")
        if not isinstance(self.log_loss, bool):
            out.append(f"log_loss must be true or false, not {self.log_loss!r}")
        if self.x_axis not in X_AXES:
            out.append(f"x_axis must be one of {', '.join(X_AXES)}, not {self.x_axis!r}")
        if not (isinstance(self.window, int) and not isinstance(self.window, bool) and self.window >= 0):
            out.append(f"window must be a whole number of steps (0 = all), not {self.window!r}")
        if self.y_mode not in Y_MODES:
            out.append(f"y_mode must be one of {', '.join(Y_MODES)}, not {self.y_mode!r}")
        return out

    def smoother(self, direction: int) -> ChartSettings:
        """The next smoothing step up (direction 1) or down (-1)."""
        if direction > 0:
            value = next((s for s in SMOOTHING_STEPS if s > self.smoothing + 1e-12), SMOOTHING_STEPS[-1])
        else:
            value = next((s for s in reversed(SMOOTHING_STEPS) if s < self.smoothing - 1e-12), 0.0)
        return replace(self, smoothing=value)

    def next_x_axis(self) -> ChartSettings:
        return replace(self, x_axis=X_AXES[(X_AXES.index(self.x_axis) + 1) % len(X_AXES)])

    def next_window(self) -> ChartSettings:
        later = [w for w in WINDOWS if w > self.window]
        return replace(self, window=later[0] if later else 0)

    def next_y_mode(self) -> ChartSettings:
        return replace(self, y_mode=Y_MODES[(Y_MODES.index(self.y_mode) + 1) % len(Y_MODES)])


def settings_path() -> Path:
    """Where the settings live: platformdirs' user config directory for mnist-dash."""
    return Path(user_config_dir(APP_NAME)) / SETTINGS_FILE


def load_settings(path: str | os.PathLike | None = None) -> tuple[ChartSettings, str | None]:
    """(settings, message): defaults for a missing file; for a damaged one, what could be read and why not."""
    path = Path(path) if path is not None else settings_path()
    try:
        raw = read_regular(path, MAX_SETTINGS_BYTES, follow=True)  # a link is followed; a FIFO never opened
        if len(raw) > MAX_SETTINGS_BYTES:
            return ChartSettings(), f"{path}: chart settings ignored, defaults used: too big to be settings"
        data = tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        return ChartSettings(), None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        if isinstance(exc, tomllib.TOMLDecodeError):
            why = f"not TOML ({exc})"
        return ChartSettings(), f"{path}: chart settings ignored, defaults used: {why}"
    section = data.get(SECTION, {})
    if not isinstance(section, dict):
        return ChartSettings(), f"{path}: [{SECTION}] is not a table; defaults used"
    settings, ignored = ChartSettings(), []
    known = {f.name for f in fields(ChartSettings)}
    for key, value in section.items():
        if key not in known:
            ignored.append(f"unknown setting {key!r}")
            continue
        candidate = replace(settings, **{key: value})
        problems = candidate.problems()
        if problems:
            ignored.extend(problems)
        else:
            settings = candidate
    message = f"{path}: ignored {'; '.join(ignored)}" if ignored else None
    return settings, message


def save_settings(settings: ChartSettings, path: str | os.PathLike | None = None) -> Path:
    """Write the settings atomically (parent folders made), through a symlink; OSError (NotRegularTarget) for a
    FIFO, device or folder in its place, which is never replaced. Returns the path."""
    path = Path(path) if path is not None else settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _other_tables(path)  # [terminal] and whatever else the user keeps there stays
    data[SECTION] = asdict(settings)
    atomic_write_bytes(path, tomli_w.dumps(data).encode("utf-8"), follow_links=True)
    return path


def _other_tables(path: Path) -> dict[str, Any]:
    """The settings file's content as it is (other sections kept on save); empty when missing or unreadable."""
    try:
        data = tomllib.loads(read_regular(path, MAX_SETTINGS_BYTES, follow=True).decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return data
