"""Progress and status: a progress bar with ETA, throughput, epoch/step, data source and run directory."""

from __future__ import annotations

import re

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from tui.history import History
from tui.status_style import STATUS_STYLE, status_style

STATE_STYLE = STATUS_STYLE  # the one colour table (tui/status_style.py)
SOURCE_COUNTS = re.compile(r" \([\d,]+ train / [\d,]+ test\)$")  # "embedded MNIST sample (10,000 train / ...)"
GOING = ("starting", "running", "live")  # states whose ETA and samples/s are figures of now


def going(state: str) -> bool:
    """Whether the run shown is still going (a paused, stopped, killed or finished one has no ETA)."""
    return state.split(" · ", 1)[0].strip().replace(" ", "_") in GOING


class StatusPane(Vertical):
    """The run at a glance; updated from the history on the app's timer."""

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=1.0, show_eta=True, id="progress")
        yield Static("", id="status-lines")

    def update_from(self, history: History, state: str) -> None:
        """Redraw from the history; `state` is the app's run state (idle, running, paused, ...)."""
        run = history.current
        bar = self.query_one("#progress", ProgressBar)
        lines: list[str] = []
        style = status_style(state)
        head = f"[{style}]● {state.replace('_', ' ')}[/]" if style else f"● {state}"
        now = going(state)
        self.set_class(not now, "-over")  # the CSS hides the ETA of a run that is not going
        if run is None:
            bar.update(total=1.0, progress=0.0)
            if state == "idle":
                lines.append(f"{head}  press [b]s[/] to start a run, [b]o[/] to open a past one")
            else:  # started, no RunStarted yet: the data loads, the model is built
                lines.append(f"{head}  loading the data and building the model…")
            self.query_one("#status-lines", Static).update("\n".join(lines))
            return
        started, step = run.started, run.last_step
        if started:
            lines.append(f"{head}  {escape(started.backend)} on {escape(started.device)} · run {escape(run.run_id)}")
        else:
            lines.append(f"{head}  run {escape(run.run_id)}")
        epochs = (started.config.get("epochs") if started else None) or "?"
        total = (step.total_steps if step and step.total_steps else (started.total_steps if started else 0))
        if step is not None:
            bar.update(total=1.0, progress=min(1.0, max(0.0, step.progress)))
            steps = run.finished.steps if run.finished is not None else step.step  # StepEnded is rate-limited
            speed = f"{step.samples_per_s:,.0f} samples/s · " if now else ""
            lines.append(
                f"epoch {step.epoch}/{epochs} · step {steps:,}/{total:,} · "
                f"{speed}loss {step.loss:.4f} · acc {step.accuracy:.1%}"
            )
        else:
            bar.update(total=1.0, progress=1.0 if run.done else 0.0)
            lines.append(f"epoch 0/{epochs} · step 0/{total:,}")
        if run.epochs:
            last = run.epochs[-1]
            lines.append(
                f"val after epoch {last.epoch}: loss {last.val_loss:.4f} · acc {last.val_accuracy:.1%}"
                f" · epoch took {last.epoch_seconds:.1f} s"
            )
        if run.finished is not None and run.finished.test_accuracy is not None:
            lines.append(f"test: loss {run.finished.test_loss:.4f} · acc {run.finished.test_accuracy:.1%}")
        if run.failed is not None:
            lines.append(f"[red]error: {escape(run.failed.error)}[/]")
        if started:
            sizes = f"{started.train_size:,} train / {started.val_size:,} val / {started.test_size:,} test"
            source = SOURCE_COUNTS.sub("", started.data_source)  # the counts used follow: one line at 100 columns
            lines.append(f"data: {escape(source)} · using {sizes}")
            lines.append(f"run dir: {escape(started.run_dir) or '(not recorded)'}")
        self.query_one("#status-lines", Static).update("\n".join(lines))
