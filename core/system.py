"""System figures of a training process, sampled in a background thread: CPU, memory and (NVIDIA) GPU.

`SystemSampler(pid, interval=1.0, on_sample=emit, run_id=...)` calls `on_sample(SystemStats(...))` about once
per interval from its own daemon thread; the caller never waits for psutil or NVML. GPU figures come from
nvidia-ml-py (`pynvml`), imported and initialised lazily inside the thread; no driver, no GPU or no package
leaves the GPU fields None, quietly. `stop()` wakes the thread and joins it.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable

import psutil

from core.events import SystemStats

# (utilisation %, memory used, temperature °C, memory total) of one GPU, or None when it cannot be read.
GpuFigures = tuple[float | None, int | None, float | None, int | None]


class NvmlGpu:
    """Reads one NVIDIA GPU through NVML; build it with `open_gpu()`."""

    def __init__(self, nvml: Any, handle: Any) -> None:
        self._nvml = nvml
        self._handle = handle

    def __call__(self) -> GpuFigures | None:
        nvml, handle = self._nvml, self._handle
        try:
            util = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            temperature = float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
        except Exception:  # noqa: BLE001 - NVML raises its own error types, and a lost GPU must not end the run
            return None
        return util, int(memory.used), temperature, int(memory.total)

    def close(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


def open_gpu(index: int | None = None) -> NvmlGpu | None:
    """The GPU the run uses (`index`, else the first visible one), or None without NVML or a GPU."""
    try:
        import pynvml  # nvidia-ml-py: only where a GPU pane is wanted
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - no driver / no GPU: quietly no GPU figures
        return None
    try:
        if index is None:
            visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
            index = int(visible) if visible.isdigit() else 0
        if index >= pynvml.nvmlDeviceGetCount():
            raise ValueError("no such GPU")
        return NvmlGpu(pynvml, pynvml.nvmlDeviceGetHandleByIndex(index))
    except Exception:  # noqa: BLE001
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass
        return None


class SystemSampler:
    """A daemon thread calling `on_sample(SystemStats)` every `interval` seconds until `stop()`."""

    def __init__(self, pid: int | None = None, *, interval: float = 1.0,
                 on_sample: Callable[[SystemStats], None], run_id: str = "", gpu: bool | Callable[[], Any] = True,
                 gpu_index: int | None = None) -> None:
        self.pid = os.getpid() if pid is None else pid
        self.interval = interval
        self.on_sample = on_sample
        self.run_id = run_id
        self.gpu = gpu  # True: NVML; False: none; a callable: returns GpuFigures (tests, other vendors)
        self.gpu_index = gpu_index
        self.latest: SystemStats | None = None
        self.errors = 0  # exceptions raised by on_sample (swallowed: a watcher must not end the run)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="system-sampler", daemon=True)

    def start(self) -> SystemSampler:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end and wait for it (at most `timeout` s: NVML could be slow to answer)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> SystemSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            process = psutil.Process(self.pid)
            process.cpu_percent(None)  # the first call only starts psutil's clock
        except psutil.Error:
            return
        reader: Callable[[], Any] | None
        if callable(self.gpu):
            reader, closer = self.gpu, None
        else:
            nvml = open_gpu(self.gpu_index) if self.gpu else None
            reader, closer = nvml, nvml
        try:
            while not self._stop.wait(self.interval):
                try:
                    with process.oneshot():
                        cpu, rss = process.cpu_percent(None), process.memory_info().rss
                except psutil.Error:
                    return  # the process is gone
                figures = reader() if reader is not None else None
                util, memory, temperature, total = figures if figures is not None else (None,) * 4
                self.latest = SystemStats(run_id=self.run_id, cpu_percent=float(cpu), rss_bytes=int(rss),
                                          gpu_util=util, gpu_memory_bytes=memory, gpu_temperature_c=temperature,
                                          gpu_memory_total_bytes=total)
                try:
                    self.on_sample(self.latest)
                except Exception:  # noqa: BLE001
                    self.errors += 1
        finally:
            if closer is not None:
                closer.close()
