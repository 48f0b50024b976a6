"""Command-line actions on run folders rather than training: steer a live run, list runs, show or follow a record.

`add_arguments(parser)` adds the flags; `dispatch(args)` carries out the one given (an exit status) or returns
None when none was, so the command line goes on to train or open the dashboard.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import TextIO

from core.events import OK_REASONS, REASONS, RunStarted
from core.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from core.records.files import CONFIG_FILE

STEER_FLAGS = {"stop": "--stop", "pause": "--pause", "resume": "--resume-run", "set_lr": "--set-lr"}
RESUME_WAIT = 10.0  # --follow of a killed run waits this long for a resume into the same folder (a supervisor's)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that act on run folders."""
    runs = parser.add_argument_group("live runs and records")
    runs.add_argument("--stop", metavar="RUN_DIR", default=None,
                      help="ask the run writing RUN_DIR to stop after its current step (checkpoint and summary "
                      "as with Ctrl+C), from any terminal that can write the folder")
    runs.add_argument("--pause", metavar="RUN_DIR", default=None, help="pause the run writing RUN_DIR")
    runs.add_argument("--resume-run", metavar="RUN_DIR", default=None,
                      help="let a paused run go on (--resume instead continues a finished or killed run "
                      "from its checkpoint)")
    runs.add_argument("--set-lr", metavar=("RUN_DIR", "LR"), nargs=2, default=None,
                      help="change the learning rate of the run writing RUN_DIR from its next step on")
    runs.add_argument("--follow", action="store_true",
                      help="with --open RUN_DIR --headless: print the run's log lines as they come, like "
                      "tail -f, until it ends (with --jsonl -: its events)")
    runs.add_argument("--export-csv", metavar="FILE", default=None,
                      help="with --open RUN_DIR: write the run's loss and accuracy curves as CSV to FILE "
                      "('-' = stdout), one row per series and point, raw and smoothed")
    runs.add_argument("--list-runs", action="store_true",
                      help="print a table of every run in --runs-dir (with --jsonl -: one JSON object per run)")


def dispatch(args: argparse.Namespace) -> int | None:
    """Carry out a run-folder action when one was asked for; None otherwise."""
    for command, flag in STEER_FLAGS.items():
        target = getattr(args, command if command != "resume" else "resume_run")
        if target is not None:
            return steer_run(flag, command, *target) if command == "set_lr" else steer_run(flag, command, target)
    if args.list_runs:
        return list_runs(args.runs_dir, jsonl=args.jsonl == "-")
    if args.export_csv:
        if not args.open_run:
            return _usage("--export-csv needs --open RUN_DIR")
        return export_run(args.open_run, args.export_csv)
    if args.follow:
        if not args.open_run:
            return _usage("--follow needs --open RUN_DIR")
        return follow_run(args.open_run, jsonl=args.jsonl)
    return None


def steer_run(flag: str, command: str, run_dir: str, value: str | None = None) -> int:
    """Send one command through the run folder; says what was sent, or why it could not be."""
    from core.records.steer import SteerError, send

    try:
        send(run_dir, command, value)
    except SteerError as exc:
        return _usage(f"{flag}: {exc}")
    what = f"learning rate {float(value):g}" if command == "set_lr" else command
    print(f"mnist-dash: asked {run_dir} to {'use ' + what if command == 'set_lr' else what}; "
          "the run records it when it acts (within a step)")
    return EXIT_OK


def list_runs(runs_dir: str, *, jsonl: bool = False) -> int:
    """Every run under runs_dir, as a table or as JSON lines; a runs folder that cannot be read exits 2."""
    from core.records.runindex import RunsDirError, format_table, read_row, run_folders

    try:
        rows = [read_row(folder) for folder in run_folders(runs_dir)]
    except RunsDirError as exc:
        return _usage(f"--runs-dir {exc.strerror}")
    for row in rows:
        if row.problem:
            print(f"mnist-dash: {row.path}: {row.problem}", file=sys.stderr)
    try:
        if jsonl:
            for row in rows:
                print(json.dumps(row.to_dict(), default=str))
        elif rows:
            print(format_table(rows))
        else:
            print(f"no runs in {runs_dir}", file=sys.stderr)
        sys.stdout.flush()
    except BrokenPipeError:
        return _pipe_closed()
    return EXIT_OK


def export_run(run_dir: str, path: str) -> int:
    """A run's curves as CSV (core.records.export); the number of rows on stderr."""
    from core.records.export import ExportError, export_csv

    if not (Path(run_dir) / CONFIG_FILE).is_file():
        return _usage(f"--open {run_dir}: not a run folder (no config.json)")
    problems: list[str] = []
    try:
        rows = export_csv([run_dir], path, problems=problems)
        if path == "-":
            sys.stdout.flush()
    except BrokenPipeError:
        return _pipe_closed()
    except ExportError as exc:  # a missing or unreadable record, or an output that must not be replaced
        return _usage(f"--export-csv: {exc}")
    except OSError as exc:
        return _usage(f"--export-csv {path}: cannot write it ({exc.strerror or exc})")
    for problem in problems:  # lines too long to read, skipped
        print(f"mnist-dash: {problem}", file=sys.stderr)
    if path != "-":
        print(f"mnist-dash: {rows:,} rows written to {path}", file=sys.stderr)
    return EXIT_OK


def _jsonl_stream(jsonl: str | None) -> TextIO | None:
    """Where --jsonl goes: stdout for '-', FILE opened for writing (OSError), or nowhere."""
    if jsonl == "-":
        return sys.stdout
    return open(jsonl, "w", encoding="utf-8") if jsonl else None


def follow_run(run_dir: str, *, jsonl: str | None = None, resume_wait: float = RESUME_WAIT) -> int:
    """Print a run as it is written (log lines; --jsonl: its events too) until it ends; Ctrl+C leaves (130).

    A resume into the same folder while it is followed is followed on (a killed run is waited for `resume_wait`
    s); a closed stdout (`| head`) ends it quietly with status 0.
    """
    from core.headless import HeadlessPrinter, close_stream
    from core.records.follow import Follower

    if not (Path(run_dir) / CONFIG_FILE).is_file():
        return _usage(f"--open {run_dir}: not a run folder (no config.json)")
    try:
        stream = _jsonl_stream(jsonl)
    except OSError as exc:
        return _usage(f"--jsonl {jsonl}: cannot write it ({exc.strerror or exc})")
    printer = HeadlessPrinter(sys.stderr if jsonl == "-" else sys.stdout, jsonl=stream, progress_seconds=5.0)
    printer.run_dir = str(run_dir)
    follower = Follower(run_dir)
    starts = 0
    try:
        for event in follower.follow(resume_wait=resume_wait):
            if isinstance(event, RunStarted):
                starts += 1
                if starts > 1:
                    printer.line(f"{run_dir}: resumed into the same folder (live again): following on")
            printer(event)
            if (printer.jsonl if jsonl == "-" else printer.out) is None:  # the reader went away (`| head`)
                return _pipe_closed()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        close_stream(stream if stream is not sys.stdout else None)
    status = follower.run_status()
    if status.word not in REASONS:  # an ending was already printed from its RunFinished / RunFailed
        printer.line(f"{run_dir}: {status.word}: {status.detail}")
    return EXIT_OK if status.word in OK_REASONS else EXIT_FAILED


def show_run(run_dir: str | Path, out: TextIO | None = None, *, jsonl: str | None = None) -> int:
    """Print a past run's record as the headless mode would have (no progress lines); jsonl='-' replays it.

    The last line is the run's status (core.records.status.run_status), as `--list-runs` gives it.
    """
    from core.headless import HeadlessPrinter, close_stream
    from core.records.files import EVENTS_FILE
    from core.records.runs import NotARunError, open_run
    from core.records.status import run_status

    try:
        record = open_run(run_dir)
    except NotARunError as exc:
        print(f"mnist-dash: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        stream = _jsonl_stream(jsonl)
    except OSError as exc:
        return _usage(f"--jsonl {jsonl}: cannot write it ({exc.strerror or exc})")
    out = out or (sys.stderr if jsonl == "-" else sys.stdout)
    printer = HeadlessPrinter(out, jsonl=stream, progress_seconds=math.inf)
    printer.run_dir = str(record.path)
    try:
        if not record.events:
            printer.line(f"no events recorded in {record.path / EVENTS_FILE} (missing or empty)")
        for event in record.events:
            printer(event)
            if jsonl == "-" and printer.jsonl is None:
                return _pipe_closed()
        status = run_status(record.path)
        if status.word == "incomplete" and record.summary is None:
            printer.line(f"incomplete: no summary.json in {record.path} ({status.detail})")
        printer.line(f"status: {status.word} ({status.detail})")
    finally:
        close_stream(stream if stream is not sys.stdout else None)
    return EXIT_OK


def _pipe_closed() -> int:
    """stdout's reader went away (`| head`): stop quietly, exit 0 as `head` asked for no more (not a failure)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's last flush does not complain either
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"mnist-dash: {message}", file=sys.stderr)
    return EXIT_USAGE
