"""How often a signal was sampled (numpy only: the decoding path needs it before SciPy loads)."""

from __future__ import annotations

import numpy as np


def mean_rate_hz(time_s: np.ndarray) -> float:
    """Samples per second over the span of the timestamps (0 with fewer than two, or no span)."""
    n = len(time_s)
    span = float(time_s[-1] - time_s[0]) if n > 1 else 0.0
    return (n - 1) / span if span > 0 else 0.0
