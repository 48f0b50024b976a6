"""Lightning's log records and Python warnings during a run, as LogLine events instead of stderr text."""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from core.events import LogLine

if TYPE_CHECKING:
    from core.events import Event

# Loggers Lightning writes through; lightning.pytorch and lightning.fabric do not propagate to "lightning".
LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric")
QUIET_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


class EmitHandler(logging.Handler):
    """Turns Lightning's log records into LogLine events."""

    def __init__(self, emit: Callable[[Event], None], run_id: str) -> None:
        super().__init__(logging.DEBUG)
        self.sink, self.run_id = emit, run_id

    def emit(self, record: logging.LogRecord) -> None:
        # Lightning's info lines ("GPU available: ...", tips, "`Trainer.fit` stopped") describe Lightning, not the
        # run (the backend's own header says where it trains): debug. Its warnings and errors keep their level.
        level = "error" if record.levelno >= logging.ERROR else "warning" if record.levelno >= logging.WARNING \
            else "debug"
        try:
            message = record.getMessage().strip()
            self.sink(LogLine(run_id=self.run_id, level=level, message=message, source="lightning"))
        except Exception:  # a broken consumer must not break training through logging
            pass


@contextmanager
def route_lightning_logs(emit: Callable[[Event], None], run_id: str) -> Iterator[None]:
    """Send Lightning's log records and Python warnings to `emit` as LogLines; nothing reaches stderr."""
    handler = EmitHandler(emit, run_id)
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
        quiet = issubclass(category, QUIET_WARNINGS)
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
