"""The walk: a trace turned into forward steps (values) and backward steps (the chain rule, node by node).

Each backward step is one node on the way from the loss down to the chosen Scalar: its gradient is the sum of
its terms, each term a local derivative times the gradient arriving from above. Where a node feeds many others
(a hidden neuron feeds every neuron of the next layer) the largest terms are named and the rest summed, so
`sum(t.product for t in step.terms) + step.rest == step.grad` for every step. The last step's gradient is the
walk's answer; the explanation puts the backend's own gradient and a central finite difference beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from core.address import Address, validate
from core.explain.network import Network
from core.explain.trace import Trace, trace

TOP = 5  # terms named in a sum; the rest are summed with their count


@dataclass(frozen=True)
class Term:
    """One term of a sum: `local` (a local derivative, or a weight) times `above` (a gradient, or an input)."""

    name: str
    local: float
    above: float
    product: float


@dataclass(frozen=True)
class Step:
    """One step of the walk: a node, its value (forward) or gradient (backward), and the terms that make it."""

    phase: str  # "forward" or "backward"
    node: str  # an address, "input", "loss", or a whole layer "L1"
    op: str
    text: str
    value: float | None = None  # the node's value (forward) or its gradient d loss / d node (backward)
    terms: tuple[Term, ...] = ()
    rest: float = 0.0  # the sum of the terms not named
    rest_count: int = 0
    values: tuple[tuple[str, float], ...] = ()  # a layer's values worth naming (outputs, probabilities)


@dataclass(frozen=True)
class Explanation:
    """The walk for one Scalar and one digit, and the gradients it must agree with."""

    backend: str
    run_id: str
    step: int
    address: str
    label: int
    prediction: int
    layer_sizes: tuple[int, ...]
    forward: tuple[Step, ...]
    backward: tuple[Step, ...]
    gradient: float  # the walk's
    own: float  # the backend's own backward pass
    own_name: str
    numeric: float  # central finite difference
    zero_reason: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.forward + self.backward


def _sum_step(phase: str, node: str, op: str, text: str, terms: Sequence[Term], value: float,
              keep: Sequence[str] = (), top: int = TOP) -> Step:
    """A step whose value is a sum of terms: the `top` largest |terms| (and any named in `keep`) named."""
    order = sorted(range(len(terms)), key=lambda i: -abs(terms[i].product))
    named = [i for i in order[:top]] + [i for i in order[top:] if terms[i].name in keep]
    rest = [terms[i].product for i in order if i not in named]
    shown = tuple(terms[i] for i in sorted(named, key=lambda i: -abs(terms[i].product)))
    return Step(phase, node, op, text, value, shown, math.fsum(rest), len(rest))


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def explain(net: Network, address: str, pixels: Sequence[float], label: int, *, top: int = TOP) -> Explanation:
    """Walk `address` (a weight, bias, z, a or loss) for one digit; AddressError / ValueError when impossible."""
    addr = validate(address, net.layer_sizes, graph_nodes=True)
    classes = net.layer_sizes[-1]
    if len(pixels) != net.layer_sizes[0]:
        raise ValueError(f"the digit has {len(pixels)} pixels; this network reads {net.layer_sizes[0]}")
    if not 0 <= label < classes:
        raise ValueError(f"label {label} is not a class 0..{classes - 1}")
    tr = trace(net, pixels, label)
    forward = _forward(net, tr, addr, top)
    backward, gradient, zero = _backward(net, tr, addr, top)
    return Explanation(
        backend=net.backend, run_id=net.run_id, step=net.step, address=str(addr), label=label,
        prediction=tr.prediction, layer_sizes=net.layer_sizes, forward=tuple(forward), backward=tuple(backward),
        gradient=gradient, own=tr.own(addr), own_name=tr.own_name, numeric=tr.numeric(addr), zero_reason=zero,
        notes=tuple(tr.notes))


# ---- forward ----------------------------------------------------------------------------------------------

def _forward(net: Network, tr: Trace, addr: Address, top: int) -> list[Step]:
    last = net.layers - 1
    steps: list[Step] = []
    if addr.kind == "loss":
        layer, j = last, None
    else:
        layer, j = addr.layer, addr.neuron
    inputs = tr.x if layer == 0 else tr.a[layer - 1]
    nonzero = sum(1 for v in inputs if v != 0.0)
    what = "pixels" if layer == 0 else f"activations of L{layer - 1}"
    chosen: tuple[tuple[str, float], ...] = ()
    text = f"{len(inputs)} {what}, {nonzero} of them non-zero"
    if addr.kind == "w":
        chosen = ((_input_name(net, addr.layer, addr.index), inputs[addr.index]),)
        text += f"; {addr} multiplies {chosen[0][0]}"
    steps.append(Step("forward", "input", "input", text, values=chosen))
    if j is not None:
        row, bias = net.weights[layer][j], net.biases[layer][j]
        chosen = addr.index if addr.kind == "w" else -1
        terms = [Term(f"w{i}·{_input_name(net, layer, i)}", w, v, w * v)
                 for i, (w, v) in enumerate(zip(row, inputs, strict=True)) if v != 0.0 or i == chosen]
        keep = [f"w{addr.index}·{_input_name(net, layer, addr.index)}"] if addr.kind == "w" else []
        zaddr = f"L{layer}.N{j}.z"
        lit = sum(1 for v in inputs if v != 0.0)
        step = _sum_step("forward", zaddr, tr.z_op, f"{zaddr} = bias + Σ w·input over its {lit} non-zero inputs",
                         [*terms, Term("bias", bias, 1.0, bias)], tr.z[layer][j], keep + ["bias"], top)
        steps.append(step)
        if layer < last:
            aaddr = f"L{layer}.N{j}.a"
            steps.append(Step("forward", aaddr, tr.act_op, f"{aaddr} = {tr.act_op}({zaddr}) = {_fmt(tr.a[layer][j])}",
                              tr.a[layer][j]))
            for m in range(layer + 1, last + 1):
                width = net.layer_sizes[m + 1]
                if m == layer + 1:
                    feed = [Term(f"L{m}.N{k}.z", net.weights[m][k][j], tr.a[layer][j],
                                 net.weights[m][k][j] * tr.a[layer][j]) for k in range(width)]
                    text = (f"L{m}: {width} neurons; {aaddr} feeds every one of them, adding w·a to each z "
                            f"(the largest shown)")
                    step = _sum_step("forward", f"L{m}", tr.z_op, text, feed, 0.0, top=top)
                    steps.append(Step(step.phase, step.node, step.op, step.text, None, step.terms, step.rest,
                                      step.rest_count))  # a layer has no one value: its neurons' terms
                elif m < last:
                    acts = sorted(range(width), key=lambda k: -abs(tr.a[m][k]))[:top]
                    steps.append(Step("forward", f"L{m}", tr.act_op,
                                      f"L{m}: {width} neurons, reached through L{m - 1}; the most active shown",
                                      values=tuple((f"L{m}.N{k}.a", tr.a[m][k]) for k in acts)))
    outputs = tuple((f"L{last}.N{k}.z", v) for k, v in enumerate(tr.z[last]))
    steps.append(Step("forward", f"L{last}", tr.z_op, f"the {len(outputs)} outputs (logits)", values=outputs))
    probs = tuple((str(k), p) for k, p in enumerate(tr.probs))
    steps.append(Step("forward", "softmax", "softmax",
                      f"probabilities: the network answers {tr.prediction} ({tr.probs[tr.prediction]:.1%}); "
                      f"the label is {tr.label} ({tr.probs[tr.label]:.1%})", values=probs))
    how = (f"cross-entropy = −log p[{tr.label}]" if net.loss == "cross_entropy"
           else f"mean squared error against the one-hot {tr.label}")
    steps.append(Step("forward", "loss", tr.loss_op, f"loss: {how} = {_fmt(tr.loss)}", tr.loss))
    return steps


def _input_name(net: Network, layer: int, index: int) -> str:
    if layer > 0:
        return f"L{layer - 1}.N{index}.a"
    side = math.isqrt(net.layer_sizes[0])
    return f"x{index}(r{index // side},c{index % side})" if side * side == net.layer_sizes[0] else f"x{index}"


# ---- backward ---------------------------------------------------------------------------------------------

def _backward(net: Network, tr: Trace, addr: Address, top: int) -> tuple[list[Step], float, str]:
    """The backward steps from the loss down to `addr`, the walk's gradient, and why it is zero (when it is)."""
    last = net.layers - 1
    steps = [Step("backward", "loss", tr.loss_op, "d loss / d loss = 1: where every gradient starts", 1.0,
                  (Term("loss", 1.0, 1.0, 1.0),))]
    if addr.kind == "loss":
        return steps, 1.0, ""
    # the outputs: d loss / d logit_k, a sum over the graph's paths from the loss down to logit k
    head = [math.fsum(math.prod(s[3] for s in path) for path in paths) for paths in tr.head_paths]
    if net.loss == "cross_entropy":
        formula = f"softmax cross-entropy: d loss / d z_k = p_k − [k = {tr.label}]"
    else:
        formula = f"mean squared error: d loss / d z_k = 2 (z_k − [k = {tr.label}]) / {len(head)}"
    label_paths = tr.head_paths[tr.label]
    chains = " and ".join("loss ← " + " ← ".join(s[1] for s in path[1:]) + f" ← z{tr.label}" if len(path) > 1
                          else f"loss ← z{tr.label}" for path in label_paths)
    text = formula
    if tr.z_op == "Dot":  # the engine's graph: name the ops the chain rule goes through
        text += f"; on the graph {len(label_paths)} path(s) reach z{tr.label}: {chains}"
    outs = [Term(f"L{last}.N{k}.z", g, 1.0, g) for k, g in enumerate(head)]
    steps.append(Step("backward", f"L{last}", tr.loss_op, text, None, tuple(outs)))
    dz = head
    j = addr.neuron
    for m in range(last - 1, addr.layer - 1, -1):
        width = net.layer_sizes[m + 1]
        above = net.layer_sizes[m + 2]
        if m > addr.layer:
            da = [math.fsum(tr.into(m + 1, k)[i] * dz[k] for k in range(above)) for i in range(width)]
            dz = [tr.act_local[m][i] * da[i] for i in range(width)]
            grads = [Term(f"L{m}.N{i}.z", tr.act_local[m][i], da[i], dz[i]) for i in range(width)]
            text = (f"L{m}: each of its {width} neurons sums {above} paths from L{m + 1}, times its {tr.act_op} "
                    f"slope; the largest gradients shown")
            step = _sum_step("backward", f"L{m}", tr.act_op, text, grads, math.fsum(dz), top=top)
            steps.append(Step(step.phase, step.node, step.op, step.text, None, step.terms, step.rest, step.rest_count))
            continue
        aaddr, zaddr = f"L{m}.N{j}.a", f"L{m}.N{j}.z"
        terms = [Term(f"L{m + 1}.N{k}.z (w{j})", tr.into(m + 1, k)[j], dz[k], tr.into(m + 1, k)[j] * dz[k])
                 for k in range(above)]  # the path through output k: the weight w{j} into it, times its gradient
        da_j = math.fsum(t.product for t in terms)
        text = (f"{aaddr} feeds all {above} neurons of L{m + 1}: its gradient is the sum over those paths of "
                f"(weight into it) × (its gradient)")
        steps.append(_sum_step("backward", aaddr, tr.z_op, text, terms, da_j, top=top))
        if addr.kind == "a":
            return steps, da_j, ""
        slope = tr.act_local[m][j]
        dz_j = slope * da_j
        why = f"{tr.act_op}'({_fmt(tr.z[m][j])}) = {_fmt(slope)}"
        if slope == 0.0:
            why += ": the unit did not fire, so nothing flows below it"
        steps.append(Step("backward", zaddr, tr.act_op, f"{zaddr}: local derivative {why}", dz_j,
                          (Term(aaddr, slope, da_j, dz_j),)))
        dz = [0.0] * width
        dz[j] = dz_j
    if addr.layer == last:
        zaddr = f"L{last}.N{j}.z"
        steps.append(Step("backward", zaddr, tr.loss_op, f"{zaddr}: the output's own gradient", head[j],
                          (Term("loss", head[j], 1.0, head[j]),)))
    dz_j = dz[j]
    if addr.kind == "z":
        return steps, dz_j, ""
    local, zero = tr.target_local(addr)
    grad = local * dz_j
    zaddr = f"L{addr.layer}.N{j}.z"
    if addr.kind == "b":
        text = f"{addr}: d {zaddr} / d bias = 1, so the bias gets {zaddr}'s gradient as it is"
    else:
        text = (f"{addr}: d {zaddr} / d w = the input it multiplies, "
                f"{_input_name(net, addr.layer, addr.index)} = {_fmt(local)}")
    if not zero and grad == 0.0 and dz_j == 0.0:
        zero = f"{zaddr} gets no gradient: its unit did not fire for this digit (or sits at a kink)"
    steps.append(Step("backward", str(addr), tr.z_op, text, grad, (Term(zaddr, local, dz_j, grad),)))
    return steps, grad, zero
