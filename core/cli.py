"""The `mnist-dash` command line: flags for every TrainConfig field, then the dashboard or the headless mode.

Importing this module stays cheap: no torch, no textual, no numpy until a run needs them.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path
from typing import NoReturn, Protocol, Sequence

from core import terminal
from core.config import FIELDS, FieldInfo, TrainConfig
from core.config_files import read_settings
from core.exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from core.explain.cli import add_explain_arguments, run_explain
from core.problems import ConfigError, Problem, plain
from core.records import commands
from core.sweeps import cli as sweeps
from core.sweeps.cli import add_sweep_arguments

PATH_FLAGS = {"data_dir": "--data-dir", "runs_dir": "--runs-dir", "config": "--config", "save_config": "--save-config",
              "jsonl": "--jsonl", "resume": "--resume", "open_run": "--open", "export_csv": "--export-csv"}


def _default_text(info: FieldInfo) -> str:
    value = info.default
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return str(value)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One clear line and status 2, without the long usage block."""
        self.exit(EXIT_USAGE, f"mnist-dash: {message}\nmnist-dash: see mnist-dash --help\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every default is None so a --config file is overridden only by given flags."""
    parser = _Parser(
        prog="mnist-dash",
        description="Watch a neural network learn MNIST: a handmade scalar autodiff engine or PyTorch "
        "Lightning, in a terminal dashboard or headless for logs. Settings: defaults < --config FILE "
        "< flags (with --resume: the run's saved config < --config FILE < flags).",
        allow_abbrev=False,
    )
    train = parser.add_argument_group("training (defaults from TrainConfig)")
    for name, info in FIELDS.items():  # the one description of each setting
        text = f"{info.help} (default: {_default_text(info)})"
        if info.widget == "bool":
            train.add_argument(info.flag, dest=name, default=None, action=argparse.BooleanOptionalAction, help=text)
        else:
            train.add_argument(info.flag, dest=name, metavar=info.metavar, default=None, help=text)
    files = parser.add_argument_group("data, records and modes")
    files.add_argument("--data-dir", metavar="DIR", default=None,
                       help="directory with the MNIST IDX files (default: $MNIST_DASH_DATA, the user cache, "
                       "a download, else the embedded sample)")
    files.add_argument("--runs-dir", metavar="DIR", default="runs",
                       help="where run records are written, one folder per run (default: ./runs)")
    files.add_argument("--config", metavar="FILE", default=None,
                       help="read settings from a JSON or TOML file; flags override it (default: none)")
    files.add_argument("--save-config", metavar="FILE", default=None,
                       help="write the resulting settings to FILE (.json or .toml) and exit (default: off)")
    files.add_argument("--watch", metavar="ADDRESS", action="append", default=[],
                       help="record a ScalarWatch event for this scalar at every step, e.g. L0.N12.w345, "
                       "L1.N3.b; on the handmade engine also L0.N0.z, L0.N0.a, loss; repeatable (default: none)")
    files.add_argument("--jsonl", metavar="PATH", default=None,
                       help="also write the event stream as JSON lines to PATH; '-' = stdout, and the log "
                       "lines move to stderr; implies --headless (default: off)")
    files.add_argument("--headless", action="store_true",
                       help="log lines instead of the dashboard (default: off; automatic when stdout is "
                       "not a terminal or TERM=dumb)")
    files.add_argument("--resume", metavar="RUN_DIR", default=None,
                       help="continue a recorded run from its latest checkpoint, appending to its record "
                       "(default: off)")
    files.add_argument("--open", metavar="RUN_DIR", dest="open_run", default=None,
                       help="show a past run: in the dashboard, or printed when headless (with --jsonl -: "
                       "its event stream) (default: off)")
    files.add_argument("--serve", action="store_true",
                       help="serve the dashboard to a web browser instead (textual-serve; each browser tab "
                       "runs its own dashboard with these settings) on 127.0.0.1 (default: off)")
    files.add_argument("--port", metavar="N", type=int, default=8000,
                       help="with --serve: the port to listen on (default: 8000)")
    files.add_argument("--token", metavar="TOKEN", default=None,
                       help="with --serve: the token the browser must present (in the printed URL, "
                       "?token=TOKEN) (default: a new random one per server)")
    terminal.add_arguments(parser)
    commands.add_arguments(parser)
    add_explain_arguments(parser)
    add_sweep_arguments(parser)
    return parser


def word(problem: Problem, source: str = "") -> str:
    """A core Problem in the CLI's words: the flag, or the file and its key when `source` is a config file."""
    if source:
        return f"{source}: {problem}"
    info = FIELDS.get(problem.field)
    return f"{info.flag}: {problem.message}" if info else str(problem)


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, tuple[str, ...], list[str]]:
    """Defaults < saved run (--resume) < --config file < flags: the config, the parsed --watch addresses, and
    every problem found, worded for the command line."""
    empty = [f"{flag}: empty; name a path, or leave the flag out" for name, flag in PATH_FLAGS.items()
             if getattr(args, name) == ""]
    if empty:
        return TrainConfig(), (), empty
    values = TrainConfig().to_dict()
    saved: TrainConfig | None = None
    if args.resume:
        from core.records.runs import NotARunError, open_run

        try:
            saved = open_run(args.resume).config
        except NotARunError as exc:
            return TrainConfig(), (), [f"--resume: {exc}"]
        values = saved.to_dict()
    layers: list[tuple[str, dict]] = []
    if args.config:
        try:
            layers.append((f"config file {plain(args.config)}", read_settings(args.config)))
        except ConfigError as exc:
            return TrainConfig(), (), [f"--config {plain(args.config)}: {p}" for p in exc.problems]
    layers.append(("", {name: getattr(args, name) for name in FIELDS if getattr(args, name) is not None}))
    problems: list[str] = []
    origin: dict[str, str] = {}  # field -> the config file that set it ("" = a flag or a default)
    for source, settings in layers:
        for key, value in settings.items():  # one by one, so every bad value is reported, not just the first
            try:
                TrainConfig.from_dict({key: value})
            except ConfigError as exc:
                problems += [word(p, source) for p in exc.problems]
                continue
            values[key], origin[key] = value, source
    config = TrainConfig.from_dict(values)
    problems += [word(p, origin.get(p.field, "")) for p in config.problems()]
    if saved is not None:
        for name in ("backend", "hidden", "input_size"):  # the checkpoint fixes the network
            if getattr(config, name) != getattr(saved, name):
                problems.append(f"{FIELDS[name].flag}: a resumed run keeps its {name} "
                                f"({_fmt(getattr(saved, name))}), got {_fmt(getattr(config, name))}")
    if problems:
        return config, (), problems
    watch, problems = parse_watch(args.watch, config)
    return config, watch, problems


def _fmt(value: object) -> str:
    return ",".join(map(str, value)) or "none" if isinstance(value, tuple) else str(value)


def parse_watch(addresses: Sequence[str], config: TrainConfig) -> tuple[tuple[str, ...], list[str]]:
    """--watch addresses parsed once against the network: (canonical addresses, problems)."""
    from core.address import AddressError, parse

    out: list[str] = []
    problems: list[str] = []
    for text in addresses:
        try:
            address = parse(text)
        except AddressError as exc:
            problems.append(f"--watch: {exc}")
            continue
        reason = address.problem(config.layer_sizes, graph_nodes=config.backend == "scalar")
        if reason is not None:
            problems.append(f"--watch {address}: {reason}")
        elif str(address) not in out:
            out.append(str(address))
    return tuple(out), problems


def refusal(path: Path) -> str | None:
    """Why `path` (after symlinks) must not be replaced by a settings file, or None when it may be."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot use it ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    kind = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a device",
            stat.S_ISBLK: "a device", stat.S_ISSOCK: "a socket"}
    what = next((text for test, text in kind.items() if test(mode)), "not a regular file")
    return f"it is {what}, not a regular file; refusing to replace it"


def save_config(config: TrainConfig, path: str | Path) -> None:
    """JSON, or TOML when the name ends in .toml (settings under [train]); through a symlink to its target.

    A FIFO, device, socket or directory is refused (ConfigError): atomically replacing one would destroy it.
    """
    path = Path(path)
    target = Path(os.path.realpath(path))  # a symlink's target is updated, the link itself stays
    reason = refusal(target)
    if reason is not None:
        raise ConfigError([Problem("", reason)])
    if path.suffix.lower() != ".toml":
        config.save(target)
        return
    import tomli_w

    from core.atomic import atomic_write_text

    atomic_write_text(target, tomli_w.dumps({"train": config.to_dict()}))


def resume_data(args: argparse.Namespace, config: TrainConfig) -> tuple[str | None, object, str | None]:
    """(data_dir, prepared data or None, problem) for this run: a resume trains on the data its folder
    recorded unless --data-dir says otherwise; a folder that cannot be resumed is a problem (exit 2)."""
    if not args.resume:
        return args.data_dir, None, None
    from core.datasource import for_resume
    from core.records.runlock import RunLock, RunLockedError
    from core.records.runs import NotARunError, open_run

    try:
        saved = open_run(args.resume)
    except NotARunError as exc:
        return None, None, f"--resume: {exc}"
    if saved.latest_checkpoint() is None:
        return None, None, (f"--resume {args.resume}: no {saved.config.backend} checkpoint in it to resume from "
                            "(the run ended before its first one); start a new run")
    from core.session import is_rank_zero

    try:  # a live run cannot be resumed by a second process: say so before loading anything
        if is_rank_zero(config):  # the other ranks of a multi-device resume run beside rank zero's lock
            RunLock(saved.path, saved.run_id).acquire().release()
    except (RunLockedError, OSError) as exc:
        return None, None, f"--resume {args.resume}: {exc}"
    return for_resume(saved.path, args.data_dir, config)


def announcer(settings: terminal.TerminalSettings):
    """What a headless run does once it ended: the desktop notification, the user's --notify command."""
    if not settings.notify and not settings.notify_command:
        return None

    def on_end(summary, run_dir: str) -> None:
        from core import notify

        full = notify.read_summary(run_dir, summary.to_dict())
        if settings.notify:
            notify.to_terminal(full)
        if settings.notify_command:
            problem = notify.run_command(settings.notify_command, full)
            if problem:
                print(f"mnist-dash: {problem}", file=sys.stderr, flush=True)

    return on_end


def _usage_error(problems: Sequence[str]) -> int:
    for problem in problems:
        print(f"mnist-dash: {problem}", file=sys.stderr)
    print("mnist-dash: see mnist-dash --help", file=sys.stderr)
    return EXIT_USAGE


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout
        return False


def _want_headless(args: argparse.Namespace) -> tuple[bool, str]:
    """Headless or not, and the one-line reason when it was not asked for."""
    if args.headless or args.jsonl:
        return True, ""
    if os.environ.get("TEXTUAL_DRIVER", "").endswith(":WebDriver"):  # a --serve session: stdout is a pipe
        return False, ""
    if not _stdout_is_terminal():
        return True, "stdout is not a terminal"
    if os.environ.get("TERM", "") == "dumb":
        return True, "TERM=dumb"
    return False, ""


class FrontEnd(Protocol):
    """What a front end offers the command line: the dashboard and the browser server (tui.main has one)."""

    def dashboard(self, config: TrainConfig, args: argparse.Namespace, watch: tuple[str, ...]) -> int: ...

    def serve(self, argv: list[str], port: int, token: str | None = None) -> int: ...


def main(argv: Sequence[str] | None = None, front_end: FrontEnd | None = None) -> int:
    """Run the command line; returns the exit status (Ctrl+C: 130, no traceback). Without a front end: headless."""
    try:
        return _main(argv, front_end)
    except KeyboardInterrupt:  # e.g. while torch or textual import, before a run installs its own handler
        print("mnist-dash: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None, front_end: FrontEnd | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse exits 2 with one clear line for unknown flags
    if args.resume and args.open_run:
        return _usage_error(["--resume and --open cannot be combined"])
    if (explained := run_explain(args)) is not None:  # --explain: no training either
        return explained
    acted = commands.dispatch(args)  # --stop, --pause, --list-runs, --follow...: no training here
    if acted is not None:
        return acted
    config, watch, problems = config_from_args(args)
    if problems:
        return _usage_error(problems)
    if (swept := sweeps.dispatch(args, config, front_end)) is not None:  # --sweep, --open-sweep, a sweep folder
        return swept
    if args.save_config:
        try:
            save_config(config, args.save_config)
        except ConfigError as exc:
            return _usage_error([f"--save-config {plain(args.save_config)}: {p}" for p in exc.problems])
        except OSError as exc:
            return _usage_error([f"--save-config {plain(args.save_config)}: cannot write it "
                                 f"({exc.strerror or plain(exc)})"])
        print(f"mnist-dash: saved the configuration to {args.save_config}")
        return EXIT_OK
    if args.open_run:
        from core.records.runs import NotARunError, open_run

        try:
            open_run(args.open_run)
        except NotARunError as exc:
            return _usage_error([f"--open: {exc}"])

    if args.serve:
        if args.headless or args.jsonl or args.resume or config.devices * config.num_nodes > 1:
            return _usage_error(["--serve shows the dashboard; it cannot be combined with --headless, --jsonl, "
                                 "--resume or a multi-device run"])
        if front_end is None:
            return _usage_error(["--serve needs the dashboard: run mnist-dash (or python -m tui)"])
        return front_end.serve(list(sys.argv[1:] if argv is None else argv), port=args.port, token=args.token)
    if args.token is not None:
        return _usage_error(["--token goes with --serve"])
    headless, why = _want_headless(args)
    if not headless and front_end is None:
        headless, why = True, "python -m core has no dashboard (mnist-dash or python -m tui has)"
    if not headless and config.devices * config.num_nodes > 1:
        headless, why = True, "multi-device runs belong to the headless mode"
    if not headless and args.resume:
        headless, why = True, "--resume runs headless"
    from core.session import is_rank_zero

    if why and is_rank_zero():
        print(f"mnist-dash: {why}; running headless", file=sys.stderr, flush=True)
    if headless:
        from core.headless import run_headless
        from core.records.commands import show_run

        if args.open_run:
            return show_run(args.open_run, jsonl=args.jsonl)
        data_dir, data, problem = resume_data(args, config)
        if problem:
            return _usage_error([problem])
        settings = terminal.from_args(args)
        return run_headless(config, data_dir=data_dir, runs_dir=args.runs_dir, resume=args.resume,
                            watch=watch, jsonl=args.jsonl, on_hangup=settings.on_hangup, data=data,
                            on_end=announcer(settings))
    return front_end.dashboard(config, args, watch)


if __name__ == "__main__":
    sys.exit(main())
