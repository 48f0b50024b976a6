"""From the dashboard's form: a small sweep over the current settings (one or two fields, their spaces, how many
trials), started headless in its own processes so the dashboard stays responsive; then its sweep screen."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from core.config import FIELDS, MAX_WIDTH, TrainConfig
from core.sweeps.space import parse_params
from core.sweeps.study import check_name, sweep_dir
from core.sweeps.view import config_flags

NONE = "none"
SWEEPABLE = ("lr", "hidden", "batch_size", "momentum", "optimizer", "activation", "epochs", "input_size", "init",
             "loss", "seed", "patience")


def default_space(config: TrainConfig, name: str) -> str:
    """A first space around the form's value: a decade either side of a rate, half to double a size, every choice."""
    info = FIELDS[name]
    value = getattr(config, name)
    if info.choices:
        return "[" + ",".join(map(str, info.choices)) + "]"
    if name == "lr":
        return f"log({value / 10:g},{min(10.0, value * 10):g})"
    if name == "momentum":
        return "uniform(0,0.99)"
    if name == "hidden":
        width = value[0] if value else 32
        return f"[{max(1, width // 2)},{width},{min(MAX_WIDTH, width * 2)}]"
    if isinstance(value, int):
        low = 0 if name in ("seed", "patience") else 1
        return f"int({max(low, value // 2)},{max(low + 1, value * 2)})"
    return f"[{value}]"


def launch_command(config: TrainConfig, name: str, params: list[str], trials: int, workers: int,
                   runs_dir: str | os.PathLike, data_dir: str | os.PathLike | None) -> list[str]:
    """The headless sweep this dialog starts (the form's settings as flags, then the sweep's)."""
    command = [sys.executable, "-m", "core", "--headless", "--sweep", name, *config_flags(config)]
    for param in params:
        command += ["--param", param]
    command += ["--trials", str(trials), "--workers", str(workers), "--runs-dir", str(runs_dir)]
    return command + (["--data-dir", str(data_dir)] if data_dir else [])


def start(command: list[str], folder: Path) -> subprocess.Popen:
    """Start the sweep in its own session (it outlives the dashboard); its lines go to driver.log."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "driver.log", "a", encoding="utf-8") as log:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


class LaunchSweepScreen(ModalScreen[Path | None]):
    """Choose one or two fields and their spaces, the trials and workers; dismissed with the sweep's folder."""

    DEFAULT_CSS = """
    LaunchSweepScreen { align: center middle; }
    LaunchSweepScreen #launch-box { width: 76; height: auto; border: thick $accent; padding: 1 2;
                                    background: $surface; }
    LaunchSweepScreen Horizontal { height: auto; }
    LaunchSweepScreen Label { width: 10; padding: 1 0 0 0; }
    LaunchSweepScreen Select { width: 22; }
    LaunchSweepScreen Input { width: 1fr; }
    LaunchSweepScreen #launch-problems { color: $error; height: auto; }
    LaunchSweepScreen #launch-buttons { align-horizontal: right; height: 3; }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, config: TrainConfig, runs_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None,
                 *, now: float | None = None) -> None:
        super().__init__()
        self.config = config
        self.runs_dir = Path(runs_dir)
        self.data_dir = data_dir
        self.name_default = time.strftime("sweep-%m%d-%H%M%S", time.localtime(now))
        self.process: subprocess.Popen | None = None
        self.command: list[str] = []

    def compose(self) -> ComposeResult:
        options = [(FIELDS[n].label, n) for n in SWEEPABLE]
        with Vertical(id="launch-box"):
            yield Static("[b]A sweep over the form's settings[/b] (Optuna; each trial its own process, "
                         "headless: the dashboard stays free)")
            with Horizontal():
                yield Label("name")
                yield Input(self.name_default, id="launch-name")
            with Horizontal():
                yield Label("field 1")
                yield Select(options, value="lr", allow_blank=False, id="launch-field-1")
                yield Input(default_space(self.config, "lr"), id="launch-space-1")
            with Horizontal():
                yield Label("field 2")
                yield Select([("none", NONE), *options], value=NONE, allow_blank=False, id="launch-field-2")
                yield Input("", id="launch-space-2", placeholder="e.g. [16,64,128]")
            with Horizontal():
                yield Label("trials")
                yield Input("8", id="launch-trials")
                yield Label("workers")
                yield Input("2", id="launch-workers")
            yield Static("", id="launch-problems")
            with Horizontal(id="launch-buttons"):
                yield Button("Launch", variant="primary", id="launch-go")
                yield Button("Cancel", id="launch-cancel")

    @on(Select.Changed)
    def field_changed(self, event: Select.Changed) -> None:
        """A new field gets a first space around the form's value."""
        target = "#launch-space-1" if event.select.id == "launch-field-1" else "#launch-space-2"
        value = event.value
        self.query_one(target, Input).value = "" if value == NONE else default_space(self.config, str(value))

    def params(self) -> tuple[list[str], list[str]]:
        """(the --param texts, problems as lines)."""
        texts = []
        for i in (1, 2):
            field = self.query_one(f"#launch-field-{i}", Select).value
            space = self.query_one(f"#launch-space-{i}", Input).value.strip()
            if field != NONE:
                texts.append(f"{field}={space}")
        _, problems = parse_params(texts, self.config)
        return texts, problems

    @on(Button.Pressed, "#launch-go")
    def launch(self) -> None:
        texts, problems = self.params()
        name = self.query_one("#launch-name", Input).value.strip()
        why = check_name(name)
        if why:
            problems.insert(0, f"name: {why}")
        counts = []
        for key, low, high in (("trials", 1, 1000), ("workers", 1, 64)):
            text = self.query_one(f"#launch-{key}", Input).value.strip()
            if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
                problems.append(f"{key}: a whole number from {low} to {high}")
            else:
                counts.append(int(text))
        folder = sweep_dir(self.runs_dir, name) if not why else None
        if folder is not None and folder.exists():
            problems.append(f"name: a sweep called {name} exists already; choose another name")
        if problems:
            self.query_one("#launch-problems", Static).update("\n".join(problems))
            return
        self.command = launch_command(self.config, name, texts, counts[0], counts[1], self.runs_dir, self.data_dir)
        try:
            self.process = start(self.command, folder)
        except OSError as exc:
            self.query_one("#launch-problems", Static).update(f"cannot start the sweep: {exc}")
            return
        self.dismiss(folder)

    @on(Button.Pressed, "#launch-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def launch_from(screen: Any, config: TrainConfig | None, runs_dir: str | os.PathLike,
                data_dir: str | os.PathLike | None = None) -> None:
    """The dashboard's hook: the dialog over `screen`, then the new sweep's screen."""
    if config is None:
        problems = "\n".join(screen.form.problem_lines()) if hasattr(screen, "form") else ""
        screen.notify(problems or "the configuration is not valid", title="Cannot sweep", severity="error")
        return

    def launched(folder: Path | None) -> None:
        if folder is None:
            return
        from tui.sweep.screen import SweepScreen

        screen.notify(f"sweep {folder.name} started in its own processes (its log: {folder / 'driver.log'})")
        screen.app.push_screen(SweepScreen(folder))

    screen.app.push_screen(LaunchSweepScreen(config, runs_dir, data_dir), launched)
