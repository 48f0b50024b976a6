"""Every GPU-relevant check in one command, as a table: tests, speed against a plain loop, CUDA graphs, memory.

    PYTHONPATH=. python3 bench/gpu.py [--data-dir DIR] [--repeats 3] [--cpu-selftest]

Runs with only torch, lightning and numpy installed (no textual, pytest optional). Checks, on the first CUDA
device: the GPU tests (pytest -k "gpu or cuda" when pytest is there, and the same checks inline either way);
one epoch of 784-128-10, plain SGD, batch 64 over 60,000 device-resident digits by (a) a plain PyTorch loop,
(b) the Lightning backend, (c) the Lightning backend with cuda_graphs, (d) the plain loop captured as a CUDA
graph; the ratios against the targets of issue 15 (Lightning <= 1.25x the plain loop; CUDA graphs >= 2x
faster than the eager plain loop); peak GPU memory. Without CUDA it says so and exits 0. The real digits are
used when found (--data-dir, ../shared/data/mnist); otherwise random pixels of the same shape (speed only).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:1] = [str(REPO)]  # this folder holds lightning.py: it must not shadow the lightning package
DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist"
TRAIN = 60_000
BATCH = 64


def stand_ins() -> list[str]:
    """Minimal stand-ins for the dashboard's pure-Python dependencies a bare GPU box may lack (bench only)."""
    made = []
    if importlib.util.find_spec("orjson") is None:  # core.events' fast path; it falls back to json on TypeError
        orjson = types.ModuleType("orjson")
        orjson.JSONEncodeError = orjson.JSONDecodeError = type("JSONError", (TypeError, ValueError), {})
        orjson.OPT_SERIALIZE_NUMPY = 0

        def dumps(*_args, **_kwargs):
            raise TypeError("orjson stand-in")

        orjson.dumps, orjson.loads = dumps, json.loads
        sys.modules["orjson"] = orjson
        made.append("orjson")
    if importlib.util.find_spec("platformdirs") is None:  # only names the download cache, never used here
        platformdirs = types.ModuleType("platformdirs")
        platformdirs.user_cache_dir = lambda *a, **k: str(Path(tempfile.gettempdir()) / "mnist-dash-cache")
        sys.modules["platformdirs"] = platformdirs
        made.append("platformdirs")
    return made


def load(data_dir: Path, train: int):
    """MnistData with `train` training digits (real when found, else random) and 1,000 held-out ones."""
    import numpy as np

    from core.data import MnistData, Split, find_and_load

    try:
        raw = find_and_load(data_dir, allow_download=False)
        if raw.is_sample or len(raw.train_images) < train:
            raise FileNotFoundError
        images, labels, held_x, held_y = raw.train_images[:train], raw.train_labels[:train], raw.test_images[:1000], \
            raw.test_labels[:1000]
        source = str(data_dir)
    except Exception:
        rng = np.random.default_rng(0)
        images, labels = rng.integers(0, 256, (train, 28, 28), dtype=np.uint8), rng.integers(0, 10, train)
        held_x, held_y, source = images[:1000], labels[:1000], "random pixels (speed only)"

    def split(x, y):
        return Split(images=x.reshape(len(x), -1).astype(np.float32) / 255.0, labels=y.astype(np.int64))

    held = split(held_x, held_y)
    return MnistData(train=split(images, labels), val=held, test=held, side=28, source=source, is_sample=False)


def config_for(device: str, **changes):
    from core.config import TrainConfig

    return TrainConfig(backend="lightning", hidden=(128,), input_size=28, optimizer="sgd", lr=0.05, batch_size=BATCH,
                       epochs=1, train_subset=0, val_subset=0, test_subset=0, device=device, **changes)


def plain_epoch(config, data, device, *, graph: bool = False) -> float:
    """Seconds for one epoch of a hand-written loop on device-resident tensors (optionally a CUDA graph step)."""
    import torch
    import torch.nn.functional as F

    from core.backends.lightning.network import build_network

    net = build_network(config).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=config.lr)
    x = torch.from_numpy(data.train.images).to(device)
    y = torch.from_numpy(data.train.labels).to(device)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0)).to(device)
    batches = [i for i in perm.split(BATCH) if len(i) == BATCH]
    step = None
    if graph:
        from core.backends.lightning.graphs import CapturedStep

        step = CapturedStep(net, F.cross_entropy, opt, BATCH, x[batches[0]], y[batches[0]])
    sync(device)
    t = time.perf_counter()
    for idx in batches:
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        if step is not None:
            step.step(xb, yb)
        else:
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    sync(device)
    return time.perf_counter() - t


def backend_epoch(config, data, watched=()) -> tuple[float, list]:
    """(EpochEnded.epoch_seconds, all events) of one Lightning-backend run."""
    from core.backends import RunControl
    from core.backends.lightning import LightningTrainer
    from core.events import EpochEnded, RunFailed

    events: list = []
    trainer = LightningTrainer()
    trainer.fit(config, data, events.append, RunControl(watched))
    failed = [e for e in events if isinstance(e, RunFailed)]
    if failed:
        raise RuntimeError(f"{failed[0].error}\n{failed[0].traceback[-1500:]}")
    return next(e.epoch_seconds for e in events if isinstance(e, EpochEnded)), events


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def inline_checks(device_name: str, data) -> list[tuple[str, str, str]]:
    """The GPU tests' checks without pytest: device name, CUDA graphs train exactly like eager steps."""
    from core.events import EpochEnded, RunStarted, ScalarWatch

    rows = []
    small = type(data)(train=type(data.train)(images=data.train.images[:250], labels=data.train.labels[:250]),
                       val=data.val, test=data.test, side=28, source=data.source, is_sample=False)
    _, events = backend_epoch(config_for(device_name, batch_size=32), small)
    name = next(e.device for e in events if isinstance(e, RunStarted))
    rows.append(("GPU run names the device", name, "ok" if name not in ("cpu", "") else "FAIL"))
    for optimizer in ("sgd", "momentum"):
        cfg = config_for(device_name, batch_size=32, epochs=2, optimizer=optimizer)
        _, eager = backend_epoch(cfg, small, ["L0.N3.w20"])
        _, graphed = backend_epoch(cfg.replace(cuda_graphs=True), small, ["L0.N3.w20"])
        a = [(w.step, w.data) for w in eager if isinstance(w, ScalarWatch)]
        b = [(w.step, w.data) for w in graphed if isinstance(w, ScalarWatch)]
        worst = max((abs(x[1] - y[1]) for x, y in zip(a, b, strict=True)), default=float("inf"))
        same_steps = [s for s, _ in a] == [s for s, _ in b] and len(a) == 16
        acc = ([e.train_accuracy for e in eager if isinstance(e, EpochEnded)]
               == [e.train_accuracy for e in graphed if isinstance(e, EpochEnded)])
        ok = same_steps and worst <= 1e-5 and acc
        rows.append((f"cuda_graphs = eager steps ({optimizer})", f"max |diff| {worst:.1e}, steps {len(b)}",
                     "ok" if ok else "FAIL"))
    return rows


def run_pytest() -> tuple[str, str, str]:
    if importlib.util.find_spec("pytest") is None:
        return ("pytest GPU tests", "pytest not installed: the inline checks above cover them", "skipped")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "gpu or cuda",
                          "tests/test_backend_lightning.py"], cwd=REPO, capture_output=True, text=True, timeout=240,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    tail = (out.stdout.strip().splitlines() or ["(no output)"])[-1]
    return ("pytest -k 'gpu or cuda'", tail[:70], "ok" if out.returncode == 0 else "FAIL")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu-selftest", action="store_true", help="exercise this script on the CPU (no graphs)")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("no CUDA: torch is not installed for this Python; nothing to check (exit 0)")
        return 0

    t0 = time.perf_counter()
    if not torch.cuda.is_available() and not args.cpu_selftest:
        print(f"no CUDA: torch {torch.__version__} sees no CUDA GPU here; nothing to check (exit 0)")
        return 0
    made = stand_ins()
    import lightning

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    name = torch.cuda.get_device_name(0) if cuda else "cpu (self-test)"
    data = load(args.data_dir, TRAIN if cuda else 4096)
    print(f"{time.strftime('%Y-%m-%d')}  {name}  torch {torch.__version__}  lightning {lightning.__version__}  "
          f"data: {data.source}, {len(data.train):,} digits" + (f"  (stand-ins: {', '.join(made)})" if made else ""))
    rows: list[tuple[str, str, str]] = []
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        rows += inline_checks("gpu", data)
        rows.append(run_pytest())
    config = config_for("gpu" if cuda else "cpu")
    plain_epoch(config, data, device)  # warm-up: allocator, kernels, lazy imports
    backend_epoch(config, data)
    plain, light, graphed, plain_graph = [], [], [], []
    for _ in range(args.repeats):  # interleaved, so a shared machine's load hits all alike
        plain.append(plain_epoch(config, data, device))
        light.append(backend_epoch(config, data)[0])
        if cuda:
            graphed.append(backend_epoch(config.replace(cuda_graphs=True), data)[0])
            plain_graph.append(plain_epoch(config, data, device, graph=True))
    p, q = statistics.median(plain), statistics.median(light)
    steps = len(data.train) // BATCH
    rows.append(("plain loop, eager", f"{p:.3f} s/epoch ({p / steps * 1e3:.3f} ms/step)", "baseline"))
    verdict = "ok" if q / p <= 1.25 else "MISSED"
    rows.append(("Lightning backend, eager", f"{q:.3f} s/epoch, {q / p:.2f}x plain", verdict))
    if cuda:
        g, pg = statistics.median(graphed), statistics.median(plain_graph)
        rows.append(("Lightning backend, cuda_graphs", f"{g:.3f} s/epoch, {p / g:.2f}x faster than plain eager",
                     "ok" if p / g >= 2 else "MISSED"))
        rows.append(("plain loop as a CUDA graph", f"{pg:.3f} s/epoch, {p / pg:.2f}x faster than plain eager", "ref"))
        peak = torch.cuda.max_memory_allocated() / 2**20
        free, total = torch.cuda.mem_get_info()
        rows.append(("GPU memory", f"peak {peak:.0f} MiB allocated by torch; {total / 2**30:.0f} GiB total, "
                     f"{(total - free) / 2**30:.1f} GiB in use now", "info"))
    width = max(len(r[0]) for r in rows)
    print(f"{'check':{width}s}  {'result':58s}  verdict")
    for check, result, verdict in rows:
        print(f"{check:{width}s}  {result:58s}  {verdict}")
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 1 if any(v == "FAIL" for _, _, v in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
