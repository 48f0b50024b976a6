"""The weights an explanation reads: one consistent copy from a probe (live run) or a run's checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

RETRIES = 5  # a live probe may publish a new snapshot while its layers are read: read again


@dataclass(frozen=True)
class Network:
    """The network at one step: weights[i] is layer i's rows (one per neuron), biases[i] its biases."""

    backend: str  # "scalar" (the handmade engine) or "lightning"
    layer_sizes: tuple[int, ...]
    activation: str
    loss: str
    step: int
    weights: tuple[tuple[tuple[float, ...], ...], ...]
    biases: tuple[tuple[float, ...], ...]
    run_id: str = ""

    @property
    def layers(self) -> int:
        return len(self.layer_sizes) - 1


def network_from_probe(probe: Any, activation: str, loss: str, run_id: str = "") -> Network:
    """Copy every layer from a probe, all from the same snapshot (read again if a step lands in between)."""
    sizes = tuple(probe.layer_sizes)
    for _ in range(RETRIES):
        step = probe.step()
        layers = [probe.layer_weights(i) for i in range(len(sizes) - 1)]
        if probe.step() == step:
            break
    weights = tuple(tuple(tuple(float(v) for v in row) for row in rows) for rows, _ in layers)
    biases = tuple(tuple(float(v) for v in b) for _, b in layers)
    return Network(backend=probe.backend, layer_sizes=sizes, activation=activation, loss=loss, step=int(step),
                   weights=weights, biases=biases, run_id=run_id)


def network_from_run(run_dir: str | Path) -> tuple[Network, Any]:
    """(the network of a run's latest checkpoint, the run's config); ValueError when the run has none."""
    from core.backends import load_probe
    from core.records.runs import open_run

    record = open_run(run_dir)
    probe = load_probe(run_dir)
    config = record.config
    return network_from_probe(probe, config.activation, config.loss, run_id=record.path.name), config
