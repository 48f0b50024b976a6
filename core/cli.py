"""The `mnist-dash` command line: flags for every TrainConfig field, then the dashboard or the headless mode.

Importing this module stays cheap: no torch, no textual, no numpy until a run needs them.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import NoReturn, Sequence

from core.config import (
    ACTIVATIONS,
    BACKENDS,
    DEVICES,
    INITS,
    INPUT_SIZES,
    LOSSES,
    OPTIMIZERS,
    ConfigError,
    TrainConfig,
)

EXIT_USAGE = 2
_DEFAULTS = TrainConfig()


def _one_of(values: tuple) -> str:
    return "one of " + ", ".join(map(str, values))


# field -> (metavar, what it does). Defaults come from TrainConfig so the help can never drift.
FIELD_HELP: dict[str, tuple[str, str]] = {
    "backend": ("NAME", f"which engine trains: {_one_of(BACKENDS)} (scalar = the handmade engine)"),
    "hidden": ("SIZES", "hidden layer sizes, comma-separated, e.g. 128,64 (none = a linear classifier)"),
    "activation": ("NAME", f"hidden-layer activation, {_one_of(ACTIVATIONS)}"),
    "loss": ("NAME", f"training loss, {_one_of(LOSSES)}"),
    "optimizer": ("NAME", f"{_one_of(OPTIMIZERS)}; plain sgd moves a weight by exactly -lr*grad"),
    "lr": ("RATE", "learning rate, > 0 and <= 10"),
    "momentum": ("BETA", "momentum (read by the momentum optimizer only), 0 <= beta < 1"),
    "batch_size": ("N", "samples per optimizer step"),
    "epochs": ("N", "passes over the training subset"),
    "train_subset": ("N", "training digits to use (0 = all)"),
    "val_subset": ("N", "validation digits, evaluated at every epoch end (0 = all)"),
    "test_subset": ("N", "test digits, evaluated once at the end (0 = all)"),
    "input_size": ("SIDE", f"digits are average-pooled to SIDE x SIDE pixels, {_one_of(INPUT_SIZES)}"),
    "init": ("NAME", f"weight initialisation, {_one_of(INITS)} (scaled = by fan-in)"),
    "seed": ("N", "seed for init, shuffling and the validation split"),
    "patience": ("N", "stop after N epochs without validation improvement (0 = off)"),
    "device": ("NAME", f"Lightning's accelerator, {_one_of(DEVICES)}"),
    "devices": ("N", "devices for Lightning (> 1 runs headless, e.g. DDP)"),
    "strategy": ("NAME", "Lightning strategy: auto, ddp, fsdp, ... (spawn-based strategies are not supported)"),
    "num_nodes": ("N", "machines in a multi-node Lightning run"),
    "threads": ("N", "Lightning CPU threads (0 = auto: few for small models, one core left to the dashboard)"),
    "cuda_graphs": ("", "Lightning on a GPU: capture the training step as a CUDA graph"),
}
_ADDRESS = re.compile(r"^(?:L(\d+)\.N(\d+)\.(?:w(\d+)|b|z|a)|loss)$")


def _default_text(name: str) -> str:
    value = getattr(_DEFAULTS, name)
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
    for name, (metavar, text) in FIELD_HELP.items():
        if isinstance(getattr(_DEFAULTS, name), bool):
            train.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None,
                               action=argparse.BooleanOptionalAction,
                               help=f"{text} (default: {'on' if getattr(_DEFAULTS, name) else 'off'})")
            continue
        train.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar=metavar, default=None,
                           help=f"{text} (default: {_default_text(name)})")
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
                       "L1.N3.b, L0.N0.z, L0.N0.a, loss; repeatable (default: none)")
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
    return parser


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, list[str]]:
    """Defaults < saved run (--resume) < --config file < flags; returns the config and every problem found."""
    base = TrainConfig()
    saved: TrainConfig | None = None
    if args.resume:
        from core.runs import NotARunError, open_run

        try:
            base = saved = open_run(args.resume).config
        except NotARunError as exc:
            return base, [f"--resume: {exc}"]
    if args.config:
        try:
            TrainConfig.load(args.config)  # its messages name the file and every problem
            base = TrainConfig.from_dict({**base.to_dict(), **_file_settings(Path(args.config))})
        except ConfigError as exc:
            return base, exc.problems
    flags = {name: getattr(args, name) for name in FIELD_HELP if getattr(args, name) is not None}
    problems: list[str] = []
    for name in list(flags):  # coerce one by one so every bad flag is reported, not just the first
        try:
            TrainConfig.from_dict({name: flags[name]})
        except ConfigError as exc:
            problems += [_flag_problem(p) for p in exc.problems]
            del flags[name]
    config = TrainConfig.from_dict({**base.to_dict(), **flags})
    problems += [_flag_problem(p) for p in config.problems()]
    if saved is not None:
        for name in ("backend", "hidden", "input_size"):  # the checkpoint fixes the network
            if getattr(config, name) != getattr(saved, name):
                problems.append(f"--{name.replace('_', '-')}: a resumed run keeps its {name} "
                                f"({_fmt(getattr(saved, name))}), got {_fmt(getattr(config, name))}")
    if not problems:
        problems += watch_problems(args.watch, config)
    return config, problems


def _file_settings(path: Path) -> dict:
    """Only the settings the file names, so a resumed run keeps the rest of its saved config."""
    import json
    import tomllib

    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        data = tomllib.loads(text)
        return data["train"] if set(data) == {"train"} and isinstance(data["train"], dict) else data
    return json.loads(text)


def _fmt(value: object) -> str:
    return ",".join(map(str, value)) or "none" if isinstance(value, tuple) else str(value)


def _flag_problem(problem: str) -> str:
    """'lr: ...' -> '--lr: ...' so the user sees the flag they typed."""
    name, sep, rest = problem.partition(":")
    if sep and name in FIELD_HELP:
        return f"--{name.replace('_', '-')}:{rest}"
    return problem


def watch_problems(addresses: Sequence[str], config: TrainConfig) -> list[str]:
    """Check --watch addresses against the network's shape."""
    out = []
    sizes = config.layer_sizes
    for address in addresses:
        m = _ADDRESS.match(address.strip())
        if not m:
            out.append(f"--watch {address!r}: not an address (e.g. L0.N12.w345, L1.N3.b, L0.N0.z, L0.N0.a, loss)")
            continue
        if address == "loss":
            continue
        layer, neuron, weight = int(m[1]), int(m[2]), m[3]
        if layer >= len(sizes) - 1:
            out.append(f"--watch {address}: layer L{layer} does not exist (layers L0..L{len(sizes) - 2})")
        elif neuron >= sizes[layer + 1]:
            out.append(f"--watch {address}: L{layer} has {sizes[layer + 1]} neurons (N0..N{sizes[layer + 1] - 1})")
        elif weight is not None and int(weight) >= sizes[layer]:
            out.append(f"--watch {address}: L{layer} neurons have {sizes[layer]} inputs (w0..w{sizes[layer] - 1})")
    return out


def save_config(config: TrainConfig, path: str | Path) -> None:
    """JSON, or TOML when the name ends in .toml (settings under [train])."""
    path = Path(path)
    if path.suffix.lower() != ".toml":
        config.save(path)
        return
    import tomli_w

    from core.runs import atomic_write_text

    atomic_write_text(path, tomli_w.dumps({"train": config.to_dict()}))


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
    if not _stdout_is_terminal():
        return True, "stdout is not a terminal"
    if os.environ.get("TERM", "") == "dumb":
        return True, "TERM=dumb"
    return False, ""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mnist-dash` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse exits 2 with one clear line for unknown flags
    if args.resume and args.open_run:
        return _usage_error(["--resume and --open cannot be combined"])
    config, problems = config_from_args(args)
    if problems:
        return _usage_error(problems)
    if args.save_config:
        try:
            save_config(config, args.save_config)
        except OSError as exc:
            return _usage_error([f"--save-config {args.save_config}: cannot write it ({exc.strerror or exc})"])
        print(f"mnist-dash: saved the configuration to {args.save_config}")
        return 0
    if args.open_run:
        from core.runs import NotARunError, open_run

        try:
            open_run(args.open_run)
        except NotARunError as exc:
            return _usage_error([f"--open: {exc}"])

    headless, why = _want_headless(args)
    if not headless and config.devices * config.num_nodes > 1:
        headless, why = True, "multi-device runs belong to the headless mode"
    if not headless and args.resume:
        headless, why = True, "--resume runs headless"
    from core.session import is_rank_zero

    if why and is_rank_zero():
        print(f"mnist-dash: {why}; running headless", file=sys.stderr, flush=True)
    if headless:
        from core.headless import run_headless, show_run

        if args.open_run:
            return show_run(args.open_run, jsonl=args.jsonl)
        return run_headless(config, data_dir=args.data_dir, runs_dir=args.runs_dir, resume=args.resume,
                            watch=tuple(a.strip() for a in args.watch), jsonl=args.jsonl)
    return _run_dashboard(config, args)


def _run_dashboard(config: TrainConfig, args: argparse.Namespace) -> int:
    try:
        from tui.app import make_app
    except ImportError as exc:
        print(f"mnist-dash: the dashboard cannot start ({exc}); try --headless", file=sys.stderr)
        return 1
    app = make_app(config, data_dir=args.data_dir, runs_dir=args.runs_dir, watch=tuple(args.watch),
                   open_run=Path(args.open_run) if args.open_run else None)
    result = app.run()
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
