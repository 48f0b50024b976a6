"""The names of a run folder's files: the one place that spells them."""

from __future__ import annotations

CONFIG_FILE = "config.json"  # the TrainConfig the run started with
EVENTS_FILE = "events.jsonl"  # the record: one event a line, appended while the run runs
SUMMARY_FILE = "summary.json"  # written once, when the run ends (any reason)
CHECKPOINTS_DIR = "checkpoints"  # one file per checkpoint, newest last
LOCK_FILE = "run.lock"  # held (fcntl.flock) by the process writing the folder
CONTROL_DIR = "control"  # command files from other processes (stop, pause, lr), one file a command
DATA_FILE = "data.json"  # where the digits came from (a directory and its files, or the sample): resume
