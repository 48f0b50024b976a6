"""Fixtures of the Textual tests; their helper modules (waiting, scripted_trainer, engine_probe) import by name.

pyproject.toml puts tests/ and tests/tui/ on the path (pytest's `pythonpath`), so no test inserts into sys.path.
"""

from __future__ import annotations
