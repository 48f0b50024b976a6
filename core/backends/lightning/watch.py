"""Watched scalars on the Lightning backend: addresses resolved to tensor elements, read on the device.

Each step's values are gathered with index_select into one small device tensor (no sync); flush() reads
all buffered steps in one transfer and emits one ScalarWatch per address and step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import torch

from core.address import AddressError, validate
from core.events import LogLine, ScalarWatch

if TYPE_CHECKING:
    from core.address import Address
    from core.events import Event


def parameter_slot(addr: Address, layer_sizes: Sequence[int]) -> tuple[int, int]:
    """(position in [W0, b0, W1, b1, ...], flat index inside that tensor) of a validated w or b address."""
    fan_in = layer_sizes[addr.layer]
    if addr.kind == "w":
        return 2 * addr.layer, addr.neuron * fan_in + addr.index
    return 2 * addr.layer + 1, addr.neuron


class WatchBuffer:
    """Resolves addresses like L0.N12.w345 (weight[12, 345] of the first Linear) and buffers their values."""

    def __init__(self, params: list[torch.nn.Parameter], layer_sizes: Sequence[int], emit: Callable[[Event], None],
                 run_id: str) -> None:
        self.params, self.layer_sizes, self.emit, self.run_id = params, tuple(layer_sizes), emit, run_id
        self._key: tuple[str, ...] | None = None
        self._groups: list[tuple[int, torch.Tensor, list[str]]] = []  # (param position, flat indices, names)
        self._buffer: list[tuple[int, torch.Tensor]] = []
        self._warned: set[str] = set()

    def gather(self, watched: tuple[str, ...], step: int, values: list[torch.Tensor] | None = None) -> None:
        """Copy this step's watched values (`values`, else the live parameters) and gradients, before the update."""
        if watched != self._key:
            self.flush()
            self._resolve(watched)
        if not self._groups:
            return
        source = values if values is not None else [p.detach() for p in self.params]
        pieces = [source[i].reshape(-1).index_select(0, idx) for i, idx, _ in self._groups]
        for i, idx, _ in self._groups:
            grad = self.params[i].grad
            pieces.append(grad.reshape(-1).index_select(0, idx) if grad is not None
                          else torch.zeros_like(idx, dtype=self.params[i].dtype))
        self._buffer.append((step, torch.cat(pieces)))

    def flush(self) -> None:
        """Emit the buffered values (one device sync)."""
        if not self._buffer:
            return
        names = [name for _, _, group in self._groups for name in group]
        steps = [step for step, _ in self._buffer]
        values = torch.stack([v for _, v in self._buffer]).tolist()
        self._buffer = []
        k = len(names)
        for step, row in zip(steps, values, strict=True):
            for j, address in enumerate(names):
                self.emit(ScalarWatch(run_id=self.run_id, step=step, address=address, data=row[j], grad=row[k + j]))

    def _warn_once(self, address: str, why: str) -> None:
        if address not in self._warned:
            self._warned.add(address)
            self.emit(LogLine(run_id=self.run_id, level="warning", message=f"watch {address}: {why}",
                              source="lightning"))

    def _resolve(self, watched: tuple[str, ...]) -> None:
        self._key = watched
        groups: dict[int, tuple[list[int], list[str]]] = {}
        for address in watched:
            try:
                addr = validate(address, self.layer_sizes, graph_nodes=False)
            except AddressError as exc:
                self._warn_once(address, str(exc))
                continue
            position, flat = parameter_slot(addr, self.layer_sizes)
            group = groups.setdefault(position, ([], []))
            group[0].append(flat)
            group[1].append(address)
        self._groups = [
            (i, torch.tensor(flat, dtype=torch.long, device=self.params[i].device), names)
            for i, (flat, names) in sorted(groups.items())
        ]
