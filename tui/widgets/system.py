"""The system pane: CPU, memory and GPU figures of the training process as small sparklines.

Fed by the run's `SystemStats` events (an own run records one every 2 s; a followed or opened run shows what
its record holds), kept in the run's fold (`core.records.fold.RunFold`), redrawn on the app's timer when new
samples arrived.
"""

from __future__ import annotations

from typing import Sequence

from textual.widgets import Static

from core.events import SystemStats
from core.records.fold import RunFold

BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 16
GIB, MIB = 1 << 30, 1 << 20


def sparkline(values: Sequence[float | None], width: int = SPARK_WIDTH, low: float | None = 0.0,
              high: float | None = None) -> str:
    """The last `width` values as block characters between `low` (None: their minimum) and `high` (default:
    their maximum)."""
    tail = [v for v in values if v is not None][-width:]
    if not tail:
        return " " * width
    low = min(tail) if low is None else low
    top = max(high if high is not None else 0.0, max(tail))
    span = top - low
    chars = [BARS[0] if span <= 0 else BARS[min(len(BARS) - 1, max(0, int((v - low) / span * len(BARS))))]
             for v in tail]
    return "".join(chars).rjust(width)


def size(n: float) -> str:
    """Bytes as MiB below a GiB, else GiB with one decimal."""
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / MIB:.0f} MiB"


def lines(samples: Sequence[SystemStats], width: int = SPARK_WIDTH) -> list[str]:
    """The pane's text: one row per figure (markup)."""
    if not samples:
        return ["[dim]no system figures yet[/]", "[dim](a run records them every 2 s)[/]"]
    last = samples[-1]
    cpu = [s.cpu_percent for s in samples]
    rss = [float(s.rss_bytes) for s in samples]
    out = [
        f"cpu [green]{sparkline(cpu, width, high=100.0)}[/] {last.cpu_percent:5.0f} %",
        f"mem [cyan]{sparkline(rss, width, low=None)}[/] {size(last.rss_bytes):>8}",
    ]
    if last.gpu_util is None and last.gpu_memory_bytes is None and last.gpu_temperature_c is None:
        out.append("gpu [dim]no GPU[/]")
        return out
    if last.gpu_util is not None:
        out.append(f"gpu [yellow]{sparkline([s.gpu_util for s in samples], width, high=100.0)}[/] "
                   f"{last.gpu_util:5.0f} %")
    if last.gpu_memory_bytes is not None:
        total = last.gpu_memory_total_bytes
        memory = [None if s.gpu_memory_bytes is None else float(s.gpu_memory_bytes) for s in samples]
        out.append(f"vram[magenta]{sparkline(memory, width, high=float(total) if total else None)}[/] "
                   f"{size(last.gpu_memory_bytes):>8}" + (f" / {size(total)}" if total else ""))
    if last.gpu_temperature_c is not None:
        temps = [s.gpu_temperature_c for s in samples]
        out.append(f"temp[red]{sparkline(temps, width, low=20.0, high=90.0)}[/] {last.gpu_temperature_c:5.0f} °C")
    return out


class SystemPane(Static):
    """CPU %, RSS and (when present) GPU utilisation, memory and temperature of the training process."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self._drawn = -1

    def on_mount(self) -> None:
        self.border_title = "system"
        self.update("\n".join(lines([])))

    def update_from(self, marks: RunFold) -> None:
        """Redraw when new samples arrived since the last call (cheap otherwise)."""
        if marks.version == self._drawn:
            return
        self._drawn = marks.version
        self.update("\n".join(lines(list(marks.system))))
