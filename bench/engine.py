"""Time one SGD step of MLP(784, [64, 32, 10]) on real digits: the handmade engine vs the seed's engine.

Usage: python bench/engine.py [--fast-steps N] [--baseline-steps K] [--steps M] [--data DIR] [--naive]
                              [--engine-rev REV [--ab-rounds R]]

The baseline is the seed notebook's own engine, loaded from ../shared/reference/seed_engine.py next to the
checkout (its `seed_step`: pixels wrapped as Scalars, MSE on a one-hot target, backward, plain SGD). Where
that file is missing, bench/naive_engine.py (a stand-in in the seed's style) is the fallback, and the
output says so. Both engines run in the same process on the same digits, interleaved, and are timed in CPU
seconds of this process, so the ratio holds on a busy machine even when wall-clock times do not. Garbage
collection runs as it normally would (the seed's closures make reference cycles it has to pay for).
--engine-rev REV also times core/engine.py, core/nn.py and core/optim.py as of git revision REV in the same
loop: a before/after of an engine change, measured side by side; with --ab-rounds R, only that A/B (R rounds of
--fast-steps steps per engine, taking turns going first): how an engine change was judged (kept if >= 5% faster).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import importlib.util
import os
import random
import statistics
import struct
import subprocess
import sys
import time
import tracemalloc
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]  # run from a checkout without installing

import naive_engine  # noqa: E402

from core.nn import MLP, mse_loss  # noqa: E402
from core.optim import SGD  # noqa: E402

# CPU time of this process: on a shared machine wall time mostly measures the other processes.
CLOCK = time.process_time
SHAPE = [64, 32, 10]
LR = 0.05
EPOCH = 60_000
SEED_ENGINE = REPO.parent / "shared" / "reference" / "seed_engine.py"


class Baseline:
    """The engine the handmade one is compared against: a model and its own one-digit training step."""

    def __init__(self, name: str, source: str, model, step) -> None:
        self.name, self.source, self.model, self.step = name, source, model, step


def seed_baseline(path: Path) -> Baseline:
    """The seed notebook's engine, loaded from `path` (never copied into the project)."""
    spec = importlib.util.spec_from_file_location("seed_engine", path)
    seed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))  # its DFS recurses along 784-add chains
    random.seed(0)  # it draws its U(-1, 1) weights from the global generator
    model = seed.MLP(784, list(SHAPE))
    # Learning rate 0: its U(-1, 1) init diverges to NaN within a few steps at 0.05; the work is the same.
    return Baseline("the seed's engine", f"../shared/reference/{path.name}", model,
                    lambda x, y: seed.seed_step(model, x, y, 0.0))


def naive_baseline() -> Baseline:
    """The fallback: bench/naive_engine.py, a stand-in written in the seed's style (slower than the seed)."""
    model = naive_engine.MLP(784, SHAPE, seed=0)
    params = model.parameters()
    return Baseline("the naive stand-in engine", "bench/naive_engine.py", model,
                    lambda x, y: naive_engine.sgd_step(model, params, x, y, LR))


def engine_at(rev: str) -> tuple[types.ModuleType, types.ModuleType]:
    """(nn, optim) modules: core/engine.py, core/nn.py and core/optim.py as of git revision `rev`."""
    def source(path: str) -> str:
        return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout

    modules = {}
    for name, path, src in (("engine", "core/engine.py", source("core/engine.py")),
                            ("optim", "core/optim.py", source("core/optim.py")),
                            ("nn", "core/nn.py", source("core/nn.py"))):
        module = types.ModuleType(f"{name}_at_{rev}")
        sys.modules[module.__name__] = module  # dataclasses and typing look modules up by name
        if name != "engine":
            src = src.replace("from core.engine import", f"from {modules['engine'].__name__} import")
        exec(compile(src, f"{rev}:{path}", "exec"), module.__dict__)
        modules[name] = module
    return modules["nn"], modules["optim"]


def pick_baseline(force_naive: bool = False) -> Baseline:
    """The seed's engine when ../shared/reference/seed_engine.py is there, else the naive stand-in."""
    if SEED_ENGINE.exists() and not force_naive:
        return seed_baseline(SEED_ENGINE)
    return naive_baseline()


def load_digits(data_dir: Path, n: int) -> tuple[list[list[float]], list[int]]:
    """The first `n` training digits as lists of 784 floats in [0, 1], and their labels."""
    images, labels = data_dir / "train-images-idx3-ubyte.gz", data_dir / "train-labels-idx1-ubyte.gz"
    if images.exists() and labels.exists():
        with gzip.open(images) as f:
            magic, _, rows, cols = struct.unpack(">IIII", f.read(16))
            assert magic == 2051, f"{images}: not an IDX image file"
            raw = f.read(n * rows * cols)
        with gzip.open(labels) as f:
            f.read(8)
            ys = list(f.read(n))
        side = rows * cols
        return [[b / 255.0 for b in raw[i * side:(i + 1) * side]] for i in range(n)], ys
    from core.data import find_and_load  # the embedded sample, when the full files are not there

    raw_mnist = find_and_load(None, announce=None, allow_download=False)
    xs = (raw_mnist.train_images[:n].reshape(n, -1) / 255.0).tolist()
    return xs, [int(y) for y in raw_mnist.train_labels[:n]]


def fast_step(model: MLP, opt: SGD, x: list[float], y: int, loss_fn=mse_loss) -> float:
    """One step through the public API."""
    loss = loss_fn(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.data


def time_fast(model: MLP, opt: SGD, xs: list, ys: list, steps: int, loss_fn=mse_loss,
              start: int = 0) -> list[float]:
    """Seconds per step for `steps` steps, one sample each, from digit `start` on."""
    times = []
    for i in range(start, start + steps):
        t = CLOCK()
        fast_step(model, opt, xs[i % len(xs)], ys[i % len(ys)], loss_fn)
        times.append(CLOCK() - t)
    return times


def time_baseline(baseline: Baseline, xs: list, ys: list, steps: int, start: int = 0) -> list[float]:
    """Seconds per baseline step; garbage collection included, as the seed's closures make cycles."""
    times = []
    for i in range(start, start + steps):
        t = CLOCK()
        baseline.step(xs[i % len(xs)], ys[i % len(ys)])
        gc.collect()  # its closures leave cycles: collect them on its clock, not during the next engine's steps
        times.append(CLOCK() - t)
    return times


def peak_step_memory(step) -> int:
    """Peak bytes allocated while running `step()` once (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def memory_over_steps(xs: list, ys: list, steps: int) -> tuple[int, list[tuple[int, int]]]:
    """Model bytes, and (step, bytes allocated) at checkpoints over `steps` steps: flat = graphs are freed.

    The model is built under tracemalloc: otherwise each weight's first update swaps an untraced float for
    a traced one, which looks like growth (up to 24 B x 50,890 weights) but is not.
    """
    gc.collect()
    tracemalloc.start()
    model = MLP(784, SHAPE, seed=1)
    opt = SGD(model.parameters(), lr=LR)
    model_bytes = tracemalloc.get_traced_memory()[0]
    marks = []
    # Check at whole passes over the digits when possible, so each mark holds the same digit's graph.
    every = max(1, steps // 10)
    if every >= len(xs):
        every -= every % len(xs)
    for i in range(steps):
        fast_step(model, opt, xs[i % len(xs)], ys[i % len(ys)])
        if (i + 1) % every == 0:
            marks.append((i + 1, tracemalloc.get_traced_memory()[0]))
    tracemalloc.stop()
    return model_bytes, marks


def spread(times: list[float], digits: int = 3) -> str:
    """Best, quartiles and worst of `times` in ms: how much the steps varied."""
    q1, _, q3 = statistics.quantiles(times, n=4) if len(times) > 1 else (times * 3)
    return (f"best {min(times) * 1e3:.{digits}f}, quartiles {q1 * 1e3:.{digits}f}-{q3 * 1e3:.{digits}f}, "
            f"worst {max(times) * 1e3:.{digits}f}")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: how busy the machine was (the other processes' share)."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def ab_only(args: argparse.Namespace, old: tuple, model: MLP, opt: SGD, xs: list, ys: list) -> None:
    """Same-run A/B of this tree against --engine-rev: medians, quartiles and the spread of per-round ratios."""
    old_rounds: list[list[float]] = []
    new_rounds: list[list[float]] = []
    steps = args.fast_steps
    for k in range(args.ab_rounds):
        if k % 2 == 0:
            old_rounds.append(time_fast(old[0], old[1], xs, ys, steps, old[2], start=k * steps))
        new_rounds.append(time_fast(model, opt, xs, ys, steps, start=k * steps))
        if k % 2 == 1:
            old_rounds.append(time_fast(old[0], old[1], xs, ys, steps, old[2], start=k * steps))
    old_all = [t for r in old_rounds for t in r]
    new_all = [t for r in new_rounds for t in r]
    ratios = sorted(statistics.median(o) / statistics.median(n) for o, n in zip(old_rounds, new_rounds, strict=True))
    print(f"load average    : {load_average()} (uptime) on {os.cpu_count()} cores")
    print(f"engine @{args.engine_rev:<7}: {statistics.median(old_all) * 1e3:.3f} ms/step ({spread(old_all)})")
    print(f"this tree       : {statistics.median(new_all) * 1e3:.3f} ms/step ({spread(new_all)})")
    print(f"this tree vs {args.engine_rev}: {statistics.median(old_all) / statistics.median(new_all):.3f}x faster "
          f"(medians of {len(new_all)} steps each; per-round ratios {ratios[0]:.3f}-{ratios[-1]:.3f}, "
          f"median {statistics.median(ratios):.3f})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2560, help="steps for the memory-flatness check")
    parser.add_argument("--fast-steps", type=int, default=300, help="timed steps of the handmade engine")
    parser.add_argument("--baseline-steps", "--naive-steps", type=int, default=5,
                        help="timed steps of the baseline engine")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "mnist")
    parser.add_argument("--naive", action="store_true", help="use bench/naive_engine.py even if the seed's is there")
    parser.add_argument("--engine-rev", help="also time core/engine.py, nn.py and optim.py of this git revision")
    parser.add_argument("--ab-rounds", type=int, default=0,
                        help="with --engine-rev: only the A/B, in this many rounds of --fast-steps steps each "
                             "(the engines take turns going first), without the baseline or the memory check")
    args = parser.parse_args(argv)
    if args.ab_rounds and not args.engine_rev:
        parser.error("--ab-rounds needs --engine-rev")

    xs, ys = load_digits(args.data, 256)
    nonzero = statistics.mean(sum(1 for v in x if v) / len(x) for x in xs)
    print(f"MLP(784, {SHAPE}), MSE, SGD lr {LR}, one digit per step; {nonzero:.0%} of pixels non-zero")
    if not args.ab_rounds:
        baseline = pick_baseline(args.naive)
        print(f"baseline        : {baseline.name} ({baseline.source})")
    model = MLP(784, SHAPE, seed=0)
    opt = SGD(model.parameters(), lr=LR)

    old = None
    if args.engine_rev:
        old_nn, old_optim = engine_at(args.engine_rev)
        old_model = old_nn.MLP(784, SHAPE, seed=0)
        old = (old_model, old_optim.SGD(old_model.parameters(), lr=LR), old_nn.mse_loss)
        time_fast(old[0], old[1], xs, ys, 20, old[2])
    time_fast(model, opt, xs, ys, 20)  # warm up
    if args.ab_rounds:
        ab_only(args, old, model, opt, xs, ys)
        return
    # Interleave the engines so that load from other processes hits them alike.
    fast_times: list[float] = []
    old_times: list[float] = []
    base_times: list[float] = []
    per_round = max(1, args.fast_steps // args.baseline_steps)
    for k in range(args.baseline_steps):
        # In blocks, as alternating every step would make each step start with cold caches; the two engines
        # take turns going first, so that neither always runs right after the baseline's big collection.
        if old is not None and k % 2 == 0:
            old_times += time_fast(old[0], old[1], xs, ys, per_round, old[2], start=k * per_round)
        fast_times += time_fast(model, opt, xs, ys, per_round, start=k * per_round)
        if old is not None and k % 2 == 1:
            old_times += time_fast(old[0], old[1], xs, ys, per_round, old[2], start=k * per_round)
        base_times += time_baseline(baseline, xs, ys, 1, start=k)
    fast_med, base_med = statistics.median(fast_times), statistics.median(base_times)
    print(f"load average    : {load_average()} (uptime) on {os.cpu_count()} cores")
    print(f"baseline engine : {base_med * 1e3:9.1f} ms/step  (CPU time, median of {len(base_times)}; "
          f"{spread(base_times, 1)})")
    if old is not None:
        old_med = statistics.median(old_times)
        print(f"engine @{args.engine_rev:<7}: {old_med * 1e3:9.3f} ms/step  (median of {len(old_times)}; "
              f"{spread(old_times)}): {base_med / old_med:.0f}x {baseline.name} ({baseline.source}) "
              f"(best vs best: {min(base_times) / min(old_times):.0f}x)")
    print(f"handmade engine : {fast_med * 1e3:9.3f} ms/step  (median of {len(fast_times)}; {spread(fast_times)})")
    print(f"speed-up        : {base_med / fast_med:9.0f}x {baseline.name} ({baseline.source}) "
          f"(medians; best vs best: {min(base_times) / min(fast_times):.0f}x)")
    if old is not None:
        print(f"this tree vs {args.engine_rev}: {old_med / fast_med:.2f}x faster (medians, same run)")
    print(f"full epoch of {EPOCH:,} digits: handmade {EPOCH * fast_med / 60:.1f} min, "
          f"baseline {EPOCH * base_med / 3600:.1f} h")

    loss = mse_loss(model(xs[0]), ys[0])
    interior = loss.topological_order()
    edges = sum(len(n.parents) for n in interior)
    print(f"graph per step  : {len(interior)} interior nodes, {edges} parent links (seed: ~100,000 nodes)")
    i = iter(range(10**9))
    fast_peak = peak_step_memory(lambda: fast_step(model, opt, xs[next(i) % 256], ys[0]))
    base_peak = peak_step_memory(lambda: baseline.step(xs[1], ys[1]))
    print(f"peak memory     : handmade {fast_peak / 2**20:.2f} MiB/step, baseline {base_peak / 2**20:.1f} MiB/step")

    model_bytes, marks = memory_over_steps(xs, ys, args.steps)
    first, last = marks[0][1], marks[-1][1]
    print(f"model           : {model_bytes / 2**20:.1f} MiB for {len(model.parameters()):,} parameter Scalars")
    print(f"memory over {args.steps} steps (allocated after step n, model included): "
          + ", ".join(f"{n}: {b / 2**20:.2f}" for n, b in marks) + " MiB")
    print(f"growth from step {marks[0][0]} to {marks[-1][0]}: {(last - first) / 1024:+.1f} KiB "
          f"({'flat' if abs(last - first) < 256 * 1024 else 'GROWING'})")


if __name__ == "__main__":
    main()
