"""Shared fixtures: real MNIST when present, tiny configs and data, and a guard keeping tests off the network."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from core.config import TrainConfig

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
# 7x7 digits, one hidden layer of 8: a handmade epoch of 48 samples takes milliseconds.
TINY = TrainConfig(input_size=7, hidden=(8,), batch_size=4, epochs=2, train_subset=48, val_subset=16,
                   test_subset=16, lr=0.1, device="cpu")


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
