"""`--explain RUN_DIR --address ADDR [--split val|test] [--digit N] [--jsonl -]`: the walk, printed, exit 0."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from core.address import AddressError
from core.exits import EXIT_OK, EXIT_USAGE

SPLITS = ("val", "test")


def add_explain_arguments(parser: argparse.ArgumentParser) -> None:
    """The explain flags, in a group of their own."""
    group = parser.add_argument_group("explain a gradient")
    group.add_argument("--explain", metavar="RUN_DIR", default=None,
                       help="walk one digit forward and backward through a run's latest checkpoint down to "
                       "--address, print it (with --jsonl -: as JSON events) and exit (default: off)")
    group.add_argument("--address", metavar="ADDR", default=None,
                       help="with --explain: the scalar, e.g. L1.N3.w12, L0.N5.b (default: none)")
    group.add_argument("--split", choices=SPLITS, default="val",
                       help="with --explain: the split the digit comes from (default: val)")
    group.add_argument("--digit", metavar="N", type=int, default=0,
                       help="with --explain: the N-th digit of that split, as the run's data gives it (default: 0)")


def _usage(message: str) -> int:
    print(f"mnist-dash: {message}", file=sys.stderr)
    return EXIT_USAGE


def _data(args: argparse.Namespace, run_dir: Path, config) -> tuple[object | None, str]:
    """The run's data as it trained on it: --data-dir, else what its folder recorded, else the usual search."""
    from core.data import load_data
    from core.datasource import recorded, sample_data

    data_dir = args.data_dir
    info = None if data_dir else recorded(run_dir)
    try:
        if info is not None and info["kind"] == "sample":
            return sample_data(config), ""
        if info is not None:
            data_dir = str(info.get("dir", "")) or None
        return load_data(config, data_dir, allow_download=False), ""
    except Exception as exc:  # DataError, a directory gone: say it, one line
        where = f" (the run recorded {data_dir}; name where it is now with --data-dir DIR)" if info else ""
        return None, f"--explain: cannot load the run's data: {exc}{where}"


def run_explain(args: argparse.Namespace) -> int | None:
    """Explain when --explain was given (the exit status), else None so the command line carries on."""
    if not args.explain:
        if args.address is not None:
            return _usage("--address goes with --explain RUN_DIR")
        return None
    from core.explain.network import network_from_run
    from core.explain.text import events, lines
    from core.explain.walk import explain
    from core.records.runs import NotARunError

    if not args.address:
        return _usage("--explain needs --address ADDR (e.g. L1.N3.w12)")
    run_dir = Path(args.explain)
    try:
        net, config = network_from_run(run_dir)
    except NotARunError as exc:
        return _usage(f"--explain: {exc}")
    except (ValueError, OSError) as exc:
        return _usage(f"--explain {run_dir}: {exc}")
    try:
        from core.address import validate

        validate(args.address, net.layer_sizes, graph_nodes=True)
    except AddressError as exc:
        return _usage(f"--address: {exc}")
    data, problem = _data(args, run_dir, config)
    if data is None:
        return _usage(problem)
    split = getattr(data, args.split)
    if not 0 <= args.digit < len(split):
        return _usage(f"--digit {args.digit}: the {args.split} split has digits 0..{len(split) - 1}")
    pixels = split.images[args.digit].tolist()
    label = int(split.labels[args.digit])
    try:
        result = explain(net, args.address, pixels, label)
    except (AddressError, ValueError) as exc:
        return _usage(f"--explain: {exc}")
    where = {"split": args.split, "digit": args.digit}
    try:
        if args.jsonl:
            stream, close = _stream(args.jsonl)
            try:
                for event in events(result, where):
                    stream.write(json.dumps(event) + "\n")
                stream.flush()
            finally:
                if close:
                    stream.close()
            if args.jsonl == "-":
                return EXIT_OK
        sys.stdout.write("\n".join(lines(result, f"{args.split} digit {args.digit}")) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        return _pipe_closed()
    except OSError as exc:
        return _usage(f"--jsonl {args.jsonl}: cannot write it ({exc.strerror or exc})")
    return EXIT_OK


def _stream(path: str) -> tuple[TextIO, bool]:
    if path == "-":
        return sys.stdout, False
    return open(path, "w", encoding="utf-8"), True  # noqa: SIM115 - closed by the caller


def _pipe_closed() -> int:
    """stdout's reader went away (`| head`): stop quietly with 0, as the other commands do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return EXIT_OK

