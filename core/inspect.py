"""Look inside a network: scalar addresses, resolving them on both backends, gradient checks, heatmaps.

An address names one scalar the same way on both backends: `L0.N12.w345` (layer 0, neuron 12, weight from
input 345), `L1.N3.b` (a bias), and for the handmade engine the graph nodes of the current sample:
`L0.N12.z` (pre-activation), `L0.N12.a` (activation) and `loss`. Imports neither textual nor torch at
import time (torch only inside the functions that read torch modules). The gradient check lives in
core/inspect_check.py, the heatmap and graph views in core/inspect_view.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

_ADDRESS = re.compile(r"^L(\d+)\.N(\d+)\.(?:w(\d+)|(b|z|a))$")
KINDS = ("w", "b", "z", "a", "loss")
GRAPH_KINDS = ("z", "a", "loss")  # exist only on the handmade engine, for the last sample


class AddressError(ValueError):
    """An address that does not parse or does not exist in the network; the message says why."""


@dataclass(frozen=True)
class Address:
    """A parsed address: kind is one of KINDS; layer/neuron/input are -1 where they do not apply."""

    kind: str
    layer: int = -1
    neuron: int = -1
    input: int = -1

    def __str__(self) -> str:
        if self.kind == "loss":
            return "loss"
        tail = f"w{self.input}" if self.kind == "w" else self.kind
        return f"L{self.layer}.N{self.neuron}.{tail}"

    @property
    def is_parameter(self) -> bool:
        return self.kind in ("w", "b")


def parse_address(text: str) -> Address:
    """Parse an address (whitespace ignored); raise AddressError naming the expected grammar."""
    text = text.strip()
    if text == "loss":
        return Address("loss")
    m = _ADDRESS.match(text)
    if not m:
        raise AddressError(
            f"{text or '(empty)'}: not an address; use L<layer>.N<neuron>.w<input>, L<l>.N<n>.b, "
            "L<l>.N<n>.z, L<l>.N<n>.a or loss"
        )
    layer, neuron, inp, kind = m.groups()
    if inp is not None:
        return Address("w", int(layer), int(neuron), int(inp))
    return Address(kind, int(layer), int(neuron))


def validate_address(text: str, layer_sizes: Sequence[int], *, graph_nodes: bool = True) -> Address:
    """Parse and check against layer sizes (inputs first, e.g. (196, 64, 32, 10)); AddressError if absent."""
    addr = parse_address(text)
    if addr.kind in GRAPH_KINDS and not graph_nodes:
        raise AddressError(f"{addr}: graph nodes (z, a, loss) exist only on the handmade engine")
    if addr.kind == "loss":
        return addr
    layers = len(layer_sizes) - 1
    if addr.layer >= layers:
        raise AddressError(f"{addr}: the network has {layers} layers (L0..L{layers - 1})")
    width, fan_in = layer_sizes[addr.layer + 1], layer_sizes[addr.layer]
    if addr.neuron >= width:
        raise AddressError(f"{addr}: layer {addr.layer} has {width} neurons (N0..N{width - 1})")
    if addr.kind == "w" and addr.input >= fan_in:
        raise AddressError(f"{addr}: neurons of layer {addr.layer} have {fan_in} inputs (w0..w{fan_in - 1})")
    return addr


def address_problem(text: str, layer_sizes: Sequence[int], *, graph_nodes: bool = True) -> str | None:
    """The reason an address is invalid, or None when it is fine."""
    try:
        validate_address(text, layer_sizes, graph_nodes=graph_nodes)
    except AddressError as exc:
        return str(exc)
    return None


def completions(prefix: str, layer_sizes: Sequence[int], *, graph_nodes: bool = True, limit: int = 50) -> list[str]:
    """Addresses (or address stems ending in '.') that extend `prefix`, in natural order, at most `limit`."""
    prefix = prefix.strip()
    layers = len(layer_sizes) - 1
    out: list[str] = []
    if graph_nodes and "loss".startswith(prefix) and prefix:
        out.append("loss")
    m = re.match(r"^L(\d*)(?:\.(N(\d*)(?:\.(.*))?)?)?$", prefix) if prefix else None
    if not prefix:
        return ([f"L{i}." for i in range(layers)] + (["loss"] if graph_nodes else []))[:limit]
    if not m:
        return out
    lnum, nmatch, nnum, tail = m.groups()
    if nmatch is None:  # completing the layer ("L", "L1", "L1.")
        if prefix.endswith("."):
            lyr = int(lnum)
            return [f"L{lyr}.N{n}." for n in range(layer_sizes[lyr + 1])][:limit] if lyr < layers else []
        return [f"L{i}." for i in range(layers) if str(i).startswith(lnum)][:limit]
    lyr = int(lnum) if lnum else -1
    if not 0 <= lyr < layers:
        return []
    if tail is None:  # completing the neuron ("L0.N", "L0.N1")
        return [f"L{lyr}.N{n}." for n in range(layer_sizes[lyr + 1]) if str(n).startswith(nnum)][:limit]
    if not nnum or int(nnum) >= layer_sizes[lyr + 1]:
        return []
    stem = f"L{lyr}.N{int(nnum)}."
    kinds = ["b", "z", "a"] if graph_nodes else ["b"]
    cands = [stem + k for k in kinds if k.startswith(tail)]
    if tail == "" or tail.startswith("w"):
        digits = tail[1:]
        cands = [stem + "w" + str(i) for i in range(layer_sizes[lyr]) if str(i).startswith(digits)] + cands
    return cands[:limit]


def suggest(prefix: str, layer_sizes: Sequence[int], *, graph_nodes: bool = True) -> str | None:
    """The single suggestion an Input shows: the first completion that extends what was typed."""
    for cand in completions(prefix, layer_sizes, graph_nodes=graph_nodes, limit=2):
        if cand != prefix.strip():
            return cand
    return None


# ---- resolving -------------------------------------------------------------------------------------


def resolve_scalar(model: Any, address: str) -> Any:
    """The handmade engine's Scalar at `address` (graph nodes need a forward pass; loss needs last_loss)."""
    addr = parse_address(address)
    try:
        node = model.resolve(str(addr))
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        reason = exc.args[0] if exc.args else type(exc).__name__
        raise AddressError(f"{addr}: {reason}") from None
    return node


def torch_linears(module: Any) -> list[Any]:
    """The nn.Linear layers of a torch module in forward order (L0 = the first)."""
    import torch.nn as tnn

    return [m for m in module.modules() if isinstance(m, tnn.Linear)]


def resolve_tensor(module: Any, address: str) -> tuple[Any, tuple[int, ...]]:
    """(parameter tensor, index) for a parameter address on a torch module: L0.N12.w345 = weight[12, 345]."""
    addr = parse_address(address)
    if not addr.is_parameter:
        raise AddressError(f"{addr}: graph nodes (z, a, loss) exist only on the handmade engine")
    linears = torch_linears(module)
    sizes = [linears[0].in_features, *(lin.out_features for lin in linears)] if linears else [0]
    validate_address(str(addr), sizes, graph_nodes=False)
    lin = linears[addr.layer]
    if addr.kind == "w":
        return lin.weight, (addr.neuron, addr.input)
    return lin.bias, (addr.neuron,)


def tensor_value(module: Any, address: str) -> tuple[float, float]:
    """(data, grad) of a parameter address on a torch module; grad is 0.0 before the first backward."""
    param, index = resolve_tensor(module, address)
    grad = param.grad
    return float(param.detach()[index]), (float(grad[index]) if grad is not None else 0.0)
