"""The log-mode front end: plain lines for log files, the JSONL event stream, signals and exit codes."""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TextIO

from core.backends import RunControl, RunSummary
from core.config import TrainConfig
from core.evaluation import format_confusion
from core.events import (
    ControlApplied,
    EpochEnded,
    Evaluation,
    Event,
    LearningRateChanged,
    LogLine,
    RunFailed,
    RunFinished,
    RunStarted,
    ScalarWatch,
    StepEnded,
)
from core.exits import EXIT_FAILED, EXIT_USAGE, for_reason, for_signal
from core.records.jsonl import to_json
from core.signals import DEFAULT_HANGUP, SignalPolicy, hangup_message, signal_name, tty_fds

if TYPE_CHECKING:
    from core.data import MnistData
    from core.records.live import LiveRun

PROGRESS_SECONDS = 5.0  # at most one progress line this often: log files stay readable


class HeadlessPrinter:
    """Turns events into log lines (and, optionally, JSON lines); safe to call from the training thread."""

    def __init__(self, out: TextIO | None, *, jsonl: TextIO | None = None,
                 progress_seconds: float = PROGRESS_SECONDS, show_debug: bool = False) -> None:
        self.out = out
        self.jsonl = jsonl
        self.progress_seconds = progress_seconds
        self.show_debug = show_debug
        self.run_dir = ""
        self.epochs = 0
        self._lock = threading.Lock()
        self._last_progress = time.monotonic()
        self._eta_origin: tuple[float, float] | None = None  # (monotonic time, progress) of the first step
        self._watched: dict[str, ScalarWatch] = {}  # latest value of each --watch address

    def line(self, text: str) -> None:
        with self._lock:
            if self.out is not None:
                self.out = _write(self.out, text + "\n", flush=True)

    def __call__(self, event: Event) -> None:
        if self.jsonl is not None:
            flush = isinstance(event, (EpochEnded, RunFinished, RunFailed)) or self.jsonl is sys.stdout
            with self._lock:
                if self.jsonl is not None:
                    self.jsonl = _write(self.jsonl, to_json(event) + "\n", flush=flush)
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            handler(event)

    # ---- one method per event type ----------------------------------------------------------------

    def _on_RunStarted(self, e: RunStarted) -> None:
        self.run_dir = e.run_dir or self.run_dir
        self.epochs = int(e.config.get("epochs", 0) or 0)
        self._last_progress = time.monotonic()
        done = e.resumed_from_step / e.total_steps if e.total_steps else 0.0
        self._eta_origin = (self._last_progress, min(done, 1.0))
        try:
            shape = "-".join(map(str, TrainConfig.from_dict(e.config).layer_sizes))
        except (ValueError, TypeError):  # a config from a newer or older version: show the rest anyway
            shape = "?"
        resumed = f" (resuming at step {e.resumed_from_step})" if e.resumed_from_step else ""
        self.line(f"run {e.run_id}: backend {e.backend} on {e.device}{resumed}")
        self.line(f"data: {e.data_source}; train {e.train_size:,} / val {e.val_size:,} / test {e.test_size:,}")
        self.line("config: " + " ".join(f"{k}={_fmt_value(v)}" for k, v in e.config.items()))
        steps = f", {e.total_steps:,} steps" if e.total_steps else ""
        self.line(f"model: {shape} ({e.parameter_count:,} parameters){steps}")
        if e.run_dir:
            self.line(f"record: {e.run_dir}")

    def _on_StepEnded(self, e: StepEnded) -> None:
        now = time.monotonic()
        if self._eta_origin is None:
            self._eta_origin = (now, e.progress)
        if now - self._last_progress < self.progress_seconds:
            return
        self._last_progress = now
        t0, p0 = self._eta_origin
        eta = (now - t0) * (1 - e.progress) / (e.progress - p0) if e.progress > p0 else math.nan
        total = f"/{e.total_steps:,}" if e.total_steps else ""
        self.line(
            f"epoch {e.epoch}{self._of_epochs()} step {e.step:,}{total} ({e.progress:.0%}): "
            f"loss {e.loss:.4f} acc {e.accuracy:.1%}, {e.samples_per_s:,.0f} samples/s, eta {_duration(eta)}"
        )
        self._print_watched()

    def _on_ScalarWatch(self, e: ScalarWatch) -> None:
        self._watched[e.address] = e

    def _print_watched(self) -> None:
        for w in self._watched.values():
            self.line(f"  watch {w.address} at step {w.step:,}: data {w.data:.6g} grad {w.grad:.6g}")

    def _on_EpochEnded(self, e: EpochEnded) -> None:
        self._last_progress = time.monotonic()
        self.line(
            f"epoch {e.epoch}{self._of_epochs()} done: train loss {e.train_loss:.4f} acc {e.train_accuracy:.1%}"
            f" | val loss {e.val_loss:.4f} acc {e.val_accuracy:.1%}"
            f" | {e.epoch_seconds:.1f}s, {e.samples_per_s:,.0f} samples/s"
        )
        self._print_watched()

    def _on_LogLine(self, e: LogLine) -> None:
        if e.level == "debug" and not self.show_debug:
            return
        source = f"[{e.source}] " if e.source else ""
        level = "" if e.level == "info" else f"{e.level}: "
        for text in e.message.splitlines() or [""]:
            self.line(f"{source}{level}{text}")

    def _on_Evaluation(self, e: Evaluation) -> None:
        if e.split == "test":  # the test matrix closes the log; each epoch's validation one stays in the record
            for text in format_confusion(e, title=f"test confusion matrix ({sum(map(sum, e.confusion)):,} digits):"):
                self.line(text)

    def _on_LearningRateChanged(self, e: LearningRateChanged) -> None:
        self.line(f"learning rate {e.previous:g} -> {e.lr:g} after step {e.step:,} ({e.source})")

    def _on_ControlApplied(self, e: ControlApplied) -> None:
        self.line(f"{e.command} at step {e.step:,} ({e.source})")

    def _on_RunFinished(self, e: RunFinished) -> None:
        test = (f"test accuracy {e.test_accuracy:.2%} (loss {e.test_loss:.4f})"
                if e.test_accuracy is not None and e.test_loss is not None else "not tested")
        self.line(f"finished ({e.reason}): {test}; {e.steps:,} steps, {_plural(e.epochs_completed, 'epoch')}, "
                  f"{e.seconds:.1f}s")
        if e.message:
            self.line(e.message)
        if self.run_dir:
            self.line(f"record: {self.run_dir}")

    def _on_RunFailed(self, e: RunFailed) -> None:
        self.line(f"failed: {e.error}")
        if self.run_dir:
            self.line(f"record: {self.run_dir}")

    def _of_epochs(self) -> str:
        return f"/{self.epochs}" if self.epochs else ""


def _write(stream: TextIO, text: str, *, flush: bool) -> TextIO | None:
    """Write; when the stream is lost (`| head`, a closed pipe, a full disk) stop writing there, keep training.

    The run and its record matter more than a log stream: a lost stream is named once on stderr (unless it is
    stderr itself, or a reader that went away on purpose) and never ends the run.
    """
    try:
        stream.write(text)
        if flush:
            stream.flush()
        return stream
    except (BrokenPipeError, ValueError):
        _silence(stream)
        return None
    except OSError as exc:
        name = {id(sys.stdout): "stdout", id(sys.stderr): "stderr"}.get(id(stream), getattr(stream, "name", "log"))
        if stream is not sys.stderr:
            try:
                print(f"mnist-dash: cannot write to {name} ({exc.strerror or exc}); training goes on, "
                      "the run folder keeps the whole record", file=sys.stderr, flush=True)
            except (OSError, ValueError):
                pass
        _silence(stream)
        return None


def _silence(stream: TextIO) -> None:
    """Point a lost standard stream at /dev/null, so the interpreter's final flush does not complain either."""
    if stream in (sys.stdout, sys.stderr):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass


def _fmt_value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or "none"
    return str(value)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def exit_status(summary: RunSummary, signum: int | None) -> int:
    """0 when the run did its job (completed, early-stopped, stopped on request), 128+signal when a signal
    stopped it, 1 when it failed or diverged."""
    if signum is not None:
        return for_signal(signum)
    return for_reason(summary.reason)


class RunCommands:
    """What signals do to a headless run: stops through the one command path (`RunControl.apply`, recorded by
    the run book where the run obeys), the hang-up's note through the run's LiveRun (its record).

    A hang-up can come before the run records (while data loads): its note waits for the LiveRun.
    """

    def __init__(self, control: RunControl) -> None:
        self.control = control
        self.live: LiveRun | None = None
        self._waiting: list[str] = []  # hang-up notes to record once the run records
        self._lock = threading.Lock()

    def attach(self, live: LiveRun) -> None:
        with self._lock:
            self.live, waiting, self._waiting = live, self._waiting, []
        for message in waiting:
            self._note(live, message)

    def stop(self, source: str) -> None:
        from core.backends.control import Command

        self.control.apply(Command("stop"), source)

    def note_hangup(self, message: str) -> None:
        with self._lock:
            live = self.live
            if live is None:
                self._waiting.append(message)
                return
        self._note(live, message)

    @staticmethod
    def _note(live: LiveRun, message: str) -> None:
        live.emit(LogLine(run_id=live.run_id, level="warning", source="hangup", message=message))


def run_headless(
    config: TrainConfig | None,
    *,
    data_dir: str | Path | None = None,
    runs_dir: str | Path = "runs",
    resume: str | Path | None = None,
    watch: tuple[str, ...] = (),
    jsonl: str | None = None,
    progress_seconds: float = PROGRESS_SECONDS,
    on_hangup: str = DEFAULT_HANGUP,
    data: MnistData | None = None,
    on_end: Callable[[RunSummary, str], None] | None = None,
) -> int:
    """Run one training run without a screen; returns the process exit status.

    `on_end(summary, run_dir)` runs once the run has ended and is recorded (notifications).
    """
    from core.session import is_rank_zero, run_training

    rank_zero = is_rank_zero()  # other ranks of a multi-device run stay silent
    human = (sys.stderr if jsonl == "-" else sys.stdout) if rank_zero else None
    stream: TextIO | None = None
    if rank_zero and jsonl == "-":
        stream = sys.stdout
    elif rank_zero and jsonl:
        try:
            stream = open(jsonl, "w", encoding="utf-8")
        except OSError as exc:
            print(f"mnist-dash: --jsonl {jsonl}: cannot write it ({exc.strerror or exc})", file=sys.stderr)
            return EXIT_USAGE
    printer = HeadlessPrinter(human, jsonl=stream, progress_seconds=progress_seconds)
    control = RunControl(watched=watch)
    commands = RunCommands(control)

    def on_stop(signum: int, source: str) -> None:
        commands.stop(source)  # first: a terminal that does not take output (Ctrl+S) must not hold up the stop
        if source == "signal":
            printer.line(f"{signal_name(signum)}: stopping after the current step, then saving "
                         "(Ctrl+C again quits at once)")

    def on_hung_up(cause: str) -> None:
        commands.note_hangup(hangup_message(cause))

    # Other ranks leave stopping to rank zero: ranks that stop on their own at different steps break DDP's
    # collectives (Ctrl+C reaches the whole process group), while one rank's stop ends the run for all.
    policy = SignalPolicy(on_stop=on_stop, on_hangup=on_hung_up, hangup=on_hangup, output_fds=tty_fds((1, 2)))
    ignored: dict[int, object] = {}
    installed = rank_zero and policy.install()  # False off the main thread: nothing changes there
    if not rank_zero and threading.current_thread() is threading.main_thread():
        ignored = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    result: list[RunSummary] = []

    def target() -> None:
        result.append(run_training(
            config, printer, control, data_dir=data_dir, runs_dir=runs_dir, resume=resume, data=data,
            announce=lambda text: printer.line(f"data: {text}"),
            on_run_dir=lambda path: setattr(printer, "run_dir", str(path)), on_live=commands.attach,
        ))

    # Training runs in a worker so the main thread stays free for signal handlers (Lightning also skips
    # installing its own SIGTERM handler off the main thread, which would otherwise exit with status 1).
    worker = threading.Thread(target=target, name="mnist-dash-train", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    finally:
        if installed:
            policy.restore()
        for signum, handler in ignored.items():
            signal.signal(signum, handler)
        close_stream(stream)
    if not result:
        printer.line("failed: the training thread ended without a summary")
        return EXIT_FAILED
    if on_end is not None and rank_zero:
        try:
            on_end(result[0], printer.run_dir)
        except Exception as exc:  # a notification never changes how the run ended
            printer.line(f"notify: {type(exc).__name__}: {exc}")
    return exit_status(result[0], policy.stops[0] if policy.stops else None)


def close_stream(stream: TextIO | None) -> None:
    """Close a --jsonl file (flush stdout); a stream already lost was named on stderr when it broke."""
    try:
        if stream is not None and stream is not sys.stdout:
            stream.close()
        elif stream is not None:
            stream.flush()
    except (OSError, ValueError):
        pass
