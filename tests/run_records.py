"""A tiny fixed run record (2 epochs x 2 steps) written through the real RunRecorder: compare, export, history."""

from __future__ import annotations

from pathlib import Path

from core.config import TrainConfig
from core.events import EpochEnded, RunFinished, RunStarted, StepEnded
from core.records.runs import RunRecorder

BASE = TrainConfig(input_size=7, hidden=(8,), batch_size=4, epochs=2, train_subset=8, val_subset=4,
                   test_subset=4, lr=0.1, device="cpu")
LOSSES = (1.0, 0.0, 1.0, 0.5)
ACCURACIES = (0.25, 0.5, 0.75, 1.0)
VAL = ((0.8, 0.5), (0.6, 0.75))  # (val loss, val accuracy) per epoch


def write_run(runs_dir: Path, run_id: str, config: TrainConfig = BASE, *, losses=LOSSES, accuracies=ACCURACIES,
              val=VAL, start: float = 1000.0, test_accuracy: float | None = 0.7, finish: bool = True) -> Path:
    """A record of 2 epochs x 2 steps (train split 8, batch 4): steps at start+1.., epoch ends at +2.5, +4.5."""
    with RunRecorder(runs_dir, run_id, config) as rec:
        rec(RunStarted(run_id=run_id, time=start, backend=config.backend, device="cpu", data_source="test",
                       config=config.to_dict(), train_size=8, val_size=4, test_size=4, total_steps=4))
        for i, (loss, acc) in enumerate(zip(losses, accuracies, strict=True)):
            step = i + 1
            rec(StepEnded(run_id=run_id, time=start + step, step=step, epoch=(step + 1) // 2, loss=loss,
                          accuracy=acc, samples_per_s=4.0, samples_seen=4 * step, progress=step / 4, total_steps=4))
            if step % 2 == 0:
                vl, va = val[step // 2 - 1]
                rec(EpochEnded(run_id=run_id, time=start + step + 0.5, epoch=step // 2, step=step, train_loss=loss,
                               train_accuracy=acc, val_loss=vl, val_accuracy=va, epoch_seconds=2.0))
        if finish:
            rec(RunFinished(run_id=run_id, time=start + 5, reason="completed", steps=4, epochs_completed=2,
                            seconds=12.0, test_accuracy=test_accuracy))
            rec.write_summary({"run_id": run_id, "reason": "completed", "steps": 4, "epochs_completed": 2,
                               "seconds": 12.0, "test_accuracy": test_accuracy,
                               "best_val_accuracy": max(v for _, v in val), "started_at": "2024-01-02T03:04:05Z"})
    return runs_dir / run_id
