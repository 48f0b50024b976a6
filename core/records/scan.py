"""Scans of a record's raw lines that keep events, not a fold: what `--open` replays, and the runs table's rates.

`read_events(path)` gives the events themselves in file order, the per-step kinds thinned by the fold's one rule
(core.records.fold.Series) and never parsed when dropped. `RateScan` tells a run's starting learning rate and
whether it changed, reading each record once and afterwards only what was appended.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from core.events import Event, RunStarted
from core.records.fold import Series
from core.records.jsonl import CHUNK, MAX_LINE, Skipped, iter_lines, open_regular, parse_line

PER_STEP = (b'{"type":"StepEnded"', b'{"type":"ScalarWatch"', b'{"type":"SystemStats"')
STEP_CAPACITY = 2048  # steps kept per per-step kind: twice the points a plot draws
_WATCH = b'{"type":"ScalarWatch"'
_KINDS = {prefix[9:12]: prefix for prefix in PER_STEP}  # b"Ste", b"Sca", b"Sys"
_STEP_FIELD = re.compile(rb'"step":(\d{1,12})')


def read_events(path: str | os.PathLike, *, capacity: int = STEP_CAPACITY,
                skipped: Skipped | None = None) -> list[Event]:
    """A record's events in file order, in bounded memory however long the run was.

    Every rare event (epochs, evaluations, logs, commands, the start and the end) is kept whole; the per-step
    ones (StepEnded, ScalarWatch, SystemStats) are thinned by Series' rule to about `capacity` steps each (a
    ScalarWatch by the step in its line, so a kept step keeps all its watches), always with the newest step's
    lines, and the lines that thinning drops are never parsed.
    """
    thinned = {kind: Series(capacity) for kind in PER_STEP}
    newest_step = dict.fromkeys(PER_STEP, -1)
    newest: dict[bytes, list[tuple[int, bytes]]] = {kind: [] for kind in PER_STEP}  # the newest step's lines
    kept: list[tuple[int, bytes]] = []
    for index, line in enumerate(iter_lines(path, skipped=skipped)):
        kind = _KINDS.get(line[9:12])  # cheaper than three startswith on every line of a long record
        if kind is None or not line.startswith(kind):
            kept.append((index, line))
            continue
        series = thinned[kind]
        if kind == _WATCH:
            found = _STEP_FIELD.search(line)
            key = int(found.group(1)) if found else 0
        else:
            # One line per report: its count stands for its step, counted from 0 as RunFold's Series counts, so
            # that folding these events keeps rows RunFold.read keeps (an opened record draws compare's points).
            key = series.count
        pair = (index, line)
        if key != newest_step[kind]:
            newest_step[kind] = key
            newest[kind].clear()
        newest[kind].append(pair)
        if key % series.stride == 0:  # Series.wants, inlined: this loop runs once per line of the record
            series.add(pair, key)
        else:
            series.count += 1
    for kind, series in thinned.items():
        kept.extend(series.kept)
        if not series.keys or series.keys[-1] != newest_step[kind]:
            kept.extend(newest[kind])
    kept.sort(key=lambda pair: pair[0])
    return [event for _, line in kept if (event := parse_line(line)) is not None]


_RATE_CHANGED = b'"type":"LearningRateChanged"'


@dataclass
class RateScan:
    """Per run folder: the learning rate its record started with and whether a change was recorded.

    Reads each record once and afterwards only what was appended (a refreshed runs table pays for new bytes
    only); the first line (RunStarted) gives the starting rate, a LearningRateChanged anywhere marks a change.
    """

    seen: dict[str, tuple[tuple[int, int], int, float | None, bool]] = field(default_factory=dict)

    def of(self, record: str | os.PathLike) -> tuple[float | None, bool]:
        """(starting rate or None, changed) of one events.jsonl; (None, False) when it cannot be read."""
        key = os.fspath(record)
        try:
            fh = open_regular(record)
        except OSError:
            self.seen.pop(key, None)
            return None, False
        with fh:
            st = os.fstat(fh.fileno())
            ident = (st.st_dev, st.st_ino)
            known = self.seen.get(key)
            if known is None or known[0] != ident or st.st_size < known[1]:  # new, or rewritten
                head = fh.readline(MAX_LINE)
                event = parse_line(head) if head.endswith(b"\n") else None
                lr = event.config.get("lr") if isinstance(event, RunStarted) else None
                start = float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None
                if start is None and not head.endswith(b"\n"):
                    return None, False  # the first line is still being written: read it next time
                known = (ident, 0, start, False)
            _, offset, start, changed = known
            if not changed:
                fh.seek(max(0, offset - len(_RATE_CHANGED) + 1))  # a match may straddle the last read's end
                tail = b""
                while chunk := fh.read(CHUNK):
                    window = tail + chunk
                    if _RATE_CHANGED in window:
                        changed = True
                        break
                    tail = window[1 - len(_RATE_CHANGED):]
            self.seen[key] = (ident, st.st_size, start, changed)
        return start, changed
