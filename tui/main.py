"""The `mnist-dash` console script: the command line of core.cli with the Textual front end plugged in.

core never imports tui; this module is where the two meet, so `mnist-dash` can open the dashboard or serve it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from core.config import TrainConfig


class TextualFrontEnd:
    """The dashboard in this terminal, or served to a browser by textual-serve."""

    def dashboard(self, config: TrainConfig, args: argparse.Namespace, watch: tuple[str, ...]) -> int:
        try:
            from tui.app import make_app
        except ImportError as exc:
            print(f"mnist-dash: the dashboard cannot start ({exc}); try --headless", file=sys.stderr)
            return 1
        app = make_app(config, data_dir=args.data_dir, runs_dir=args.runs_dir, watch=watch,
                       open_run=Path(args.open_run) if args.open_run else None)
        result = app.run()
        return result if isinstance(result, int) else 0

    def serve(self, argv: list[str], port: int) -> int:
        from tui.serve import serve

        return serve(argv, port=port)


def main(argv: Sequence[str] | None = None) -> int:
    """The whole command line with the dashboard available."""
    from core.cli import main as cli_main

    return cli_main(argv, front_end=TextualFrontEnd())


def entry() -> int:
    """The console script's target; Ctrl+C while modules import exits 130 without a traceback."""
    try:
        return main()
    except KeyboardInterrupt:
        print("mnist-dash: interrupted", file=sys.stderr)
        return 130
