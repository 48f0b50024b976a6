"""The scalar address: the one name for a weight, bias or graph node, on both backends.

Grammar (strict; nothing is stripped or folded):

    loss | L<layer>.N<neuron>.w<input> | L<layer>.N<neuron>.b | L<layer>.N<neuron>.z | L<layer>.N<neuron>.a

Numbers are ASCII digits without sign or leading zeros, at most 9 digits. `L0.N12.w345` is the weight from
input 345 into neuron 12 of layer 0; `b` a bias; `z` (pre-activation), `a` (activation) and `loss` are nodes of
the handmade engine's graph for the last sample. `layer_sizes` is always (inputs, hidden..., outputs), i.e.
`TrainConfig.layer_sizes`. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

KINDS = ("w", "b", "z", "a", "loss")
PARAMETER_KINDS = ("w", "b")
GRAPH_KINDS = ("z", "a", "loss")
MAX_DIGITS = 9
EXAMPLES = "e.g. L0.N12.w345, L1.N3.b, L0.N12.z, L0.N12.a or loss"
_SHOWN = 40  # characters of a bad address quoted back in a message


class AddressError(ValueError):
    """An address that does not parse, or that the network does not have; the message says why."""


def _quote(text: str) -> str:
    """repr of the text, cut short so a 5,000-character paste gives a one-line message."""
    if len(text) <= _SHOWN:
        return repr(text)
    return repr(text[:_SHOWN]) + f"... ({len(text)} characters)"


@dataclass(frozen=True)
class Address:
    """One scalar: `kind` in KINDS; layer and neuron are None only for loss; index is the input, for w only."""

    layer: int | None
    neuron: int | None
    kind: str
    index: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise AddressError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.kind == "loss":
            if (self.layer, self.neuron, self.index) != (None, None, None):
                raise AddressError("loss has no layer, neuron or input")
            return
        numbers = [self.layer, self.neuron] + ([self.index] if self.kind == "w" else [])
        for n in numbers:
            if type(n) is not int or not 0 <= n < 10**MAX_DIGITS:
                raise AddressError(f"layer, neuron and input must be integers 0..{10**MAX_DIGITS - 1}, got {n!r}")
        if self.kind != "w" and self.index is not None:
            raise AddressError(f"only a weight (w) has an input index, not {self.kind}")

    def __str__(self) -> str:
        if self.kind == "loss":
            return "loss"
        tail = f"w{self.index}" if self.kind == "w" else self.kind
        return f"L{self.layer}.N{self.neuron}.{tail}"

    @property
    def is_parameter(self) -> bool:
        """A weight or a bias: exists on both backends."""
        return self.kind in PARAMETER_KINDS

    @property
    def is_graph_node(self) -> bool:
        """z, a or loss: exists only on the handmade engine, for its last sample."""
        return self.kind in GRAPH_KINDS

    def problem(self, layer_sizes: Sequence[int], *, graph_nodes: bool) -> str | None:
        """Why this address does not exist in a network of `layer_sizes` (naming the valid range), or None."""
        if self.is_graph_node and not graph_nodes:
            return f"{self.kind} is a graph node (z, a, loss): only the handmade engine has them; watch a w or b"
        if self.kind == "loss":
            return None
        layers = len(layer_sizes) - 1
        if layers < 1:
            return "this network has no layers"
        assert self.layer is not None and self.neuron is not None  # not loss: __post_init__ made sure
        if self.layer >= layers:
            return f"layer {self.layer} does not exist: this network has layers L0..L{layers - 1}"
        width, fan_in = layer_sizes[self.layer + 1], layer_sizes[self.layer]
        if self.neuron >= width:
            return f"neuron {self.neuron} does not exist: layer {self.layer} has neurons N0..N{width - 1}"
        if self.kind == "w" and self.index >= fan_in:  # type: ignore[operator]
            return f"input {self.index} does not exist: neurons of layer {self.layer} have weights w0..w{fan_in - 1}"
        return None

    def flat_index(self, layer_sizes: Sequence[int]) -> int:
        """Position in `model.named_parameters()` order (per layer, per neuron, weights then bias)."""
        if not self.is_parameter:
            raise AddressError(f"{self}: only a weight or a bias has a place among the parameters")
        reason = self.problem(layer_sizes, graph_nodes=False)
        if reason is not None:
            raise AddressError(f"{self}: {reason}")
        assert self.layer is not None and self.neuron is not None
        offset = sum((layer_sizes[i] + 1) * layer_sizes[i + 1] for i in range(self.layer))
        fan_in = layer_sizes[self.layer]
        within = self.index if self.kind == "w" else fan_in
        return offset + self.neuron * (fan_in + 1) + within  # type: ignore[operator]


LOSS = Address(None, None, "loss")


def parameter_count(layer_sizes: Sequence[int]) -> int:
    """How many parameters a network of `layer_sizes` has (weights and biases)."""
    return sum((layer_sizes[i] + 1) * layer_sizes[i + 1] for i in range(len(layer_sizes) - 1))


def parameter_at(flat: int, layer_sizes: Sequence[int]) -> Address:
    """The parameter address at position `flat` of `named_parameters()` order; the inverse of flat_index."""
    if flat < 0:
        raise AddressError(f"parameter position {flat} is negative")
    rest = flat
    for layer in range(len(layer_sizes) - 1):
        fan_in, width = layer_sizes[layer], layer_sizes[layer + 1]
        size = (fan_in + 1) * width
        if rest < size:
            neuron, within = divmod(rest, fan_in + 1)
            return Address(layer, neuron, "b") if within == fan_in else Address(layer, neuron, "w", within)
        rest -= size
    raise AddressError(f"parameter position {flat} does not exist: this network has "
                       f"{parameter_count(layer_sizes)} parameters")


def _number(part: str, letter: str, what: str, text: str) -> int:
    """The number after `letter` in one dot-separated part; AddressError saying what is wrong with it."""
    digits = part[1:]
    where = f"{_quote(text)}: the {what} after {letter!r}"
    if not digits:
        raise AddressError(f"{where} is missing ({EXAMPLES})")
    if not all("0" <= c <= "9" for c in digits):
        if digits[0] in "+-":
            raise AddressError(f"{where} must be written without a sign ({EXAMPLES})")
        raise AddressError(f"{where} must be ASCII digits 0-9, got {_quote(digits)} ({EXAMPLES})")
    if len(digits) > MAX_DIGITS:
        raise AddressError(f"{where} has {len(digits)} digits; at most {MAX_DIGITS} are allowed")
    if len(digits) > 1 and digits[0] == "0":
        raise AddressError(f"{where} has a leading zero; write {int(digits)}")
    return int(digits)


def parse(text: str) -> Address:
    """Parse an address strictly; AddressError (never another exception) with a message a user can act on."""
    if not isinstance(text, str):
        raise AddressError(f"an address is text, got {type(text).__name__}")
    if text == "loss":
        return LOSS
    if not text:
        raise AddressError(f"empty address ({EXAMPLES})")
    if any(c.isspace() for c in text):
        raise AddressError(f"{_quote(text)} contains whitespace; an address has none ({EXAMPLES})")
    odd = next((c for c in text if not " " < c < "\x7f"), None)
    if odd is not None:
        raise AddressError(f"{_quote(text)} contains the character {odd!r} (U+{ord(odd):04X}); "
                           f"addresses are plain ASCII ({EXAMPLES})")
    parts = text.split(".")
    if len(parts) != 3:
        raise AddressError(f"{_quote(text)} is not an address: expected L<layer>.N<neuron>.<w<input>|b|z|a> "
                           f"or loss ({EXAMPLES})")
    lpart, npart, tail = parts
    if not lpart.startswith("L"):
        raise AddressError(f"{_quote(text)}: an address starts with 'L' and the layer number ({EXAMPLES})")
    if not npart.startswith("N"):
        raise AddressError(f"{_quote(text)}: the second part is 'N' and the neuron number ({EXAMPLES})")
    layer = _number(lpart, "L", "layer", text)
    neuron = _number(npart, "N", "neuron", text)
    if tail in ("b", "z", "a"):
        return Address(layer, neuron, tail)
    if tail.startswith("w"):
        return Address(layer, neuron, "w", _number(tail, "w", "input", text))
    raise AddressError(f"{_quote(text)}: the last part must be w<input>, b, z or a ({EXAMPLES})")


def validate(text: str, layer_sizes: Sequence[int], *, graph_nodes: bool) -> Address:
    """Parse `text` and check it exists in a network of `layer_sizes`; AddressError naming the valid range."""
    addr = parse(text)
    reason = addr.problem(layer_sizes, graph_nodes=graph_nodes)
    if reason is not None:
        raise AddressError(f"{addr}: {reason}")
    return addr


def _digits_prefix(digits: str) -> bool:
    """A number being typed: ASCII digits only, no leading zero, not too long ('' counts)."""
    return (all("0" <= c <= "9" for c in digits) and len(digits) <= MAX_DIGITS
            and not (len(digits) > 1 and digits[0] == "0"))


def _numbers(count: int, typed: str, limit: int) -> list[int]:
    """0..count-1 whose decimal text starts with `typed`, in order, at most `limit` (no full scan of 784)."""
    if typed == "":
        return list(range(min(count, limit)))
    out = []
    for n in range(count):
        if str(n).startswith(typed):
            out.append(n)
            if len(out) >= limit:
                break
    return out


def complete(prefix: str, layer_sizes: Sequence[int], *, graph_nodes: bool, limit: int = 20) -> list[str]:
    """Addresses or stems ending in '.' that extend `prefix` in this network, natural order, at most `limit`."""
    if not isinstance(prefix, str) or limit <= 0:
        return []
    layers = len(layer_sizes) - 1
    if prefix == "":
        return ([f"L{i}." for i in range(max(layers, 0))] + (["loss"] if graph_nodes else []))[:limit]
    if "loss".startswith(prefix):
        return ["loss"] if graph_nodes else []
    if not prefix.startswith("L") or layers < 1:
        return []
    parts = prefix[1:].split(".")
    if len(parts) > 3 or not _digits_prefix(parts[0]):
        return []
    if len(parts) == 1:  # typing the layer: "L", "L1"
        return [f"L{i}." for i in _numbers(layers, parts[0], limit)]
    if parts[0] == "" or int(parts[0]) >= layers:
        return []
    layer = int(parts[0])
    width, fan_in = layer_sizes[layer + 1], layer_sizes[layer]
    npart = parts[1]
    if npart and (not npart.startswith("N") or not _digits_prefix(npart[1:])):
        return []
    if len(parts) == 2:  # typing the neuron: "L0.", "L0.N", "L0.N1"
        return [f"L{layer}.N{n}." for n in _numbers(width, npart[1:], limit)]
    if len(npart) < 2 or int(npart[1:]) >= width:
        return []
    stem = f"L{layer}.N{int(npart[1:])}."
    tail = parts[2]
    others = [stem + k for k in (("b", "z", "a") if graph_nodes else ("b",)) if k.startswith(tail)]
    weights: list[str] = []
    if tail == "" or (tail.startswith("w") and _digits_prefix(tail[1:])):
        weights = [f"{stem}w{i}" for i in _numbers(fan_in, tail[1:], limit)]
    return (weights + others)[:limit]


def suggest(prefix: str, layer_sizes: Sequence[int], *, graph_nodes: bool) -> str | None:
    """The one completion an input field shows: the first that extends what was typed, or None."""
    for cand in complete(prefix, layer_sizes, graph_nodes=graph_nodes, limit=2):
        if cand != prefix:
            return cand
    return None
