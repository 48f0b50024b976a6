"""Gradient statistics of a layer, defined once for both backends (see LayerGradStats in core/events.py)."""

from __future__ import annotations

import numpy as np

from core.events import LayerGradStats

# log10 |grad| bin edges: half decades from 1e-10 to 1e2 (24 bins). Values below the first edge, exact zeros
# included, count in the first bin; values above the last edge in the last bin; non-finite ones in none.
HISTOGRAM_LOW, HISTOGRAM_HIGH, HISTOGRAM_BINS = -10.0, 2.0, 24
HISTOGRAM_EDGES: tuple[float, ...] = tuple(
    HISTOGRAM_LOW + i * (HISTOGRAM_HIGH - HISTOGRAM_LOW) / HISTOGRAM_BINS for i in range(HISTOGRAM_BINS + 1))


def histogram(grads: np.ndarray) -> tuple[int, ...]:
    """Counts of log10 |grad| in HISTOGRAM_EDGES bins (half-open [lo, hi), the ends clamped)."""
    a = np.abs(np.asarray(grads, dtype=float).ravel())
    a = a[np.isfinite(a)]
    with np.errstate(divide="ignore"):
        logs = np.log10(a)
    # np.histogram closes its last bin; clamping above HIGH lands exactly on it, as intended.
    logs = np.clip(logs, HISTOGRAM_LOW, HISTOGRAM_HIGH)
    counts, _ = np.histogram(logs, bins=np.asarray(HISTOGRAM_EDGES))
    return tuple(int(c) for c in counts)


def dead_fraction(alive: np.ndarray | None) -> float:
    """Share of units never active (activation > 0) on any observed sample; 0.0 when nothing was observed."""
    if alive is None:
        return 0.0
    alive = np.asarray(alive, dtype=bool).ravel()
    return float(1.0 - alive.mean()) if alive.size else 0.0


def layer_grad_stats(run_id: str, step: int, layer: int, grads: np.ndarray, weights: np.ndarray, lr: float,
                     dead_fraction: float = 0.0) -> LayerGradStats:
    """LayerGradStats of one layer's weight gradients (numpy arrays of equal size)."""
    g = np.asarray(grads, dtype=float).ravel()
    w = np.asarray(weights, dtype=float).ravel()
    with np.errstate(all="ignore"):  # a diverging run has inf/NaN grads: report them, don't warn
        n = g.size
        rms_w = float(np.sqrt(np.mean(w * w))) if w.size else 0.0
        rms_g = float(np.sqrt(np.mean(g * g))) if n else 0.0
        return LayerGradStats(
            run_id=run_id, step=step, layer=layer,
            mean=float(g.mean()) if n else 0.0,
            std=float(g.std()) if n else 0.0,
            max_abs=float(np.abs(g).max()) if n else 0.0,
            histogram=histogram(g),
            histogram_edges=HISTOGRAM_EDGES,
            dead_fraction=float(dead_fraction),
            update_ratio=lr * rms_g / rms_w if rms_w > 0 else 0.0,
        )
