"""Waiting in Pilot tests for a condition the app reaches on its own (a worker, a timer, a real run)."""

from __future__ import annotations

from typing import Any, Callable


async def wait_for(pilot: Any, condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Let the app run until `condition()` holds; AssertionError after `timeout` seconds."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached in time")
