"""Zero-phase Butterworth filters about a rhythm, and scaling for drawing."""

from __future__ import annotations

import numpy as np
from scipy import signal


def unit_scaled(y: np.ndarray) -> np.ndarray:
    """``y`` divided by its robust peak (99.5th percentile of |y|), for drawing on a fixed scale."""
    y = np.asarray(y, dtype=float)
    peak = float(np.percentile(np.abs(y), 99.5)) if len(y) else 0.0
    return y / peak if peak > 0 else np.zeros_like(y)


def narrowband(
    y: np.ndarray, fs: float, f0: float, lo_x: float = 0.7, hi_x: float = 1.45, order: int = 3
) -> np.ndarray:
    """``y`` (along its first axis) band-passed around the rhythm ``f0``, from ``lo_x`` to
    ``hi_x`` times it."""
    lo, hi = lo_x * f0, min(hi_x * f0, 0.45 * fs)
    sos = signal.butter(order, (lo, hi), btype="bandpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, y, axis=0)
