"""Multi-node runs: wait for the other nodes first, stoppably and with a deadline, before Lightning does.

torch's own rendezvous blocks in C++ for up to 30 minutes and no signal handler runs meanwhile: a run started
with num_nodes 2 on one machine hung for good. Here the first process of each node checks in with a small
TCP store next to the master port, polling every POLL_SECONDS whether the run was stopped, and gives up
with a clear message after peer_timeout() seconds. Lightning's process group gets the same timeout.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.backends import RunControl
    from core.config import TrainConfig

PEER_TIMEOUT = 120.0  # seconds a node waits for the others (environment: MNIST_DASH_PEER_TIMEOUT)
POLL_SECONDS = 0.2
KEY = "mnist-dash/nodes"
_stores: list = []  # the master's store must outlive the wait: peers may still be reading it


class PeersMissing(RuntimeError):
    """Not every node of a multi-node run arrived in time."""


class StoppedWhileWaiting(RuntimeError):
    """The run was asked to stop before its peers arrived."""


def peer_timeout() -> float:
    try:
        return max(1.0, float(os.environ.get("MNIST_DASH_PEER_TIMEOUT", PEER_TIMEOUT)))
    except ValueError:
        return PEER_TIMEOUT


def node_rank() -> int:
    for name in ("NODE_RANK", "GROUP_RANK", "SLURM_NODEID"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def wait_for_peers(config: TrainConfig, control: RunControl) -> None:
    """Return once every node's first process has arrived; StoppedWhileWaiting or PeersMissing otherwise."""
    if config.num_nodes <= 1 or os.environ.get("LOCAL_RANK", "0") != "0":
        return  # other local processes are launched by this node's first one, after the wait
    from torch.distributed import TCPStore

    host = os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    if "MASTER_PORT" not in os.environ:
        from lightning.fabric.plugins.environments.lightning import find_free_network_port

        os.environ["MASTER_PORT"] = str(find_free_network_port())
    port = int(os.environ["MASTER_PORT"]) + 1
    master = node_rank() == 0
    timeout = peer_timeout()
    deadline = time.monotonic() + timeout
    where = f"{host}:{port - 1}"

    def check() -> None:
        if control.stop_requested:
            raise StoppedWhileWaiting("stopped while waiting for the other nodes")
        if time.monotonic() > deadline:
            raise PeersMissing(
                f"waited {timeout:.0f} s for the other {config.num_nodes - 1} node(s) of a {config.num_nodes}-node "
                f"run at {where} ({arrived()} of {config.num_nodes} arrived); start the same command on each "
                "other node with NODE_RANK=1..N-1 and MASTER_ADDR/MASTER_PORT of node 0, or train on one node "
                "(num_nodes 1)"
            )

    store = None
    count = 0

    def arrived() -> int:
        return count

    while store is None:
        check()
        try:
            store = TCPStore(host, port, config.num_nodes, master, timeout=timedelta(seconds=POLL_SECONDS * 5),
                             wait_for_workers=False)
        except Exception:  # the master is not up yet (or the port is taken): try again until the deadline
            time.sleep(POLL_SECONDS)
    if master:
        _stores.append(store)
    count = store.add(KEY, 1)
    while count < config.num_nodes:
        check()
        time.sleep(POLL_SECONDS)
        count = store.add(KEY, 0)


def process_group_timeout() -> timedelta:
    """The timeout for Lightning's own process-group set-up and collectives' first wait."""
    return timedelta(seconds=peer_timeout())
