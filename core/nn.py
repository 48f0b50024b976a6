"""Neural-network modules and losses on top of the scalar engine: Module, Neuron, Layer, MLP.

Standard library only. Every weight and bias is a `Scalar` with a stable address: `L0.N12.w345` is layer 0,
neuron 12, the weight from input 345; `L1.N3.b` a bias. After a forward call a model also keeps the last
sample's graph nodes: `L0.N12.z` (pre-activation), `L0.N12.a` (activation) and `loss` (when registered
in `model.last_loss`), all resolvable with `model.resolve(address)`; addresses are core/address.py's.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Sequence

from core.address import Address, AddressError, parse
from core.engine import Dot, GradLedger, Parameter, ReLU, Scalar, SharedInputs, Sigmoid, Sum, Tanh, node, picker

HIDDEN_ACTIVATIONS = ("relu", "tanh", "sigmoid")
ACTIVATIONS = (*HIDDEN_ACTIVATIONS, "linear")  # linear: the output layer
INITS = ("scaled", "uniform")
_ACT_OPS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "linear": None}


class UnknownScalar(AddressError, KeyError):
    """`MLP.resolve` found no scalar at an address; both an AddressError and (for older callers) a KeyError."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class Module:
    """Anything with parameters."""

    def named_parameters(self) -> list[tuple[str, Scalar]]:
        return []

    def parameters(self) -> list[Scalar]:
        """All parameters, in `named_parameters()` order."""
        return [p for _, p in self.named_parameters()]

    ledger: GradLedger | None = None  # an MLP's: which parameters have a gradient (core/engine.py GradLedger)

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0 (only those with a gradient, when the module keeps a ledger)."""
        if self.ledger is not None and self.ledger.zero_grads():
            return
        for p in self.parameters():
            p.grad = 0.0
        if self.ledger is not None:
            self.ledger.clear()


class Neuron(Module):
    """One unit: z = w . x + b (a single fused `Dot` node), a = activation(z)."""

    def __init__(self, nin: int, activation: str = "relu", init: str = "scaled",
                 rng: random.Random | None = None) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        rng = rng or random.Random()
        # "scaled": U(-1, 1) / sqrt(fan_in) keeps z of order 1 whatever the fan-in. The seed's plain
        # U(-1, 1) starts a digit's MSE near 1e3 (measured), and SGD at lr 0.05 reaches inf within 5 steps.
        scale = 1.0 / math.sqrt(nin) if init == "scaled" else 1.0
        self.w = [Parameter(rng.uniform(-1.0, 1.0) * scale) for _ in range(nin)]
        self.b = Parameter(0.0 if init == "scaled" else rng.uniform(-1.0, 1.0))
        # The weights, then the bias: what a layer picks a Dot node's parents from in one step. The Parameter
        # objects are fixed once made (training and loading change their `data`), so this list stays true.
        self.wb = [*self.w, self.b]
        self.activation = activation
        self._act = _ACT_OPS[activation]
        self.z: Scalar | None = None  # last forward pass's pre-activation node
        self.a: Scalar | None = None  # last forward pass's activation node (is z when linear)

    def __call__(self, x: Sequence[Scalar] | Sequence[float]) -> Scalar:
        return self.fire(Dot.apply(self.w, x, self.b))

    def fire(self, z: Scalar) -> Scalar:
        """Apply the activation to pre-activation `z`, remembering both nodes for the inspector."""
        self.z = z
        self.a = a = self._act.apply(z) if self._act is not None else z
        return a

    def named_parameters(self) -> list[tuple[str, Scalar]]:
        return [*((f"w{i}", w) for i, w in enumerate(self.w)), ("b", self.b)]

    def parameters(self) -> list[Scalar]:
        return [*self.w, self.b]  # without naming them: 52,650 f-strings cost a probe answer 27 ms


class Layer(Module):
    """A row of neurons sharing the same inputs."""

    def __init__(self, nin: int, nout: int, activation: str = "relu", init: str = "scaled",
                 rng: random.Random | None = None) -> None:
        rng = rng or random.Random()
        self.neurons = [Neuron(nin, activation, init, rng) for _ in range(nout)]
        self.input_indices = tuple(range(nin))  # made once: `compress` over them allocates no int per pixel

    def __call__(self, x: Sequence[Scalar] | Sequence[float]) -> list[Scalar]:
        return self.forward(x)[0]

    def forward(self, x: Sequence[Scalar] | Sequence[float],
                upstream: list[Scalar] | None = None) -> tuple[list[Scalar], list[Scalar] | None]:
        """The layer's outputs, and the graph nodes upstream of them, parents first (None where not known).

        `upstream` lists the graph nodes upstream of Scalar inputs `x` (themselves included), if the caller
        knows them (an MLP does: the layers below made them); see `SharedInputs` in core/engine.py.
        """
        if len(x) != len(self.neurons[0].w):
            raise ValueError(f"layer expects {len(self.neurons[0].w)} inputs, got {len(x)}")
        neurons, act = self.neurons, self.neurons[0]._act
        if len(x) == 0 or isinstance(x[0], Scalar):
            # Scalar inputs (the layer below): read their values once for all the neurons of this layer.
            values = [v.data for v in x]
            shared = SharedInputs(x, upstream)  # one for all the neurons: the sort tests these inputs once
            dense = Dot.dense
            zs = [dense(n.w, x, values, n.b, shared) for n in neurons]
        else:
            # Constant inputs (pixels): find the non-zero ones once per layer rather than once per neuron;
            # zeros add nothing to z nor to any gradient, and most MNIST pixels are zero. `compress` keeps
            # the indices whose pixel is truthy, as `if v` would, but in C.
            nonzero = list(itertools.compress(self.input_indices, x))
            consts = tuple(float(x[i]) for i in nonzero)
            used = picker([*nonzero, len(x)])  # a neuron's used weights and its bias, from its `wb`, in one step
            over_constants = Dot.over_constants
            zs = [over_constants(used(n.wb), consts) for n in neurons]
            upstream = []  # constants: nothing upstream
        # Neuron.fire for the whole layer: the activations, and each neuron remembers its z and a.
        out = zs if act is None else [node(float(act.forward(z.data)), (z,), act) for z in zs]
        for n, z, a in zip(neurons, zs, out, strict=True):
            n.z, n.a = z, a
        if upstream is not None:  # this layer's nodes, each z before its a, after everything below
            mine = out if act is None else itertools.chain.from_iterable(zip(zs, out, strict=True))
            upstream = [*upstream, *mine]
        return out, upstream

    def named_parameters(self) -> list[tuple[str, Scalar]]:
        return [(f"N{j}.{name}", p) for j, n in enumerate(self.neurons) for name, p in n.named_parameters()]

    def parameters(self) -> list[Scalar]:
        return [p for n in self.neurons for p in n.parameters()]


class MLP(Module):
    """Multi-layer perceptron: hidden layers use `activation`, the last layer is linear (logits)."""

    def __init__(self, nin: int, nouts: Sequence[int], activation: str = "relu", init: str = "scaled",
                 seed: int | None = None) -> None:
        if not nouts:
            raise ValueError("MLP needs at least one layer size in nouts")
        if activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"activation must be one of {HIDDEN_ACTIVATIONS}, got {activation!r}")
        rng = random.Random(seed)
        sizes = [nin, *nouts]
        last = len(nouts) - 1
        self.layers = [Layer(sizes[i], sizes[i + 1], activation if i < last else "linear", init, rng)
                       for i in range(len(nouts))]
        self.nin, self.nouts, self.activation, self.init = nin, list(nouts), activation, init
        self.last_loss: Scalar | None = None  # the loss node of the last sample, if someone registered it
        self.ledger = GradLedger()  # backward passes file the parameters they reach here (see core/optim.py)
        self.ledger.adopt(self.parameters())

    def __call__(self, x: Sequence[float] | Sequence[Scalar]) -> list[Scalar]:
        if len(x) != self.nin:
            raise ValueError(f"MLP expects {self.nin} inputs, got {len(x)}")
        self.last_loss = None  # a new sample: the previous loss node no longer matches z and a
        out: Sequence = x
        upstream = None
        for layer in self.layers:
            out, upstream = layer.forward(out, upstream)
        return out  # type: ignore[return-value]

    def named_parameters(self) -> list[tuple[str, Scalar]]:
        return [(f"L{i}.{name}", p) for i, layer in enumerate(self.layers) for name, p in layer.named_parameters()]

    def parameters(self) -> list[Scalar]:
        return [p for layer in self.layers for p in layer.parameters()]

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """(inputs, layer widths...): the shape core/address.py checks addresses against."""
        return (self.nin, *self.nouts)

    def resolve(self, address: str | Address) -> Scalar:
        """The Scalar at `address` (a parameter, or a node of the last forward pass); UnknownScalar if none."""
        try:
            addr = address if isinstance(address, Address) else parse(address)
        except AddressError as exc:
            raise UnknownScalar(str(exc)) from None
        if addr.kind == "loss":
            if self.last_loss is None:
                raise UnknownScalar("loss: no loss registered for the last sample (set model.last_loss)")
            return self.last_loss
        reason = addr.problem(self.layer_sizes, graph_nodes=True)
        if reason is not None:
            raise UnknownScalar(f"{addr}: {reason}")
        neuron = self.layers[addr.layer].neurons[addr.neuron]  # type: ignore[index]
        if addr.kind == "w":
            return neuron.w[addr.index]  # type: ignore[index]
        if addr.kind == "b":
            return neuron.b
        node = neuron.z if addr.kind == "z" else neuron.a
        if node is None:
            raise UnknownScalar(f"{addr}: no forward pass yet, so there is no graph node to show")
        return node


def _one_hot_check(outputs: Sequence[Scalar], label: int) -> None:
    if not 0 <= label < len(outputs):
        raise ValueError(f"label {label} out of range for {len(outputs)} outputs")


def mse_loss(outputs: Sequence[Scalar], label: int) -> Scalar:
    """Mean squared error against the one-hot target of `label`: mean_k (out_k - [k == label])**2."""
    _one_hot_check(outputs, label)
    squares = [(o - (1.0 if k == label else 0.0)) ** 2 for k, o in enumerate(outputs)]
    return Sum.apply(*squares) * (1.0 / len(outputs))


def cross_entropy(outputs: Sequence[Scalar], label: int) -> Scalar:
    """Softmax cross-entropy of logits `outputs` for class `label`, stable: the max logit is subtracted."""
    _one_hot_check(outputs, label)
    shift = max(o.data for o in outputs)  # a constant: it cancels out of the loss and its gradient
    shifted = [o - shift for o in outputs]
    log_sum_exp = Sum.apply(*[s.exp() for s in shifted]).log()
    return log_sum_exp - shifted[label]


def predict(outputs: Sequence[Scalar]) -> int:
    """Index of the largest output."""
    return max(range(len(outputs)), key=lambda k: outputs[k].data)
