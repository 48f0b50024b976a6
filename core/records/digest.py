"""Moved: the one fold of a record is core.records.fold (RunFold, Series); read_events is core.records.scan.

A thin shim so that importers not yet switched (core.records.runs: read_events) keep working; nothing here folds.
"""

from __future__ import annotations

from core.records.scan import STEP_CAPACITY, read_events

__all__ = ["STEP_CAPACITY", "read_events"]
