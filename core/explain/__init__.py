"""Explain one Scalar's gradient: one digit forward and backward through the real network, step by step.

`network.py` takes the weights (a probe's snapshot, or a run's checkpoint); `trace.py` runs the digit through
them, on the handmade engine's own Scalar graph (its nodes, op names and local derivatives) or, for Lightning,
from the same weights in float64; `walk.py` turns a trace into forward and backward steps and compares the
walk's gradient with the backend's own backward pass and a central finite difference; `text.py` words it;
`cli.py` is `--explain`. Pure: no textual, torch only for a Lightning run's autograd.
"""

from __future__ import annotations

from core.explain.network import Network, network_from_probe, network_from_run
from core.explain.walk import Explanation, Step, Term, explain

__all__ = ["Explanation", "Network", "Step", "Term", "explain", "network_from_probe", "network_from_run"]
