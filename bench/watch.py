"""What watching ten scalars costs the handmade backend: training throughput with and without, in one run.

    .venv/bin/python bench/watch.py [--train 400] [--repeats 3] [--input-size 14] [--batch-sizes 8,1]

Runs ScalarTrainer.fit on the embedded MNIST sample, alternating 0 and 10 watched addresses (weights, a bias,
a pre-activation and the loss), and prints the best training samples per CPU second of each and their ratio.
The emit callback serialises every event to JSON, as the run recorder does, so the cost of the extra
ScalarWatch events is counted. The budget is a ratio of at least 0.90.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.backends import RunControl  # noqa: E402
from core.backends.scalar import ScalarTrainer  # noqa: E402
from core.config import TrainConfig  # noqa: E402
from core.data import load_data  # noqa: E402
from core.events import EpochEnded, RunStarted, ScalarWatch  # noqa: E402
from core.records.jsonl import to_json


def watched_addresses(side: int) -> tuple[str, ...]:
    """Ten addresses a user might pick: first-layer weights of central pixels, deeper ones, z and the loss."""
    centre = (side // 2) * side + side // 2
    pixels = (centre, centre + 1, centre - side, centre + side, centre - 1, centre + 2 * side)
    return (*(f"L0.N{j}.w{p}" for j, p in enumerate(pixels)), "L1.N5.w3", "L2.N7.b", "L0.N3.z", "loss")


def throughput(config: TrainConfig, data, watched: tuple[str, ...]) -> tuple[float, int]:
    """Training samples per CPU second over one epoch, and how many ScalarWatch events it produced.

    Process CPU time (not wall time) from RunStarted to EpochEnded, so other processes sharing the machine do
    not blur a ratio of a few percent.
    """
    lines: list[str] = []
    seen = {"watch": 0}

    def emit(event) -> None:
        lines.append(to_json(event))
        if isinstance(event, RunStarted):
            seen["start"] = time.process_time()
        elif isinstance(event, ScalarWatch):
            seen["watch"] += 1
        elif isinstance(event, EpochEnded):
            seen["end"] = time.process_time()
        if len(lines) > 10_000:
            lines.clear()

    summary = ScalarTrainer().fit(config, data, emit, RunControl(watched=watched))
    if summary.reason != "completed":
        raise SystemExit(f"benchmark run ended with {summary.reason}: {summary.message}")
    return len(data.train) / (seen["end"] - seen["start"]), seen["watch"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=400, help="training digits per measured epoch")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per variant (best is kept)")
    parser.add_argument("--input-size", type=int, default=14, choices=(28, 14, 7))
    parser.add_argument("--batch-sizes", default="8,1", help="comma-separated batch sizes to measure")
    args = parser.parse_args()
    base = TrainConfig(input_size=args.input_size, train_subset=args.train, val_subset=10, test_subset=10,
                       epochs=1)
    data = load_data(base, allow_download=False)
    watched = watched_addresses(args.input_size)
    print(f"MLP {'-'.join(map(str, base.layer_sizes))}, {base.loss}, {base.optimizer}, {args.train} digits per run, "
          f"best of {args.repeats}; watching {len(watched)}: {', '.join(watched)}")
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        config = base.replace(batch_size=batch_size)
        plain, watching, n_watch = 0.0, 0.0, 0
        for _ in range(args.repeats):
            plain = max(plain, throughput(config, data, ())[0])
            rate, n_watch = throughput(config, data, watched)
            watching = max(watching, rate)
        print(f"batch {batch_size:>3}: {plain:8.0f} samples/cpu-s unwatched, {watching:8.0f} watched "
              f"({n_watch} ScalarWatch events/epoch); ratio {watching / plain:.3f} (budget >= 0.90)")


if __name__ == "__main__":
    main()
