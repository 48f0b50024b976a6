"""The one colour table for a run's status: the runs table, the compare table and the dashboard's status line."""

from __future__ import annotations

from core.events import STATUSES

# Every word of core.events.STATUSES (what core.records.status.run_status says of a run folder), then the
# dashboard's own-run states that are not statuses (tui.controller: idle, starting, running, stopping, viewing).
STATUS_STYLE: dict[str, str] = {
    "completed": "green",
    "early_stopped": "green",
    "diverged": "red",
    "stopped": "yellow",
    "failed": "red",
    "pruned": "dim",
    "killed": "bold red",
    "paused": "yellow",
    "live": "bold green",
    "stale": "dim yellow",
    "incomplete": "dim",
    "idle": "dim",
    "starting": "yellow",
    "running": "green",
    "stopping": "yellow",
    "viewing": "cyan",
}
assert set(STATUSES) <= set(STATUS_STYLE), "every status has a colour"


def status_style(word: str) -> str:
    """The Rich style of a status word, also as the status line words it ("early stopped", "live · followed")."""
    return STATUS_STYLE.get(word.split(" · ", 1)[0].strip().replace(" ", "_").replace("-", "_"), "")
