"""The sweep flags of `mnist-dash` and what they do: start or join a sweep, show one, or describe it (--dry-run).

Cheap to import (core.cli imports it): Optuna is imported only when a sweep is opened or run.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from core.config import TrainConfig
from core.sweeps.space import parse_params
from core.sweeps.study import OBJECTIVES, PRUNERS, SWEEP_FILE, check_name, sweep_dir

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SWEEP_ONLY = ("param", "trials", "workers", "objective", "prune", "storage", "dry_run")


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """The sweep flags, in their own group."""
    group = parser.add_argument_group("sweeps (Optuna; the training flags above are every trial's base settings, "
                                      "--seed also seeds the sampler)")
    group.add_argument("--sweep", metavar="NAME", default=None,
                       help="start the sweep NAME, or join it when it exists in the storage (default: off)")
    group.add_argument("--param", metavar="FIELD=SPACE", action="append", default=[],
                       help="a searched setting: log(a,b), uniform(a,b), int(a,b) or [v1,v2,...], e.g. "
                       "lr=log(1e-3,0.5) hidden=[16,64,128]; repeatable")
    group.add_argument("--trials", metavar="N", type=_positive, default=None,
                       help="trials in the whole study, all machines together (default: 10)")
    group.add_argument("--workers", metavar="N", type=_positive, default=None,
                       help="trial processes at a time on this machine (default: one per GPU for a Lightning "
                       "sweep on a GPU box, else 1)")
    group.add_argument("--objective", choices=tuple(OBJECTIVES), default=None,
                       help="what a trial is judged by (default: val_accuracy, the best validation accuracy, "
                       "maximised)")
    group.add_argument("--prune", choices=PRUNERS, default=None,
                       help="stop hopeless trials at an epoch end: Optuna's median pruner, asha (successive "
                       "halving) or none (default: median)")
    group.add_argument("--storage", metavar="URL", default=None,
                       help="an Optuna storage URL shared by several machines, e.g. postgresql://host/db; the "
                       "same --sweep NAME and URL elsewhere joins the study (default: a journal file in "
                       "RUNS_DIR/sweeps/NAME, for one machine)")
    group.add_argument("--dry-run", action="store_true",
                       help="print the space, sampler, pruner and storage of --sweep, and run nothing")
    group.add_argument("--open-sweep", metavar="NAME", default=None,
                       help="show the sweep NAME (or a sweep folder): its screen in the dashboard, the table "
                       "when headless (--open on a sweep folder does the same)")


def _positive(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 100000:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number from 1 to 100000")
    return int(text)


def _usage(lines: list[str]) -> int:
    for line in lines:
        print(f"mnist-dash: {line}", file=sys.stderr)
    print("mnist-dash: see mnist-dash --help", file=sys.stderr)
    return EXIT_USAGE


def _given(args: argparse.Namespace, name: str) -> bool:
    value = getattr(args, name, None)
    return bool(value) if isinstance(value, (list, bool)) else value is not None


def sweep_folder_of(args: argparse.Namespace) -> Path | None:
    """The sweep folder that --open-sweep NAME or --open DIR names (None when neither names one)."""
    if args.open_sweep:
        given = Path(args.open_sweep)
        if (given / SWEEP_FILE).is_file():
            return given
        return sweep_dir(args.runs_dir, args.open_sweep)
    if getattr(args, "open_run", None) and (Path(args.open_run) / SWEEP_FILE).is_file():
        return Path(args.open_run)
    return None


def dispatch(args: argparse.Namespace, config: TrainConfig, front_end: Any = None) -> int | None:
    """Act on the sweep flags; None when there is none (the command line carries on)."""
    folder = sweep_folder_of(args)
    if folder is not None:
        return open_sweep(folder, args, front_end)
    if not args.sweep:
        extra = [f"--{name.replace('_', '-')}" for name in SWEEP_ONLY if _given(args, name)]
        return _usage([f"{', '.join(extra)} need --sweep NAME"]) if extra else None
    problems = []
    why = check_name(args.sweep)
    if why:
        problems.append(f"--sweep: {why}")
    if args.resume or args.serve:
        problems.append("--sweep starts its own runs; it cannot be combined with --resume or --serve")
    spaces, bad = parse_params(args.param, config)
    problems += bad
    if problems:
        return _usage(problems)
    from core.sweeps.study import SweepSpec

    spec = SweepSpec(name=args.sweep, spaces=tuple(spaces), base=config, trials=args.trials or 10,
                     objective=args.objective or "val_accuracy", prune=args.prune or "median", seed=config.seed)
    return run_sweep_command(spec, args)


def run_sweep_command(spec: Any, args: argparse.Namespace) -> int:
    """Create or join the study, run this machine's trials, print the table (exit 0, 1 when none completed)."""
    from core.sweeps.study import (
        SweepError,
        create_or_join,
        default_storage,
        describe,
        open_storage,
        write_sweep_file,
    )

    folder = sweep_dir(args.runs_dir, spec.name)
    storage_text = args.storage or default_storage(folder)
    human = sys.stderr if args.jsonl == "-" else sys.stdout
    if args.dry_run:
        if not spec.spaces:
            return _usage(["--dry-run: give at least one --param FIELD=SPACE"])
        for line in describe(spec, storage_text):
            print(line, file=human)
        return EXIT_OK
    if not spec.spaces and not args.storage and not (folder / SWEEP_FILE).is_file():
        return _usage(["--sweep: give at least one --param FIELD=SPACE (or join an existing sweep)"])
    try:
        storage = open_storage(storage_text)
        study, joined_spec, created = create_or_join(spec, storage)
    except SweepError as exc:
        return _usage([str(exc)])
    if not created and spec.spaces and [s.to_dict() for s in spec.spaces] != \
            [s.to_dict() for s in joined_spec.spaces]:
        theirs = " ".join(f"--param {s.text()}" for s in joined_spec.spaces)
        return _usage([f"--sweep {spec.name} exists with {theirs}; give the same --param flags or none to join"])
    write_sweep_file(folder, spec.name, storage_text, args.runs_dir)
    for line in describe(joined_spec, storage_text):
        print(line, file=human, flush=True)
    print(f"sweep {spec.name}: {'created' if created else 'joined'}; open it with mnist-dash --open-sweep "
          f"{spec.name}" + (f" --runs-dir {args.runs_dir}" if args.runs_dir != "runs" else ""), file=human, flush=True)
    return drive(study, storage, joined_spec, folder, args, human)


def drive(study: Any, storage: Any, spec: Any, folder: Path, args: argparse.Namespace, human: Any) -> int:
    """Run the workers of this machine under the sweep's signal policy, then print the summary."""
    from core.sweeps.driver import SweepDriver, gpu_count, print_summary
    from core.sweeps.view import best_row, trial_rows

    gpus = gpu_count() if spec.base.backend == "lightning" and spec.base.device != "cpu" else 0
    workers = args.workers or max(1, gpus)
    lock = threading.RLock()  # the signal handler says a line too, perhaps while the main thread is saying one

    def say(text: str) -> None:
        with lock:
            try:
                print(text, file=human, flush=True)
            except (BrokenPipeError, ValueError, OSError):
                pass

    driver = SweepDriver(study, storage, spec, folder, workers=workers, data_dir=args.data_dir,
                         runs_dir=args.runs_dir, say=say, gpus=gpus)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda s, _f: driver.stop(s))
    try:
        driver.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    stream = None
    try:
        if args.jsonl == "-":
            stream = sys.stdout
        elif args.jsonl:
            stream = open(args.jsonl, "w", encoding="utf-8")
        print_summary(study, spec, human, stream)
    except OSError as exc:
        print(f"mnist-dash: --jsonl {args.jsonl}: cannot write it ({exc.strerror or exc})", file=sys.stderr)
    finally:
        if stream is not None and stream is not sys.stdout:
            stream.close()
    if driver.signals:
        return 128 + driver.signals[0]
    return EXIT_OK if best_row(trial_rows(study, spec.direction), spec.direction) else EXIT_FAILED


def open_sweep(folder: Path, args: argparse.Namespace, front_end: Any) -> int:
    """Show a sweep: its screen when the dashboard is available, else the table (and --jsonl records)."""
    from core.sweeps.study import SweepError, load, open_storage, read_sweep_file, wait_for_spec

    try:
        about = read_sweep_file(folder)
        storage = open_storage(about["storage"])
        study = load(storage, about["name"])
        spec = wait_for_spec(storage, about["name"], wait_s=0.0)
    except SweepError as exc:
        return _usage([f"--open-sweep: {exc}"])
    opener = getattr(front_end, "open_sweep", None)
    headless = args.headless or args.jsonl or not _terminal() or os.environ.get("TERM") == "dumb"
    if opener is not None and not headless:
        return opener(folder, args)
    from core.sweeps.driver import print_summary

    human = sys.stderr if args.jsonl == "-" else sys.stdout
    print_summary(study, spec, human, sys.stdout if args.jsonl == "-" else None)
    return EXIT_OK


def _terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
