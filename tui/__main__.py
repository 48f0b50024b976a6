"""`python -m tui` is the `mnist-dash` command: the dashboard, the browser server and the headless mode."""

from __future__ import annotations

import sys

from tui.main import entry

if __name__ == "__main__":
    sys.exit(entry())
