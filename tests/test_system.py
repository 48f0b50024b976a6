"""The system sampler: real psutil figures of a real process, GPU figures passed through, prompt stops."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import psutil

from core.events import SystemStats
from core.system import SystemSampler, open_gpu


def collect(n: int, **kw) -> tuple[SystemSampler, list[SystemStats]]:
    got: list[SystemStats] = []
    enough = threading.Event()

    def on_sample(stats: SystemStats) -> None:
        got.append(stats)
        if len(got) >= n:
            enough.set()

    sampler = SystemSampler(interval=0.01, on_sample=on_sample, **kw).start()
    assert enough.wait(30)
    sampler.stop()
    return sampler, got


def test_samples_describe_this_process():
    sampler, got = collect(3, run_id="r", gpu=False)
    assert not sampler.alive
    rss = psutil.Process(os.getpid()).memory_info().rss
    first = got[0]
    assert first.run_id == "r" and first.gpu_util is None and first.gpu_memory_bytes is None
    assert 0.5 * rss < first.rss_bytes < 2 * rss
    assert first.cpu_percent >= 0.0
    assert sampler.latest == got[-1]


def test_gpu_figures_pass_through_exactly():
    _, got = collect(1, gpu=lambda: (97.0, 5 << 30, 61.0, 140 << 30))
    assert (got[0].gpu_util, got[0].gpu_memory_bytes, got[0].gpu_temperature_c, got[0].gpu_memory_total_bytes) == \
        (97.0, 5 << 30, 61.0, 140 << 30)
    _, got = collect(1, gpu=lambda: None)  # a GPU that stopped answering
    assert got[0].gpu_util is None


def test_a_failing_watcher_does_not_end_sampling():
    calls = []

    def explode(stats: SystemStats) -> None:
        calls.append(stats)
        raise RuntimeError("the UI went away")

    sampler = SystemSampler(interval=0.01, on_sample=explode, gpu=False).start()
    while len(calls) < 3:
        threading.Event().wait(0.01)
    sampler.stop()
    assert sampler.errors >= 3 and not sampler.alive


def test_stop_does_not_wait_for_the_interval():
    sampler = SystemSampler(interval=3600, on_sample=lambda s: None, gpu=False).start()
    sampler.stop(timeout=30)
    assert not sampler.alive


def test_a_process_that_ended_ends_the_sampler():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    sampler = SystemSampler(proc.pid, interval=0.01, on_sample=lambda s: None, gpu=False).start()
    sampler._thread.join(30)
    assert not sampler.alive and sampler.latest is None


def test_no_gpu_is_quiet():
    gpu = open_gpu()  # None on a machine without NVIDIA's driver; figures where there is one
    if gpu is not None:
        figures = gpu()
        gpu.close()
        assert figures is None or figures[3] > 0


def test_nvml_figures_are_read_from_the_right_calls():
    from types import SimpleNamespace

    from core.system import NvmlGpu

    calls = []
    nvml = SimpleNamespace(
        NVML_TEMPERATURE_GPU=0,
        nvmlDeviceGetUtilizationRates=lambda h: SimpleNamespace(gpu=87, memory=40),
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(used=3 << 30, total=141 << 30, free=138 << 30),
        nvmlDeviceGetTemperature=lambda h, sensor: 55 if (h, sensor) == ("gpu0", 0) else -1,
        nvmlShutdown=lambda: calls.append("shutdown"),
    )
    gpu = NvmlGpu(nvml, "gpu0")
    assert gpu() == (87.0, 3 << 30, 55.0, 141 << 30)
    gpu.close()
    assert calls == ["shutdown"]

    def lost(h):
        raise RuntimeError("GPU is lost")

    assert NvmlGpu(SimpleNamespace(**{**vars(nvml), "nvmlDeviceGetMemoryInfo": lost}), "gpu0")() is None
