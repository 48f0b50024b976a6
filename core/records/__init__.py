"""The run folder as one subsystem: its files, lock, status, the fold of its record, following and commands."""
