"""Runs of samples or windows: where a mask holds, joined across small gaps, near centres."""

from __future__ import annotations

import numpy as np


def segments(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True as (start, stop) index pairs."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2], strict=True))


def near(centers_s: np.ndarray, t_s: np.ndarray, reach_s: float) -> np.ndarray:
    """Which times lie within ``reach_s`` of any centre."""
    if len(centers_s) == 0:
        return np.zeros(len(t_s), bool)
    idx = np.clip(np.searchsorted(centers_s, t_s), 1, max(1, len(centers_s) - 1))
    lo = centers_s[np.clip(idx - 1, 0, len(centers_s) - 1)]
    hi = centers_s[np.clip(idx, 0, len(centers_s) - 1)]
    return (np.abs(t_s - lo) <= reach_s) | (np.abs(t_s - hi) <= reach_s)


def merge_runs(runs: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] <= gap:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged
