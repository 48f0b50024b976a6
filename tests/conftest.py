"""Shared fixtures: real MNIST when present, tiny configs and data, and a guard keeping tests off the network."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from hypothesis import settings

from core.config import TrainConfig

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
# 7x7 digits, one hidden layer of 8: a handmade epoch of 48 samples takes milliseconds.
TINY = TrainConfig(input_size=7, hidden=(8,), batch_size=4, epochs=2, train_subset=48, val_subset=16,
                   test_subset=16, lr=0.1, device="cpu")


# The suite draws the same hypothesis examples on every machine, so a red CI is a bug someone can reproduce, never
# a new draw; `make fuzz` explores fresh draws to find the next such bug before CI does.
settings.register_profile("suite", derandomize=True, print_blob=True)
settings.register_profile("fuzz", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

LOCAL_HOSTS = ("localhost", "::1", "", "0.0.0.0")


class NetworkBlocked(OSError):
    """A test tried to reach the network."""


@pytest.fixture(autouse=True)
def offline_and_private(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test touches the network, the user's cache or a data directory named in the environment."""

    real_connect, real_connect_ex, real_getaddrinfo = socket.socket.connect, socket.socket.connect_ex, \
        socket.getaddrinfo

    def local(address: object) -> bool:
        host = address[0] if isinstance(address, tuple) else address
        return not isinstance(host, str) or host in LOCAL_HOSTS or host.startswith(("/", "\0", "127."))

    def connect(self: socket.socket, address: object) -> None:
        if self.family == getattr(socket, "AF_UNIX", None) or local(address):
            return real_connect(self, address)
        raise NetworkBlocked(f"tests run offline (tests/conftest.py refused a connection to {address!r})")

    def connect_ex(self: socket.socket, address: object) -> int:
        if self.family == getattr(socket, "AF_UNIX", None) or local(address):
            return real_connect_ex(self, address)
        raise NetworkBlocked(f"tests run offline (tests/conftest.py refused a connection to {address!r})")

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if host is None or local((host,)):
            return real_getaddrinfo(host, *args, **kwargs)
        raise NetworkBlocked(f"tests run offline (tests/conftest.py refused to resolve {host!r})")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in ("MNIST_DASH_DATA", "MNIST_DASH_CACHE", "TORCH_HOME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST IDX files; skips the test when they are not on this machine."""
    if not MNIST_DIR.is_dir() or not any(MNIST_DIR.iterdir()):
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    return MNIST_DIR


@pytest.fixture(scope="session")
def tiny_config() -> TrainConfig:
    """A config both backends train in well under a second."""
    return TINY


@pytest.fixture(scope="session")
def tiny_data():
    """The embedded sample prepared for TINY (no download)."""
    from core.data import load_data

    return load_data(TINY, allow_download=False)


@pytest.fixture
def scripted_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scripted trainer (tests/tui/scripted_trainer.py) takes a requested learning rate at its next step, as a
    backend does before its update: TUI tests of the lr dialog then need no engine holding the interpreter."""
    import scripted_trainer

    from core.backends.runbook import RunBook

    class RatesBook(RunBook):
        def settle(self, *, obeyed_only: bool = False) -> None:
            if not obeyed_only and self.control is not None and self.control.lr_pending:
                self.take_requested()  # recorded as LearningRateChanged at the steps taken so far
            super().settle(obeyed_only=obeyed_only)

    monkeypatch.setattr(scripted_trainer, "RunBook", RatesBook)


# ---- order: the longest tests first, so that the xdist workers finish together ------------------------------
# `make test` runs `-n auto --maxschedchunk 1`: each worker takes the next test when it is free, so starting with
# the longest (the process tests: DDP, SIGKILL and resume, pty, sweeps) leaves only short ones for the end. The
# durations of the last run are kept in .pytest_cache; a fresh clone orders the `slow`-marked tests first.
# `auto` is one worker more than the cores: measured on 2 busy cores, the files of issue 20's owner ran in 57 s
# with 3 workers against 64 s with 2 (and 101 s on the first try).
DURATIONS_KEY = "mnist-dash/durations"
FRONT_S = 1.0  # tests at least this long move to the front, longest first; the rest keep pytest's order
SLOW_GUESS_S = 5.0  # a `slow`-marked test not yet timed on this machine


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than the cores, since many tests wait (for a child process, a pty, a pilot)."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores + 1


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist's controller hands every worker the same durations (a cache written meanwhile cannot split them)."""
    node.workerinput["mnist_dash_durations"] = known_durations(node.config)


def known_durations(config: pytest.Config) -> dict[str, float]:
    """Seconds per test id from earlier runs on this machine (the controller's copy on an xdist worker)."""
    given = getattr(config, "workerinput", {}).get("mnist_dash_durations")
    if given is not None:
        return given
    cache = getattr(config, "cache", None)
    found = cache.get(DURATIONS_KEY, {}) if cache is not None else {}
    return found if isinstance(found, dict) else {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests known to be long first, longest first; every other test keeps its place (and its fixtures)."""
    durations = known_durations(config)

    def cost(item: pytest.Item) -> float:
        known = durations.get(item.nodeid)
        if isinstance(known, (int, float)):
            return float(known)
        return SLOW_GUESS_S if item.get_closest_marker("slow") else 0.0

    long = sorted((item for item in items if cost(item) >= FRONT_S), key=cost, reverse=True)
    chosen = {id(item) for item in long}
    items[:] = long + [item for item in items if id(item) not in chosen]


_timed: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Setup, call and teardown add up per test (on xdist's controller, the workers' reports)."""
    _timed[report.nodeid] = _timed.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remember this run's durations for the next run's order (the controller or a run without xdist)."""
    config = session.config
    if hasattr(config, "workerinput") or getattr(config, "cache", None) is None or not _timed:
        return
    durations = dict(known_durations(config))
    for nodeid, seconds in _timed.items():
        if seconds >= FRONT_S / 2:
            durations[nodeid] = round(seconds, 2)
        else:
            durations.pop(nodeid, None)
    config.cache.set(DURATIONS_KEY, durations)


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory, tiny_data) -> dict[str, Path]:
    """A tiny run of each backend trained once per test worker: two hidden layers (49-8-6-10), one epoch."""
    from core.backends import RunControl
    from core.session import run_training

    runs_dir = tmp_path_factory.mktemp("trained-runs")
    made = {}
    for backend in ("scalar", "lightning"):
        dirs: list[Path] = []
        config = TINY.replace(backend=backend, hidden=(8, 6), epochs=1)
        run_training(config, lambda e: None, RunControl(), runs_dir=runs_dir, data=tiny_data, on_run_dir=dirs.append)
        made[backend] = dirs[0]
    return made
