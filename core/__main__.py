"""`python -m core` runs the command line without the dashboard (headless, lists, exports); mnist-dash has it all."""

from __future__ import annotations

import sys


def entry() -> int:
    """Import the command line and run it; Ctrl+C while modules import exits 130 without a traceback."""
    try:
        from core.cli import main
    except KeyboardInterrupt:
        print("mnist-dash: interrupted", file=sys.stderr)
        return 130  # core.exits.EXIT_INTERRUPTED: importing it could be what was interrupted
    return main()


if __name__ == "__main__":
    sys.exit(entry())
