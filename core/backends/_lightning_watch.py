"""Watched scalars on the Lightning backend: addresses resolved to tensor elements, read on the device.

Each step's values are gathered with index_select into one small device tensor (no sync); flush() reads
all buffered steps in one transfer and emits one ScalarWatch per address and step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch
from torch import nn

from core.backends.lightning import is_graph_node, parse_address
from core.events import LogLine, ScalarWatch

if TYPE_CHECKING:
    from core.events import Event


class WatchBuffer:
    """Resolves addresses like L0.N12.w345 (weight[12, 345] of the first Linear) and buffers their values."""

    def __init__(self, linears: list[nn.Linear], emit: Callable[[Event], None], run_id: str) -> None:
        self.linears, self.emit, self.run_id = linears, emit, run_id
        self._key: tuple[str, ...] | None = None
        self._groups: list[tuple[nn.Parameter, torch.Tensor, list[str]]] = []
        self._buffer: list[tuple[int, torch.Tensor]] = []
        self._warned: set[str] = set()

    def gather(self, watched: tuple[str, ...], step: int) -> None:
        """Copy the watched values and gradients of this step (call before the optimiser updates them)."""
        if watched != self._key:
            self.flush()
            self._resolve(watched)
        if not self._groups:
            return
        pieces = [p.detach().reshape(-1).index_select(0, idx) for p, idx, _ in self._groups]
        pieces += [
            p.grad.reshape(-1).index_select(0, idx) if p.grad is not None else torch.zeros_like(idx, dtype=p.dtype)
            for p, idx, _ in self._groups
        ]
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
        groups: dict[int, tuple[nn.Parameter, list[int], list[str]]] = {}
        for address in watched:
            parsed = parse_address(address)
            if parsed is None:
                why = ("graph nodes (.z, .a, loss) exist only in the handmade engine; watch a weight or bias"
                       if is_graph_node(address) else "not an address like L0.N12.w345 or L1.N3.b")
                self._warn_once(address, why)
                continue
            layer, neuron, weight = parsed
            if layer >= len(self.linears):
                self._warn_once(address, f"there are only {len(self.linears)} layers (L0..L{len(self.linears) - 1})")
                continue
            lin = self.linears[layer]
            if neuron >= lin.out_features or (weight is not None and weight >= lin.in_features):
                self._warn_once(address, f"layer L{layer} is {lin.in_features} inputs x {lin.out_features} neurons")
                continue
            param = lin.weight if weight is not None else lin.bias
            flat = neuron * lin.in_features + weight if weight is not None else neuron
            group = groups.setdefault(id(param), (param, [], []))
            group[1].append(flat)
            group[2].append(address)
        self._groups = [
            (p, torch.tensor(flat, dtype=torch.long, device=p.device), names) for p, flat, names in groups.values()
        ]
