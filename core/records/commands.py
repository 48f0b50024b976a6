"""Command-line actions on run folders rather than training: steer a live run, list runs, show or follow a record.

`add_arguments(parser)` adds the flags; `dispatch(args)` carries out the one given (an exit status) or returns
None when none was, so the command line goes on to train or open the dashboard.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TextIO

from core.records.files import CONFIG_FILE

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STEER_FLAGS = {"stop": "--stop", "pause": "--pause", "resume": "--resume-run", "set_lr": "--set-lr"}


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
    """Every run under runs_dir, as a table or as JSON lines."""
    from core.records.runindex import format_table, list_runs_table

    rows = list_runs_table(runs_dir)
    if jsonl:
        for row in rows:
            print(json.dumps(row.to_dict(), default=str))
        return EXIT_OK
    if not rows:
        print(f"no runs in {runs_dir}", file=sys.stderr)
        return EXIT_OK
    print(format_table(rows))
    return EXIT_OK


def export_run(run_dir: str, path: str) -> int:
    """A run's curves as CSV (core.records.export); the number of rows on stderr."""
    from core.records.export import export_csv

    if not (Path(run_dir) / CONFIG_FILE).is_file():
        return _usage(f"--open {run_dir}: not a run folder (no config.json)")
    try:
        rows = export_csv([run_dir], path)
    except OSError as exc:
        return _usage(f"--export-csv {path}: cannot write it ({exc.strerror or exc})")
    if path != "-":
        print(f"mnist-dash: {rows:,} rows written to {path}", file=sys.stderr)
    return EXIT_OK


def follow_run(run_dir: str, *, jsonl: str | None = None) -> int:
    """Print a run as it is written: its log lines (or events with --jsonl -) until it ends; Ctrl+C leaves."""
    from core.headless import HeadlessPrinter
    from core.records.follow import Follower
    from core.records.jsonl import to_json

    if not (Path(run_dir) / CONFIG_FILE).is_file():
        return _usage(f"--open {run_dir}: not a run folder (no config.json)")
    stream = sys.stdout if jsonl == "-" else None
    printer = HeadlessPrinter(sys.stderr if stream else sys.stdout, progress_seconds=5.0)
    printer.run_dir = str(run_dir)
    follower = Follower(run_dir)
    try:
        for event in follower.follow():
            if stream is not None:
                print(to_json(event), file=stream, flush=True)
            printer(event)
    except KeyboardInterrupt:
        return 130
    status = follower.status()
    if status not in ("completed", "stopped", "early_stopped", "diverged", "failed"):
        printer.line(f"{run_dir}: {status}")
    return EXIT_OK if status in ("completed", "stopped", "early_stopped") else EXIT_FAILED


def show_run(run_dir: str | Path, out: TextIO | None = None, *, jsonl: str | None = None) -> int:
    """Print a past run's record as the headless mode would have (no progress lines); jsonl='-' replays it."""
    from core.headless import HeadlessPrinter, close_stream
    from core.records.runs import NotARunError, open_run

    try:
        record = open_run(run_dir)
    except NotARunError as exc:
        print(f"mnist-dash: {exc}", file=sys.stderr)
        return 2
    stream: TextIO | None = sys.stdout if jsonl == "-" else None
    if jsonl and jsonl != "-":
        try:
            stream = open(jsonl, "w", encoding="utf-8")
        except OSError as exc:
            print(f"mnist-dash: --jsonl {jsonl}: cannot write it ({exc.strerror or exc})", file=sys.stderr)
            return 2
    out = out or (sys.stderr if jsonl == "-" else sys.stdout)
    printer = HeadlessPrinter(out, jsonl=stream, progress_seconds=math.inf)
    printer.run_dir = str(record.path)
    try:
        if not record.events:
            printer.line(f"no events recorded in {record.path / 'events.jsonl'} (missing or empty)")
        for event in record.events:
            printer(event)
        if record.summary is None:
            printer.line(f"incomplete: no summary.json in {record.path} (still running, or killed)")
    finally:
        close_stream(stream)
    return 0


def _usage(message: str) -> int:
    print(f"mnist-dash: {message}", file=sys.stderr)
    return EXIT_USAGE
