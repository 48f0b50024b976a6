"""The `mnist-dash` console script: the command line of core.cli with the Textual front end plugged in.

core never imports tui; this module is where the two meet, so `mnist-dash` can open the dashboard or serve it.
"""

from __future__ import annotations

import argparse
import sys
import threading
from functools import partial
from pathlib import Path
from typing import Any, Sequence

from core import terminal
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
        settings = terminal.from_args(args)
        app.signals.hangup = settings.on_hangup
        app.signals.on_end = partial(announce, app, settings)
        result = app.run()
        app.signals.wait_for_run()  # a hung-up terminal left a run going: the process ends when it does
        return result if isinstance(result, int) else 0

    def serve(self, argv: list[str], port: int, token: str | None = None) -> int:
        from tui.serve import serve

        return serve(argv, port=port, token=token)

    def open_sweep(self, folder: Path, args: argparse.Namespace) -> int:
        """The sweep screen on its own (--open-sweep NAME, or --open on a sweep folder); tui/sweep owns it."""
        from tui.sweep.app import run_sweep_app

        return run_sweep_app(folder)


def announce(app: Any, settings: terminal.TerminalSettings, summary: dict) -> None:
    """A run ended: the desktop notification through the app's own writer (never inside one of its frames),
    and the user's --notify command off the UI thread."""
    from core import notify

    driver = getattr(app, "_driver", None)  # Textual's output queue; None once the app is gone
    hung_up = app.signals.policy is not None and app.signals.policy.hung_up  # its writer may never drain again
    if settings.notify and driver is not None and not hung_up and notify.terminal_fd((1,)) is not None:
        try:
            driver.write(notify.sequence(*notify.describe(summary)))
            driver.flush()
        except Exception:  # a notification must never harm the app
            pass
    if settings.notify_command:
        def run() -> None:
            problem = notify.run_command(settings.notify_command, summary)
            if problem:
                try:
                    app.call_from_thread(app.notify, problem, severity="warning")
                except Exception:
                    pass  # the app is gone (a hang-up): nobody to tell

        threading.Thread(target=run, name="notify-command", daemon=True).start()


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
        return 130  # core.exits.EXIT_INTERRUPTED: importing it could be what was interrupted
