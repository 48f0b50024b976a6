"""One epoch over the full 60,000 training digits: our Lightning backend vs a plain PyTorch loop (and bare Lightning).

All train 784-128-10 with plain SGD at batch 64 on the same device-resident data, in this one process,
interleaved and repeated; the script prints both times (median and best of the repeats) and the ratios.
The Lightning time is the backend's own EpochEnded.epoch_seconds (training steps only, no validation).

    .venv/bin/python bench/lightning.py [--data-dir DIR] [--device auto|cpu|gpu] [--repeats 3] [--threads N] [--profile]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

# This file is named lightning.py: drop its own folder from the path, or it shadows the lightning package.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from core.backends import RunControl  # noqa: E402
from core.backends.lightning import (  # noqa: E402
    LightningTrainer,
    choose_threads,
    describe_device,
    resolve_accelerator,
    route_lightning_logs,
)
from core.backends.lightning.network import build_network  # noqa: E402
from core.config import TrainConfig  # noqa: E402
from core.data import MnistData, Split, find_and_load  # noqa: E402
from core.events import EpochEnded, RunFailed  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def full_train(data_dir: Path) -> MnistData:
    """All 60,000 training digits as the training split (validation/test: 1,000 test digits, off the clock)."""
    raw = find_and_load(data_dir, allow_download=False)

    def split(images: np.ndarray, labels: np.ndarray) -> Split:
        flat = images.reshape(len(images), -1).astype(np.float32) / 255.0
        return Split(images=flat, labels=labels.astype(np.int64))

    train = split(raw.train_images, raw.train_labels)
    held = split(raw.test_images[:1000], raw.test_labels[:1000])
    return MnistData(train=train, val=held, test=held, side=28, source=raw.source, is_sample=raw.is_sample)


def plain_epoch(config: TrainConfig, data: MnistData, device: torch.device) -> float:
    """Seconds for one epoch of a hand-written loop over device-resident tensors (same model and init)."""
    net = build_network(config).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=config.lr)
    x = torch.from_numpy(data.train.images).to(device)
    y = torch.from_numpy(data.train.labels).to(device)
    sync(device)
    t = time.perf_counter()
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(config.seed)).to(device)
    for idx in perm.split(config.batch_size):
        loss = F.cross_entropy(net(x.index_select(0, idx)), y.index_select(0, idx))
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync(device)
    return time.perf_counter() - t


def bare_lightning_epoch(config: TrainConfig, data: MnistData, device: torch.device) -> float:
    """Seconds for one epoch of a textbook LightningModule over the same device-resident batches.

    Automatic optimisation, one optimiser step per Lightning batch, no events or metrics: what Lightning's
    per-batch loop costs when every step goes through all of it.
    """
    import lightning as L

    class Bare(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = build_network(config)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=config.lr)

    class Clock(L.Callback):
        def on_train_epoch_start(self, trainer, module) -> None:
            sync(device)
            self.t = time.perf_counter()

        def on_train_epoch_end(self, trainer, module) -> None:
            sync(device)
            self.seconds = time.perf_counter() - self.t

    x = torch.from_numpy(data.train.images).to(device)
    y = torch.from_numpy(data.train.labels).to(device)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(config.seed)).to(device)
    class Batches:  # an iterable object (a bare list would read as a list of dataloaders)
        def __len__(self) -> int:
            return len(perm.split(config.batch_size))

        def __iter__(self):
            for i in perm.split(config.batch_size):
                yield x.index_select(0, i), y.index_select(0, i)

    batches = Batches()
    clock = Clock()
    trainer = L.Trainer(
        accelerator="gpu" if device.type == "cuda" else "cpu", devices=1, max_epochs=1, callbacks=[clock],
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=0,
    )
    trainer.fit(Bare(), train_dataloaders=batches)
    return clock.seconds


def lightning_epoch(config: TrainConfig, data: MnistData) -> tuple[float, float]:
    """(epoch_seconds reported by the backend, wall seconds of the whole fit call)."""
    events = []
    t = time.perf_counter()
    LightningTrainer().fit(config, data, events.append, RunControl())
    wall = time.perf_counter() - t
    failed = [e for e in events if isinstance(e, RunFailed)]
    if failed:
        raise SystemExit(f"lightning run failed: {failed[0].error}\n{failed[0].traceback}")
    return next(e.epoch_seconds for e in events if isinstance(e, EpochEnded)), wall


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads for all three: 0 = the backend's thread policy (as users run it), "
                             "-1 = torch's default (one per core)")
    parser.add_argument("--profile", action="store_true", help="cProfile one Lightning epoch (top 25)")
    args = parser.parse_args()
    config = TrainConfig(
        backend="lightning", hidden=(128,), input_size=28, optimizer="sgd", lr=0.05, batch_size=64, epochs=1,
        train_subset=0, val_subset=0, test_subset=0, device=args.device,
    )
    # The backend sets its own threads (config.threads, 0 = the policy); the plain loop gets the same count.
    threads = torch.get_num_threads() if args.threads < 0 else choose_threads(config.replace(threads=args.threads))
    config = config.replace(threads=threads)
    torch.set_num_threads(threads)
    data = full_train(args.data_dir)
    device = torch.device("cuda" if resolve_accelerator(args.device) == "gpu" else "cpu")
    print(f"device: {describe_device(args.device)}, torch threads: {torch.get_num_threads()}, "
          f"train digits: {len(data.train)}, batch {config.batch_size}, 784-128-10, SGD")
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx("lightning_epoch(config, data)", globals(), locals(), "/tmp/lightning.prof")
        pstats.Stats("/tmp/lightning.prof").sort_stats("tottime").print_stats(25)
        return
    import lightning  # noqa: F401 -- imported before routing: its import adds the stderr handler routing removes

    with route_lightning_logs(lambda event: None, "bench"):  # keep Lightning's banner lines off the table
        plain_epoch(config, data, device)  # warm-up: allocator, kernels, lazy imports
        lightning_epoch(config, data)
        bare_lightning_epoch(config, data, device)
        plain, light, bare, walls = [], [], [], []
        for _ in range(args.repeats):  # interleaved, so load on a shared machine hits all alike
            plain.append(plain_epoch(config, data, device))
            seconds, wall = lightning_epoch(config, data)
            light.append(seconds)
            walls.append(wall)
            bare.append(bare_lightning_epoch(config, data, device))
    p, q, b = statistics.median(plain), statistics.median(light), statistics.median(bare)
    for name, runs in (("plain PyTorch loop", plain), ("our Lightning backend", light), ("bare LightningModule", bare)):
        print(f"{name:22s}: median {statistics.median(runs):.3f} s/epoch, best {min(runs):.3f}  "
              f"(runs: {', '.join(f'{v:.3f}' for v in runs)})")
    print(f"  our whole fit() call incl. Trainer setup, validation, test: {statistics.median(walls):.3f} s")
    print(f"ratio our backend / plain: {q / p:.2f}x median, {min(light) / min(plain):.2f}x best  (target <= 1.25x)")
    print(f"ratio bare Lightning / plain: {b / p:.2f}x median (a textbook module: automatic optimisation, "
          "Lightning's whole batch loop at every step)")
    print(f"ratio our backend / bare Lightning: {q / b:.2f}x median")


if __name__ == "__main__":
    main()
