"""The sweep on this machine: take queued trials, run each in its own worker process, end with the table.

`--workers N` processes at a time. A worker that dies leaves its trial RUNNING: this driver sees the exit and
fails the trial through Optuna's retry callback (retried once); on a database storage Optuna's heartbeat does
the same for a process on another machine. SIGINT/SIGTERM: no new trials, SIGTERM to every worker of this
machine (each stops after its current step and writes its record), then the table.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

from core.sweeps.study import SweepSpec, claim, counts, fail_and_retry, fail_stale
from core.sweeps.view import best_row, fmt_value, jsonl_lines, reproduce, short_path, table_lines, trial_rows

POLL_S = 0.25  # how often the driver looks at its workers and a journal file
POLL_DATABASE_S = 1.0  # a database is shared by every machine's drivers and workers: ask it less often
EXIT_INTERRUPTED = 130


@dataclass
class Worker:
    """One trial's process."""

    process: subprocess.Popen
    trial_id: int
    number: int
    slot: int  # which of this machine's worker slots (and GPU, when there are several)


def worker_command(sweep_dir: Path, trial_id: int, *, data_dir: str | None, runs_dir: str) -> list[str]:
    """The command line of one trial's process (this package, headless)."""
    command = [sys.executable, "-m", "core.sweeps.worker", str(sweep_dir), str(trial_id), "--runs-dir", runs_dir]
    return command + (["--data-dir", data_dir] if data_dir else [])


def gpu_count() -> int:
    """GPUs on this machine (0 without NVML or GPUs): one worker per GPU by default for Lightning sweeps."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return int(pynvml.nvmlDeviceGetCount())
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no driver, no library: CPU only
        return 0


class SweepDriver:
    """Runs this machine's share of a sweep's trials; `run()` returns when none are left (or on a signal)."""

    def __init__(self, study: Any, storage: Any, spec: SweepSpec, sweep_dir: Path, *, workers: int,
                 data_dir: str | None, runs_dir: str, say: Callable[[str], None], gpus: int = 0) -> None:
        self.study = study
        self.storage = storage
        self.spec = spec
        self.sweep_dir = sweep_dir
        self.workers = max(1, workers)
        self.data_dir = data_dir
        self.runs_dir = runs_dir
        self.say = say
        self.gpus = gpus
        self.running: list[Worker] = []
        self.signals: list[int] = []
        self.logs = sweep_dir / "logs"

    def stop(self, signum: int) -> None:
        """A signal: take no more trials, ask every worker of this machine to stop."""
        first = not self.signals
        self.signals.append(signum)
        if first:
            self.say(f"{signal.Signals(signum).name}: stopping {len(self.running)} worker(s) after their current "
                     "step; their records stay whole (Ctrl+C again kills them)")
        elif signum == signal.SIGINT:  # the second Ctrl+C: the user does not want to wait
            self.say("killing the workers; their trials fail and are retried when the sweep runs again")
            for worker in self.running:
                _send(worker.process, signal.SIGKILL)
            return
        for worker in self.running:
            _send(worker.process, signal.SIGTERM)

    def run(self) -> None:
        """Until no trial is waiting, none of ours runs and (unless stopping) none runs elsewhere."""
        self.logs.mkdir(parents=True, exist_ok=True)
        database = hasattr(self.storage, "record_heartbeat") and bool(self.storage.get_heartbeat_interval())
        while True:
            self._reap()
            if not self.signals:
                if database:
                    fail_stale(self.study)  # Optuna's heartbeat: a dead process on any machine
                else:
                    self._orphans()  # the journal has no heartbeat: this host's dead processes
                self._start_more()
            states = counts(self.study)
            if not self.running and (self.signals or not states.get("waiting")) and \
                    (self.signals or not states.get("running")):
                return
            self._wait(POLL_DATABASE_S if database else POLL_S)

    def _wait(self, seconds: float) -> None:
        """Sleep until the next look, but wake as soon as one of our workers exits."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(w.process.poll() is not None for w in self.running):
                return
            time.sleep(0.05)

    def _start_more(self) -> None:
        used = {w.slot for w in self.running}
        while len(self.running) < self.workers:
            trial_id = claim(self.storage, self.spec.name)
            if trial_id is None:
                return
            slot = min(set(range(self.workers)) - used)
            used.add(slot)
            number = self.storage.get_trial_number_from_id(trial_id)
            env = dict(os.environ)
            if self.gpus > 1:  # one GPU per worker slot
                env["CUDA_VISIBLE_DEVICES"] = str(slot % self.gpus)
            log = open(self.logs / f"trial-{number:04d}.log", "w", encoding="utf-8")
            try:
                process = subprocess.Popen(
                    worker_command(self.sweep_dir, trial_id, data_dir=self.data_dir, runs_dir=self.runs_dir),
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                    start_new_session=True)  # Ctrl+C reaches the driver only; it stops each worker once
            finally:
                log.close()
            self.storage.set_trial_system_attr(trial_id, "pid", process.pid)
            beat(self.storage, trial_id)  # a first heartbeat now: a machine dying before its worker starts is seen
            self.running.append(Worker(process, trial_id, number, slot))
            self.say(f"trial {number}: started (worker {slot + 1}/{self.workers}, pid {process.pid}, "
                     f"log {self.logs.name}/trial-{number:04d}.log)")

    def _orphans(self) -> None:
        """Trials left RUNNING on this host by a driver that was killed: their process is gone, retry them."""
        ours = {w.number for w in self.running}
        for row in trial_rows(self.study, self.spec.direction):
            pid = row.pid
            if row.state == "running" and row.host == socket.gethostname() and row.number not in ours and pid \
                    and not _alive(pid):
                if fail_and_retry(self.study, self.storage, row.number, f"its process {pid} is gone"):
                    self.say(f"trial {row.number}: its process {pid} is gone; failed, retried once")

    def _reap(self) -> None:
        for worker in list(self.running):
            code = worker.process.poll()
            if code is None:
                continue
            self.running.remove(worker)
            last = last_line(self.logs / f"trial-{worker.number:04d}.log")
            why = f"its process exited with status {code}" + (f": {last}" if last else "")
            if fail_and_retry(self.study, self.storage, worker.number, why):
                self.say(f"trial {worker.number}: its process died (status {code}); failed, retried once"
                         + (f" ({last})" if last else ""))
                continue
            row = next((r for r in trial_rows(self.study, self.spec.direction) if r.number == worker.number), None)
            if row is not None:
                said = {"complete": f"complete, {self.spec.objective} {fmt_value(row.value)}",
                        "pruned": f"pruned at epoch {row.pruned_at}, {self.spec.objective} {fmt_value(row.value)}",
                        "failed": f"failed ({row.error or 'see its log'})"}.get(row.state, row.state)
                self.say(f"trial {worker.number}: {said} ({short_path(row.run_dir)})")


def last_line(path: Path, tail: int = 2048) -> str:
    """The last non-empty line of a worker's log (a traceback's last line says why it died); '' when none."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - tail))
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return next((line.strip()[:200] for line in reversed(lines) if line.strip()), "")


def beat(storage: Any, trial_id: int) -> None:
    """One Optuna heartbeat for the trial (database storages; the journal file has none)."""
    if hasattr(storage, "record_heartbeat") and storage.get_heartbeat_interval():
        storage.record_heartbeat(trial_id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _send(process: subprocess.Popen, signum: int) -> None:
    try:
        process.send_signal(signum)
    except (ProcessLookupError, OSError):
        pass


def summary_lines(study: Any, spec: SweepSpec) -> tuple[list[str], list[str]]:
    """(the human summary: table, best trial and its command; the JSON lines of the same)."""
    rows = trial_rows(study, spec.direction)
    best = best_row(rows, spec.direction)
    states = counts(study)
    tally = ", ".join(f"{n} {word}" for word, n in sorted(states.items()))
    lines = [f"sweep {spec.name}: {len(rows)} trials ({tally})", *table_lines(rows, [s.field for s in spec.spaces])]
    if best is None:
        lines.append("no trial completed")
    else:
        settings = " ".join(f"{k}={fmt_value(v)}" for k, v in best.params.items())
        lines += [f"best: trial {best.number}, {spec.objective} {best.value:.4f} ({settings})",
                  f"reproduce: {reproduce(spec, best.params)}"]
    return lines, jsonl_lines(rows, spec, best)


def print_summary(study: Any, spec: SweepSpec, out: TextIO, jsonl: TextIO | None) -> None:
    """The table and the best trial on `out`; the JSON lines on `jsonl` when asked."""
    lines, records = summary_lines(study, spec)
    for line in lines:
        print(line, file=out, flush=True)
    if jsonl is not None:
        for record in records:
            print(record, file=jsonl, flush=True)
