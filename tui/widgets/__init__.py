"""Widgets of the dashboard (the inspector's live in tui/inspector.py and tui/widgets/inspector*.py)."""
