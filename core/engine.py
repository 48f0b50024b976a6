"""A scalar autodiff engine: `Scalar` values, `Function` ops with static forward/backward, reverse mode.

Standard library only. Every value is a `Scalar` with `data`, `grad`, the op that made it (`_op`, a
`Function` subclass, or None for a leaf) and its parents (`_prev`); the ones made by ops are `Node`s, a
subclass. Each op keeps its local derivative right next to its forward computation, micrograd style.

Speed tricks, each named where it lives:
- fused n-ary ops: `Sum` of many terms and `Dot`, a neuron's whole weighted sum, as one node each
  instead of hundreds of chained adds;
- constant inputs stay plain floats inside `Dot`, and constant zeros are skipped (most MNIST pixels are 0);
- `backward()` orders only interior nodes (leaves just receive gradient), iteratively, without recursion,
  and asks each op where its interior parents are (`Function.interior_parents`): a `Dot` node's weights
  and bias are parameters, so the sort never looks at them;
- shared inputs and known upstream (`SharedInputs`): a layer's neurons share one object naming their inputs,
  so the sort looks at those once per layer, and an MLP's layers hand it the nodes below them already in
  order, so the sort emits those in one step;
- a `Dot` whose upstream gradient is exactly zero (a ReLU that did not fire) skips its backward loop;
- `__slots__` and no per-node closures: a node's backward is its op's static method;
- the gradient ledger (`GradLedger`): backward notes which parameters it reached, so that `zero_grad` and the
  optimiser visit those (about 6,000) rather than all 52,650 parameters, twice a step;
- small leaves: a leaf stores only `data` and `grad` (op, parents and context live on `Node`), and a parameter's
  ledger is a class attribute, so a parameter takes 48 bytes instead of 96: a step reads about 10,000 of them,
  and with less memory to fetch it runs faster on the same instructions (same-run A/B: 1.04x for 64 -> 48);
- plain loops for weighted sums (`Dot.over_constants`, `Dot.dense`): on CPython 3.11 a `for` loop with its
  specialised slot reads beats `sum(map(mul, [w.data for w in weights], xs))`, and adds in the same order; a
  layer over pixels picks each neuron's used weights and its bias in one `itemgetter` call (`Neuron.wb`).
"""

from __future__ import annotations

import itertools
import math
import operator
from typing import Callable, Iterable, Sequence, Union

Number = Union[int, float]


class Scalar:
    """One number in a computation graph: its value, its gradient, and how it was made.

    A Scalar made by an op is a `Node` (a subclass: `Scalar(data, parents, op)` returns one); a leaf (an input,
    a constant, a `Parameter`) has no op, parents nor context, and stores none: its `_op`, `_prev` and `_ctx`
    are the class's None, () and None.
    """

    # Speed trick "small leaves": only what every Scalar has is stored in it. A model is mostly parameters
    # (52,650 for 784-64-32-10), and a step reads thousands of them, so a parameter of 48 bytes rather than 96
    # (less memory to bring into the cache) measurably shortens a step. Nodes are weakref-able; leaves are not.
    __slots__ = ("data", "grad")
    _op: type[Function] | None = None  # the Function subclass that produced this node; None for a leaf
    _prev: tuple = ()  # parent Scalars, in the order the op's backward expects
    _ctx = None  # whatever else the op's backward needs (an exponent, constant inputs)

    def __new__(cls, *args, **kwargs):
        if cls is Scalar and (args[2] if len(args) > 2 else kwargs.get("_op")) is not None:
            cls = Node  # Scalar(data, parents, op): a node
        return object.__new__(cls)

    def __init__(self, data: Number, _prev: tuple = (), _op: type[Function] | None = None, _ctx=None) -> None:
        self.data = float(data)
        self.grad = 0.0

    # --- inspection
    @property
    def op(self) -> str:
        """Name of the op that produced this node ('' for a leaf)."""
        return self._op.__name__ if self._op is not None else ""

    @property
    def parents(self) -> tuple[Scalar, ...]:
        """The Scalars this node was computed from."""
        return self._prev

    @property
    def is_leaf(self) -> bool:
        """True for inputs and parameters (no op made them)."""
        return self._op is None

    def __repr__(self) -> str:
        op = f", op={self.op}" if self._op is not None else ""
        return f"Scalar(data={self.data:.6g}, grad={self.grad:.6g}{op})"

    # --- operators
    def __add__(self, other: Scalar | Number) -> Scalar:
        return Add.apply(self, _lift(other))

    def __radd__(self, other: Number) -> Scalar:
        return Add.apply(_lift(other), self)

    def __mul__(self, other: Scalar | Number) -> Scalar:
        return Mul.apply(self, _lift(other))

    def __rmul__(self, other: Number) -> Scalar:
        return Mul.apply(_lift(other), self)

    def __neg__(self) -> Scalar:
        return Neg.apply(self)

    def __sub__(self, other: Scalar | Number) -> Scalar:
        return Sub.apply(self, _lift(other))

    def __rsub__(self, other: Number) -> Scalar:
        return Sub.apply(_lift(other), self)

    def __truediv__(self, other: Scalar | Number) -> Scalar:
        return Div.apply(self, _lift(other))

    def __rtruediv__(self, other: Number) -> Scalar:
        return Div.apply(_lift(other), self)

    def __pow__(self, exponent: Number) -> Scalar:
        if isinstance(exponent, Scalar):
            raise TypeError("Scalar ** Scalar is not supported: the exponent must be a constant number")
        return Pow.apply(self, exponent=float(exponent))

    def relu(self) -> Scalar:
        return ReLU.apply(self)

    def exp(self) -> Scalar:
        return Exp.apply(self)

    def log(self) -> Scalar:
        return Log.apply(self)

    def tanh(self) -> Scalar:
        return Tanh.apply(self)

    def sigmoid(self) -> Scalar:
        return Sigmoid.apply(self)

    # --- reverse mode
    def backward(self) -> None:
        """Backpropagate from this node: d(self)/d(node) into every node's `grad` upstream of it.

        Semantics: this node's grad is set to 1.0 and every interior node upstream (made by an op) is reset
        to 0.0 before propagation, so after the call an interior node's grad is exactly d(self)/d(node).
        Leaves (parameters, inputs) accumulate with `+=`: call `zero_grad()` between steps, or their
        gradients add up across calls, which is how minibatches are accumulated. A node used twice gets
        both contributions. The order is built iteratively, so graph depth is not limited by recursion.
        """
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._op.backward(node)
        note_reached(self, order)

    def topological_order(self) -> list[Scalar]:
        """Interior nodes upstream of (and including) this one, parents before children; leaves omitted."""
        if self._op is None:
            return []
        order: list[Scalar] = []
        seen: set[Scalar] = set()
        # Iterative depth-first post-order: a node is emitted after all its interior parents. A node counts
        # as seen when it is expanded, not when pushed, or a node reached by a longer path could be emitted
        # before a parent. Leaves are filtered out in C (`filter` on `_op`): a neuron's hundreds of weights
        # cost almost nothing here.
        # Below each expanded node lies a marker, `_EMIT`: popping it means the node under it is finished.
        stack: list = [self]
        push, pop, emit = stack.append, stack.pop, order.append
        while stack:
            node = pop()
            if node is _EMIT:
                emit(pop())
            elif node not in seen:
                seen.add(node)
                push(node)
                push(_EMIT)
                parents = node._op.interior_parents(node)
                if type(parents) is SharedInputs:
                    # A layer's inputs, shared by all its neurons: the first neuron pushed them, and by the
                    # time a sibling is expanded they have all been emitted (in a DAG a node that needs all
                    # of them cannot lie upstream of one of them), so the rest skip them in one test.
                    if parents in seen:
                        continue
                    seen.add(parents)
                    upstream = parents.upstream
                    if upstream is not None and seen.isdisjoint(upstream):
                        # Known upstream, none of it reached yet: it is all upstream of this node, closed
                        # under parents and in order, so it goes out whole, before this node.
                        order += upstream
                        seen.update(upstream)
                        continue
                    parents = parents.interior
                for parent in parents:
                    if parent not in seen:
                        push(parent)
        return order


class Node(Scalar):
    """A Scalar made by an op: it also stores the op, its parents and the op's context."""

    __slots__ = ("_op", "_prev", "_ctx", "__weakref__")

    def __init__(self, data: Number, _prev: tuple = (), _op: type[Function] | None = None, _ctx=None) -> None:
        self.data = float(data)
        self.grad = 0.0
        self._op = _op
        self._prev = _prev
        self._ctx = _ctx


def node(data: float, parents: tuple, op: type[Function], ctx=None) -> Node:
    """A new graph node: `Node(data, parents, op, ctx)` without the constructor's dispatch (`data` is a float)."""
    out = _new(Node)
    out.data = data
    out.grad = 0.0
    out._op = op
    out._prev = parents
    out._ctx = ctx
    return out


_new = object.__new__
_interior = operator.attrgetter("_op")  # truthy exactly for nodes made by an op
_EMIT = object()  # topological_order's marker: the node below it on the stack has all its parents emitted


class SharedInputs:
    """Speed trick "shared inputs": a layer's Scalar inputs, one object in the `_ctx` of each of its neurons' Dots.

    Every neuron of a layer reads the same inputs, so without it the topological sort would test each of them
    once per neuron (64 x 32 tests for the 784-64-32-10 network's second layer); with it, once per layer.
    `interior` holds the inputs made by an op (the ones the sort orders), in input order.

    Speed trick "known upstream": `upstream`, when the layers that made the inputs know it (None otherwise), is
    every interior node upstream of the inputs, the inputs included, parents first: the layers below, node by
    node, as they were built. The sort then emits those in one C-level step instead of visiting each one.
    """

    __slots__ = ("interior", "upstream")

    def __init__(self, inputs: Iterable[Scalar], upstream: list[Scalar] | None = None) -> None:
        self.interior = tuple(filter(_interior, inputs))
        self.upstream = upstream

    def __iter__(self):
        return iter(self.interior)


class Parameter(Scalar):
    """A leaf that an optimiser updates (a weight or a bias); its `ledger`, if any, hears when a pass reaches it.

    "Small leaves", continued: a parameter stores only its data and grad. Its ledger is a class attribute: a
    ledger's parameters are instances of the ledger's own subclass of Parameter (`GradLedger.adopt` switches
    their class; same layout), so 52,650 parameters do not each carry the same pointer.
    """

    __slots__ = ()
    ledger: GradLedger | None = None

    def __init__(self, data: Number, ledger: GradLedger | None = None) -> None:
        self.data = float(data)
        self.grad = 0.0
        if ledger is not None:
            self.__class__ = ledger.parameter_type


class GradLedger:
    """Speed trick "the gradient ledger": which of a model's parameters backward passes have reached.

    Only about a fifth of a 784-input network's weights get a gradient from one digit (the rest multiply a zero
    pixel or feed a ReLU that did not fire), yet `zero_grad` and the optimiser's search for gradients used to
    visit all 52,650 parameters each step: half of a step. `Scalar.backward` now files every group of
    parameters it gave gradient to (a `Dot` node's weights and bias, or a single parameter elsewhere) here, so
    `zero_grad` clears and SGD updates only those. The invariant: a parameter whose grad is not 0 is in
    `groups`, or `complete` is False and everyone falls back to visiting all parameters. Backward passes and
    zeroing keep it; a non-zero grad written by hand does not (write it, then call `mark_incomplete()`).
    """

    __slots__ = ("groups", "filed", "size", "complete", "dot_only", "parameter_type")

    def __init__(self) -> None:
        self.groups: list[tuple[Parameter, ...]] = []
        self.filed = 0  # entries in `groups`, repeats included
        self.size = 0  # how many parameters file here: an optimiser uses the ledger only if it holds them all
        self.complete = True  # fresh parameters have grad 0: nothing is missing
        self.dot_only = True  # every group is one Dot node's weights and bias (see `reached`)
        # The class of the parameters that file here: Parameter, with this ledger as its `ledger`.
        self.parameter_type = type("Parameter", (Parameter,), {"__slots__": (), "ledger": self,
                                                               "__module__": __name__, "__doc__": Parameter.__doc__})

    def adopt(self, params: Iterable[Parameter]) -> None:
        """File these parameters here from now on."""
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"a ledger files parameters, not {type(p).__name__}")
            p.__class__ = self.parameter_type
            self.size += 1

    def file(self, group: tuple[Parameter, ...], dot: bool) -> None:
        """Note that a pass gave gradient to `group`."""
        if not self.complete:
            return
        self.filed += len(group)
        if self.filed > self.size:
            # More entries than parameters (a big minibatch, a probe that never zeroes): one pass over all the
            # parameters is cheaper than merging the groups, and holding them would only cost memory.
            self.mark_incomplete()
            return
        self.groups.append(group)
        if not dot:
            self.dot_only = False

    def file_groups(self, groups: list[tuple[Parameter, ...]]) -> None:
        """`file(group, True)` for each of these Dot nodes' groups, in one call."""
        if not self.complete:
            return
        self.filed += sum(map(len, groups))
        if self.filed > self.size:
            self.mark_incomplete()
            return
        self.groups += groups

    def mark_incomplete(self) -> None:
        """Forget the groups: the next zero_grad visits every parameter."""
        self.groups = []
        self.filed = 0
        self.complete = False

    def clear(self) -> None:
        """Every grad filed here is 0 again (the caller zeroed them)."""
        self.groups = []
        self.filed = 0
        self.complete = True
        self.dot_only = True

    def reached(self) -> Iterable[Parameter]:
        """Each parameter with a gradient since the last clear, once (only meaningful while `complete`)."""
        return itertools.chain.from_iterable(self.reached_groups())

    def reached_groups(self) -> list[tuple[Parameter, ...]]:
        """`reached()` as disjoint groups, for a caller that loops over each group (a nested loop beats `chain`)."""
        groups = self.groups
        # One pass of a model built from neurons files each neuron's Dot once, and neurons own disjoint
        # weights: the groups are disjoint when no bias repeats. Otherwise (a minibatch) merge them in C.
        if self.dot_only and len({g[-1] for g in groups}) == len(groups):
            return groups
        return [tuple(dict.fromkeys(itertools.chain.from_iterable(groups)))]

    def zero_grads(self) -> bool:
        """Zero every reached parameter's grad and clear; False (nothing done) when the ledger is incomplete."""
        if not self.complete:
            return False
        for group in self.groups:
            for p in group:
                p.grad = 0.0
        self.clear()
        return True

    @staticmethod
    def covering(params: Sequence[Scalar]) -> GradLedger | None:
        """The ledger that all of `params`, and nothing else, file into; None if there is no such ledger."""
        ledger = getattr(params[0], "ledger", None) if params else None
        if ledger is None or ledger.size != len(params):
            return None
        kind = ledger.parameter_type
        if all(type(p) is kind for p in params) and len(set(params)) == len(params):
            return ledger
        return None


def note_reached(root: Scalar, order: list[Scalar]) -> None:
    """After a backward pass: file the parameters it gave gradient to in their ledgers (see `GradLedger`).

    Every gradient the pass wrote into a leaf went through a node of `order` whose parent that leaf is, so
    walking `order` once finds them all: about 220 nodes for the 784-64-32-10 network.
    """
    if root._op is None:  # backward() on a leaf: its grad was set directly
        _file_leaves((root,))
        return
    ledger, batch = None, []  # a Dot's group waits in `batch` while the ledger stays the same: one call files them
    for node in order:
        prev = node._prev
        if node._op is not Dot:  # one or two parents: look at them here rather than through a call
            for p in prev:
                if type(p) is not Node and isinstance(p, Parameter) and p.ledger is not None:
                    p.ledger.file((p,), False)
            continue
        if node.grad == 0.0:  # weights untouched and the bias got + 0.0: nothing changed
            continue
        bias, ctx = prev[-1], node._ctx
        if type(ctx) is tuple:  # constant inputs: every parent is a weight or the bias
            group = prev
        else:
            n = (len(prev) - 1) // 2
            group = prev[:n] + (bias,)  # one copy fewer than (*prev[:n], bias)
            if ctx is None or len(ctx.interior) != n:  # some inputs are leaves (rare; never in an MLP's layers)
                _file_leaves(itertools.filterfalse(_interior, prev[n:-1]))
        if not isinstance(bias, Parameter) or bias.ledger is None:
            _file_leaves(group)
        elif bias.ledger is ledger:
            batch.append(group)  # a Dot node's weights are filed under its bias's ledger
        else:
            if batch:
                ledger.file_groups(batch)
            ledger, batch = bias.ledger, [group]
    if batch:
        ledger.file_groups(batch)


def _file_leaves(leaves: Iterable[Scalar]) -> None:
    """File single leaves one by one (those that are parameters with a ledger)."""
    for p in leaves:
        if isinstance(p, Parameter) and p.ledger is not None:
            p.ledger.file((p,), False)


def _lift(x: Scalar | Number) -> Scalar:
    """Wrap a plain number as a constant leaf Scalar (made without the constructor's dispatch)."""
    if isinstance(x, Scalar):
        return x
    leaf = _new(Scalar)
    leaf.data = float(x)
    leaf.grad = 0.0
    return leaf


# Python raises where IEEE floats (and torch) give inf or nan; a diverging run must show up as a
# non-finite loss for the trainer to catch, not as an exception from deep inside the graph.
def _div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0.0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _pow(a: float, k: float) -> float:
    try:
        r = a**k
    except OverflowError:
        odd = float(k).is_integer() and k % 2 == 1
        return -math.inf if a < 0.0 and odd else math.inf
    except ZeroDivisionError:  # 0.0 ** negative
        return math.inf
    return math.nan if isinstance(r, complex) else r


class Function:
    """An op: `forward` computes the value from parent values, `backward(out)` pushes `out.grad` upstream.

    `backward` adds (never assigns) `out.grad * d(out)/d(parent)` into each parent's `grad`, so a parent
    reached along several paths gets every contribution.
    """

    @staticmethod
    def forward(*args: float) -> float:
        raise NotImplementedError

    @staticmethod
    def backward(out: Scalar) -> None:
        raise NotImplementedError

    @staticmethod
    def interior_parents(out: Scalar) -> Iterable[Scalar]:
        """The parents made by an op (the ones the topological sort must order); leaves are skipped."""
        return filter(_interior, out._prev)

    @classmethod
    def apply(cls, *parents: Scalar) -> Scalar:
        """Run forward on the parents' values and return the new node."""
        return node(float(cls.forward(*[p.data for p in parents])), parents, cls)


class Unary(Function):
    """An op of one parent; `apply` skips the generic argument packing (three of them per hidden neuron)."""

    @classmethod
    def apply(cls, a: Scalar) -> Scalar:  # type: ignore[override]
        return node(float(cls.forward(a.data)), (a,), cls)


class Binary(Function):
    """An op of two parents; `apply` skips the generic argument packing (a loss makes dozens of these)."""

    @classmethod
    def apply(cls, a: Scalar, b: Scalar) -> Scalar:  # type: ignore[override]
        return node(float(cls.forward(a.data, b.data)), (a, b), cls)


class Add(Binary):
    @staticmethod
    def forward(a: float, b: float) -> float:
        return a + b

    @staticmethod
    def backward(out: Scalar) -> None:
        a, b = out._prev
        a.grad += out.grad
        b.grad += out.grad


class Mul(Binary):
    @staticmethod
    def forward(a: float, b: float) -> float:
        return a * b

    @staticmethod
    def backward(out: Scalar) -> None:
        a, b = out._prev
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad


class Neg(Unary):
    @staticmethod
    def forward(a: float) -> float:
        return -a

    @staticmethod
    def backward(out: Scalar) -> None:
        out._prev[0].grad -= out.grad


class Sub(Binary):
    @staticmethod
    def forward(a: float, b: float) -> float:
        return a - b

    @staticmethod
    def backward(out: Scalar) -> None:
        a, b = out._prev
        a.grad += out.grad
        b.grad -= out.grad


class Div(Binary):
    @staticmethod
    def forward(a: float, b: float) -> float:
        return _div(a, b)

    @staticmethod
    def backward(out: Scalar) -> None:
        a, b = out._prev
        a.grad += _div(out.grad, b.data)
        b.grad -= _div(out.grad * a.data, b.data * b.data)


class Pow(Function):
    """x ** k for a constant exponent k (kept in `_ctx`)."""

    @staticmethod
    def forward(a: float, exponent: float) -> float:
        return _pow(a, exponent)

    @staticmethod
    def backward(out: Scalar) -> None:
        (a,), k = out._prev, out._ctx
        a.grad += k * _pow(a.data, k - 1) * out.grad

    @classmethod
    def apply(cls, a: Scalar, exponent: float) -> Scalar:  # type: ignore[override]
        return node(float(cls.forward(a.data, exponent)), (a,), cls, exponent)


class ReLU(Unary):
    @staticmethod
    def forward(a: float) -> float:
        return 0.0 if a <= 0.0 else a  # NaN passes through, as in torch, so divergence stays visible

    @staticmethod
    def backward(out: Scalar) -> None:
        if out.data > 0.0:
            out._prev[0].grad += out.grad


class Exp(Unary):
    @staticmethod
    def forward(a: float) -> float:
        try:
            return math.exp(a)
        except OverflowError:
            return math.inf

    @staticmethod
    def backward(out: Scalar) -> None:
        out._prev[0].grad += out.data * out.grad  # d/dx e^x = e^x, already computed


class Log(Unary):
    @staticmethod
    def forward(a: float) -> float:
        if a > 0.0:
            return math.log(a)
        return -math.inf if a == 0.0 else math.nan

    @staticmethod
    def backward(out: Scalar) -> None:
        a = out._prev[0]
        a.grad += _div(out.grad, a.data)


class Tanh(Unary):
    @staticmethod
    def forward(a: float) -> float:
        return math.tanh(a)

    @staticmethod
    def backward(out: Scalar) -> None:
        out._prev[0].grad += (1.0 - out.data * out.data) * out.grad


class Sigmoid(Unary):
    @staticmethod
    def forward(a: float) -> float:
        # Two branches so that exp never overflows for large |a|.
        if a >= 0.0:
            return 1.0 / (1.0 + math.exp(-a))
        e = math.exp(a)
        return e / (1.0 + e)

    @staticmethod
    def backward(out: Scalar) -> None:
        s = out.data
        out._prev[0].grad += s * (1.0 - s) * out.grad


class Sum(Function):
    """Fused n-ary sum: one node instead of a chain of n-1 adds."""

    @staticmethod
    def forward(*terms: float) -> float:
        return sum(terms)

    @staticmethod
    def backward(out: Scalar) -> None:
        g = out.grad
        for t in out._prev:
            t.grad += g


class Dot(Function):
    """Fused weighted sum of one neuron: bias + sum_i w_i * x_i, as a single node.

    Parents are the weights used, then the Scalar inputs (if any), then the bias. The weights and the bias
    are parameters (leaves); `apply` builds plain `Mul` and `Sum` nodes for anything else. Constant inputs
    (plain floats) are not nodes: they live in `_ctx` (a tuple of floats), and constant zeros are dropped with
    their weights, because they contribute nothing to the value nor to any gradient. With Scalar inputs `_ctx`
    is None, or the layer's `SharedInputs`.
    """

    @staticmethod
    def forward(weights: Iterable[float], inputs: Iterable[float], bias: float) -> float:
        return bias + sum(map(operator.mul, weights, inputs))

    @staticmethod
    def backward(out: Scalar) -> None:
        g, prev, consts = out.grad, out._prev, out._ctx
        prev[-1].grad += g
        if g == 0.0:  # skip: a ReLU that did not fire sends back 0, and 0 * x adds nothing to anyone
            return
        if type(consts) is tuple:  # constant inputs: only weights and bias are parents
            for w, x in zip(prev, consts, strict=False):  # the bias is the extra last parent
                w.grad += g * x
        else:  # Scalar inputs: parents are w_0..w_n-1, x_0..x_n-1, bias
            n = (len(prev) - 1) // 2
            for w, x in zip(prev, prev[n:-1], strict=False):  # stops after the n weights
                w.grad += g * x.data
                x.grad += g * w.data

    @staticmethod
    def interior_parents(out: Scalar) -> Iterable[Scalar]:
        """Only Scalar inputs can be interior: weights and bias are parameters, so hundreds of them are skipped."""
        ctx = out._ctx
        if type(ctx) is tuple:
            return ()
        if ctx is not None:  # the layer's SharedInputs
            return ctx
        prev = out._prev
        return filter(_interior, prev[(len(prev) - 1) // 2:-1])

    @classmethod
    def apply(cls, weights: Sequence[Scalar], inputs: Sequence[Scalar] | Sequence[Number],  # type: ignore[override]
              bias: Scalar) -> Scalar:
        """Weighted sum of `inputs` (all Scalars, or all plain numbers taken as constants) plus `bias`."""
        if len(weights) != len(inputs):
            raise ValueError(f"Dot: {len(weights)} weights but {len(inputs)} inputs")
        if bias._op is not None or any(map(_interior, weights)):
            # Computed weights are not parameters: plain nodes keep every gradient path in the sort.
            return total([*map(operator.mul, weights, inputs), bias])
        if len(inputs) and isinstance(inputs[0], Scalar):
            value = cls.forward([w.data for w in weights], [x.data for x in inputs], bias.data)
            return node(float(value), (*weights, *inputs, bias), cls)
        nonzero = [i for i, x in enumerate(inputs) if x]
        return cls.sparse(picker(nonzero)(weights), tuple(float(inputs[i]) for i in nonzero), bias)

    @classmethod
    def sparse(cls, weights: tuple[Scalar, ...], consts: tuple[float, ...], bias: Scalar) -> Scalar:
        """The fast path: parameter `weights` already paired with the non-zero constant inputs `consts`.

        The caller vouches that `weights` and `bias` are leaves (a layer's own parameters); checking all of
        them here would cost as much as the sort this saves.
        """
        return cls.over_constants((*weights, bias), consts)

    @staticmethod
    def over_constants(params: tuple[Scalar, ...], consts: tuple[float, ...]) -> Scalar:
        """`sparse` with its parents already in one tuple, weights then bias: a layer picks them in one step.

        The weighted sum is a plain loop rather than `sum(map(mul, [w.data for w in weights], consts))`: on
        CPython 3.11 its specialised slot read and float ops beat building the list of values and mapping over
        it, and the sum is the same (left to right from 0.0, then the bias added).
        """
        s = 0.0
        for w, x in zip(params, consts, strict=False):  # stops at the last constant: the bias is the extra last parent
            s += w.data * x
        return node(params[-1].data + s, params, Dot, consts)

    @classmethod
    def dense(cls, weights: Sequence[Scalar], inputs: Sequence[Scalar], values: Sequence[float],
              bias: Scalar, shared: SharedInputs | None = None) -> Scalar:
        """The fast path for Scalar inputs: `values` are their data, read once for a whole layer of neurons.

        As for `sparse`, the caller vouches that `weights` and `bias` are leaves (a layer's own parameters), and
        that `shared`, if given, is `SharedInputs(inputs)`, made once for the layer.
        """
        s = 0.0
        for w, x in zip(weights, values, strict=True):  # a plain loop, as in `over_constants`
            s += w.data * x
        return node(bias.data + s, (*weights, *inputs, bias), cls, shared)


def picker(indices: Sequence[int]) -> Callable[[Sequence], tuple]:
    """A function returning `tuple(items[i] for i in indices)`, gathered in C by `itemgetter`."""
    if len(indices) > 1:
        return operator.itemgetter(*indices)
    return lambda items: tuple(items[i] for i in indices)


def total(terms: Iterable[Scalar | Number]) -> Scalar:
    """Sum many terms as one `Sum` node (numbers become constant leaves)."""
    return Sum.apply(*[_lift(t) for t in terms])
