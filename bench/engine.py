"""Time one SGD step of MLP(784, [64, 32, 10]) on real digits: the handmade engine vs a naive one.

Usage: python bench/engine.py [--steps N] [--naive-steps K] [--data DIR]

Both engines run in the same process on the same digits, interleaved, and are timed in CPU seconds of
this process, so the ratio holds on a busy machine even when wall-clock times do not. The naive engine
(bench/naive_engine.py) is the seed notebook's design: a closure per node, a recursive topological sort
and `sum()` of 784 products per neuron.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import statistics
import struct
import sys
import time
import tracemalloc
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


def fast_step(model: MLP, opt: SGD, x: list[float], y: int) -> float:
    """One step through the public API."""
    loss = mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.data


def time_fast(model: MLP, opt: SGD, xs: list, ys: list, steps: int) -> list[float]:
    """Seconds per step for `steps` steps, one sample each."""
    times = []
    for i in range(steps):
        t = CLOCK()
        fast_step(model, opt, xs[i % len(xs)], ys[i % len(ys)])
        times.append(CLOCK() - t)
    return times


def time_naive(model, params, xs: list, ys: list, steps: int) -> list[float]:
    """Seconds per naive step; garbage collection included, as the seed's closures make cycles."""
    times = []
    for i in range(steps):
        t = CLOCK()
        naive_engine.sgd_step(model, params, xs[i % len(xs)], ys[i % len(ys)], LR)
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2560, help="steps for the memory-flatness check")
    parser.add_argument("--fast-steps", type=int, default=300, help="timed steps of the handmade engine")
    parser.add_argument("--naive-steps", type=int, default=3, help="timed steps of the naive engine")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "mnist")
    args = parser.parse_args(argv)

    xs, ys = load_digits(args.data, 256)
    nonzero = statistics.mean(sum(1 for v in x if v) / len(x) for x in xs)
    print(f"MLP(784, {SHAPE}), MSE, SGD lr {LR}, one digit per step; {nonzero:.0%} of pixels non-zero")

    naive = naive_engine.MLP(784, SHAPE, seed=0)
    naive_params = naive.parameters()
    model = MLP(784, SHAPE, seed=0)
    opt = SGD(model.parameters(), lr=LR)

    time_fast(model, opt, xs, ys, 20)  # warm up
    # Interleave the two so that load from other processes hits both alike.
    fast_times: list[float] = []
    naive_times: list[float] = []
    for _ in range(args.naive_steps):
        fast_times += time_fast(model, opt, xs, ys, max(1, args.fast_steps // args.naive_steps))
        naive_times += time_naive(naive, naive_params, xs, ys, 1)
    fast_med, naive_med = statistics.median(fast_times), statistics.median(naive_times)
    print(f"naive engine    : {naive_med * 1e3:9.1f} ms/step  (CPU time, median of {len(naive_times)})")
    print(f"handmade engine : {fast_med * 1e3:9.3f} ms/step  (median of {len(fast_times)}; "
          f"best {min(fast_times) * 1e3:.3f})")
    print(f"speed-up        : {naive_med / fast_med:9.0f}x  (medians; best vs best: "
          f"{min(naive_times) / min(fast_times):.0f}x)")
    print(f"full epoch of {EPOCH:,} digits: handmade {EPOCH * fast_med / 60:.1f} min, "
          f"naive {EPOCH * naive_med / 3600:.1f} h")

    loss = mse_loss(model(xs[0]), ys[0])
    interior = loss.topological_order()
    edges = sum(len(n.parents) for n in interior)
    print(f"graph per step  : {len(interior)} interior nodes, {edges} parent links (naive: ~100,000 nodes)")
    i = iter(range(10**9))
    fast_peak = peak_step_memory(lambda: fast_step(model, opt, xs[next(i) % 256], ys[0]))
    naive_peak = peak_step_memory(lambda: naive_engine.sgd_step(naive, naive_params, xs[1], ys[1], LR))
    print(f"peak memory     : handmade {fast_peak / 2**20:.2f} MiB/step, naive {naive_peak / 2**20:.1f} MiB/step")

    model_bytes, marks = memory_over_steps(xs, ys, args.steps)
    first, last = marks[0][1], marks[-1][1]
    print(f"model           : {model_bytes / 2**20:.1f} MiB for {len(model.parameters()):,} parameter Scalars")
    print(f"memory over {args.steps} steps (allocated after step n, model included): "
          + ", ".join(f"{n}: {b / 2**20:.2f}" for n, b in marks) + " MiB")
    print(f"growth from step {marks[0][0]} to {marks[-1][0]}: {(last - first) / 1024:+.1f} KiB "
          f"({'flat' if abs(last - first) < 256 * 1024 else 'GROWING'})")


if __name__ == "__main__":
    main()
