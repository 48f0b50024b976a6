"""An explanation in words (plain text lines) and as JSON-ready events (one dict per line of --jsonl)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from core.explain.walk import Explanation, Step


def number(v: float | None) -> str:
    """Six significant digits, signed: the walk's numbers line up."""
    return "" if v is None else f"{v + 0.0:+.6g}"  # + 0.0: a negative zero reads +0


def step_lines(step: Step) -> list[str]:
    """One step: its node, op and value, then one line per named term and one for the rest."""
    head = f"{step.node} [{step.op}]"
    if step.value is not None:
        head += f" = {number(step.value)}"
    out = [head, f"    {step.text}"]
    for t in step.terms:
        if step.phase == "backward":
            out.append(f"    {t.name:<22} local {number(t.local):>13} × from above {number(t.above):>13} "
                       f"= {number(t.product)}")
        else:
            out.append(f"    {t.name:<22} {number(t.local):>13} × {number(t.above):>13} = {number(t.product)}")
    if step.rest_count:
        out.append(f"    … {step.rest_count} more terms sum to {number(step.rest)}")
    if step.values:
        out.append("    " + "  ".join(f"{name} {v:.4g}" for name, v in step.values))
    return out


def differences(e: Explanation) -> list[tuple[str, float, float]]:
    """(what, gradient, its difference from the walk's) for the walk, the backend's own and the finite difference."""
    return [("the walk", e.gradient, 0.0), (e.own_name, e.own, e.own - e.gradient),
            ("central finite difference", e.numeric, e.numeric - e.gradient)]


def lines(e: Explanation, where: str = "") -> list[str]:
    """The whole walk as text: forward values, backward terms, then the three gradients side by side."""
    engine = "the handmade engine" if e.backend == "scalar" else "Lightning"
    out = [f"explain {e.address} on {engine} · step {e.step:,}" + (f" · {where}" if where else ""),
           f"digit labelled {e.label}; the network answers {e.prediction}", "", "forward"]
    for step in e.forward:
        out += ["  " + line for line in step_lines(step)]
    out += ["", "backward (each gradient = local derivative × gradient from above, summed over paths)"]
    for step in e.backward:
        out += ["  " + line for line in step_lines(step)]
    out += ["", f"d loss / d {e.address}:"]
    for what, value, diff in differences(e):
        tail = "" if what == "the walk" else f"   difference {diff:+.3g}"
        out.append(f"  {what:<30} {number(value):>16}{tail}")
    if e.zero_reason:
        out.append(f"  zero because {e.zero_reason}")
    out += [f"  note: {n}" for n in e.notes]
    return out


def events(e: Explanation, where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """JSON-ready events: ExplainStarted, one ExplainStep per step (forward then backward), ExplainResult."""
    start = {"type": "ExplainStarted", "backend": e.backend, "run_id": e.run_id, "step": e.step,
             "address": e.address, "label": e.label, "prediction": e.prediction, "layer_sizes": list(e.layer_sizes),
             **(where or {})}
    out: list[dict[str, Any]] = [start]
    for i, step in enumerate(e.steps):
        row = asdict(step)
        row["terms"] = [asdict(t) for t in step.terms]
        row["values"] = [list(v) for v in step.values]
        out.append({"type": "ExplainStep", "index": i, **row})
    out.append({"type": "ExplainResult", "address": e.address, "gradient": e.gradient, "own": e.own,
                "own_name": e.own_name, "numeric": e.numeric, "own_difference": e.own - e.gradient,
                "numeric_difference": e.numeric - e.gradient, "zero_reason": e.zero_reason, "notes": list(e.notes)})
    return out
