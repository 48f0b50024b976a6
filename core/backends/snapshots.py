"""The one snapshot box both backends' probes read: the training thread publishes, any thread reads the latest.

A backend's training thread takes a snapshot (its own immutable Snapshot type: the handmade engine's floats, or
Lightning's CPU tensors) between optimiser steps, after backward and before the update, so weights and grads
belong together, and hands it to `SnapshotBox.publish`, which swaps one reference. A probe answers every question
from `latest()`. `due()` bounds the rate (a copy costs time); `active` says someone asked for a probe (the
handmade engine publishes on a timer only then).
"""

from __future__ import annotations

import math
import time
from typing import Generic, Protocol, TypeVar


class Stepped(Protocol):
    step: int  # the optimiser step the snapshot belongs to


S = TypeVar("S", bound=Stepped)

PUBLISH_EVERY_S = 0.25  # about 4 snapshots a second while training and someone looks


class SnapshotBox(Generic[S]):
    """Where the training thread leaves its latest snapshot; any thread reads it."""

    def __init__(self, interval: float = PUBLISH_EVERY_S) -> None:
        self.interval = interval
        self.active = False  # set by the first probe built on this box
        self.t_published = -math.inf
        self._latest: S | None = None

    def publish(self, snapshot: S) -> None:
        """The newest snapshot (from the training thread only); replaces the last one in one reference swap."""
        self._latest = snapshot
        self.t_published = time.perf_counter()

    def latest(self) -> S | None:
        """The newest snapshot, or None before the first one."""
        return self._latest

    def due(self) -> bool:
        """Whether a snapshot is owed (the interval has passed since the last one)."""
        return time.perf_counter() - self.t_published >= self.interval
