"""Seeded synthetic displacement signals with known truth, for the detector's tests and limits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.waveform import ClonusSpec, ClonusTruth, clonus_displacement, clonus_truth, sample_times


@dataclass(frozen=True)
class Case:
    t_s: np.ndarray  # frame times
    x: np.ndarray  # displacement with noise
    clean: np.ndarray  # the same without noise
    truth: ClonusTruth
    noise_sd: float


def noisy_case(
    f: float,
    beats: int,
    fps: float,
    snr_db: float,
    seed: int,
    *,
    jitter: float = 0.1,
    fast_phase: float = 0.4,
    sustained: bool = False,
    rate_change: bool = False,
) -> Case:
    """A clonus displacement with white noise at ``snr_db`` over the episode, and its truth. A
    rate change drops the frame rate to 0.8× half way through the episode."""
    spec = ClonusSpec(
        frequency_hz=f, beats=beats, onset_s=0.8 + (seed % 7) * 0.15, sustained=sustained,
        fast_phase=fast_phase, seed=seed,
    )  # fmt: skip
    truth = clonus_truth(spec)
    fps_after = fps * 0.8 if rate_change else None
    t = sample_times(truth.end_s + 1.2, fps, jitter=jitter, fps_after=fps_after,
                     switch_s=truth.end_s / 2 if rate_change else None, seed=seed)  # fmt: skip
    x = clonus_displacement(spec, t)
    rng = np.random.default_rng(seed + 1000)
    inside = (t >= truth.start_s) & (t <= truth.end_s)
    noise_sd = float(np.sqrt(np.var(x[inside]) / 10 ** (snr_db / 10)))
    return Case(t, x + rng.normal(0, noise_sd, len(t)), x, truth, noise_sd)


def case_table(n: int, snr_db: float, seed: int = 0) -> list[dict]:
    """A seeded spread over 3–12 Hz, 3–60 beats, 20–120 fps (at least 3 samples a cycle)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        f = rng.uniform(3, 12)
        fps = rng.uniform(max(20, 3 * f), 120)
        rows.append(dict(f=f, beats=int(rng.integers(3, 61)), fps=fps, snr_db=snr_db, seed=i,
                         fast_phase=rng.uniform(0.3, 0.5), sustained=bool(rng.random() < 0.5),
                         rate_change=bool(rng.random() < 0.3)))  # fmt: skip
    return rows
