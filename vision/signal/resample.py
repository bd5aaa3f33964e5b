"""Uneven samples onto a uniform grid, and several components onto the one that oscillates."""

from __future__ import annotations

import numpy as np
from scipy import interpolate, signal

_MIN_GRID_HZ = 120.0


def uniform_grid(
    t_s: np.ndarray, x: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Cubic-spline the valid samples onto a uniform grid; mark grid points inside gaps."""
    tv, xv = t_s[valid], x[valid]
    dt = np.diff(tv)
    median_dt = float(np.median(dt))
    fs = float(min(max(_MIN_GRID_HZ, 2.0 / median_dt), 480.0))
    grid = np.arange(tv[0], tv[-1] + 1e-9, 1.0 / fs)
    spline = interpolate.CubicSpline(tv, xv, axis=0, bc_type="natural")
    xg = spline(grid)
    idx = np.clip(np.searchsorted(tv, grid), 1, len(tv) - 1)
    gap = (tv[idx] - tv[idx - 1]) > 3.0 * median_dt
    return grid, xg, ~gap, fs


def principal_component(x: np.ndarray, fs: float, band: tuple[float, float]) -> np.ndarray:
    """Project several displacement components onto the axis that oscillates most in band."""
    if x.ndim == 1 or x.shape[1] == 1:
        return x.reshape(-1)
    sos = signal.butter(4, band, btype="bandpass", fs=fs, output="sos")
    filtered = signal.sosfiltfilt(sos, x - x.mean(axis=0), axis=0)
    _, _, vt = np.linalg.svd(filtered, full_matrices=False)
    axis = vt[0]
    return (x - x.mean(axis=0)) @ axis


def clean_samples(
    t_s: np.ndarray, x: np.ndarray, valid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The valid, finite samples in time order, one per time: (times, values); ``x`` is (n,) or
    (n, k), an (n, 1) column taken as (n,). Nothing passed in is changed."""
    t = np.asarray(t_s, dtype=float)
    x = np.asarray(x, dtype=float)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    ok = np.ones(len(t), bool) if valid is None else np.array(valid, bool)
    ok &= np.isfinite(t) & (np.isfinite(x) if x.ndim == 1 else np.all(np.isfinite(x), axis=1))
    order = np.argsort(t[ok], kind="stable")
    tv, xv = t[ok][order], x[ok][order]
    uniq = np.concatenate([[True], np.diff(tv) > 0]) if len(tv) else np.array([], bool)
    return tv[uniq], xv[uniq]
