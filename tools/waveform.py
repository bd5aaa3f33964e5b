"""Clonus-like displacement waveforms with known ground truth.

A beat is one cycle: a fast phase (the jerk) then a slower return. The first beats are a
little longer and the periods shorten until about the fourth; unsustained clonus decays over
its last beats. Truth follows ../shared/clinical.md: ``frequency_hz`` is the median of the
per-beat rates; ``start_s`` is the stretch (the first cycle's start).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class ClonusSpec:
    frequency_hz: float = 6.0
    beats: int = 8
    onset_s: float = 1.0
    amplitude: float = 1.0  # peak-to-peak of the steady beats, in the signal's units
    sustained: bool = False
    fast_phase: float = 0.4  # fraction of the period in the rising (jerk) phase
    first_beat_stretch: float = 0.10  # first period is this much longer; gone by beat 4
    period_jitter: float = 0.02  # cycle-to-cycle period variation (fraction)
    decay_beats: int = 3  # unsustained: last beats fade to 30 %
    stretch_step: float = 1.0  # held displacement of the stretch, in units of amplitude
    seed: int = 0


@dataclass
class ClonusTruth:
    clonus: bool
    frequency_hz: float | None
    beat_count: int
    start_s: float | None
    end_s: float | None
    sustained: bool | None
    beat_times_s: list[float] = field(default_factory=list)
    periods_s: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def beat_periods(spec: ClonusSpec) -> np.ndarray:
    rng = np.random.default_rng(spec.seed)
    base = 1.0 / spec.frequency_hz
    k = np.arange(spec.beats)
    stretch = 1.0 + spec.first_beat_stretch * np.clip((3 - k) / 3.0, 0.0, None)
    jitter = 1.0 + spec.period_jitter * rng.standard_normal(spec.beats).clip(-2.5, 2.5)
    return base * stretch * jitter


def beat_amplitudes(spec: ClonusSpec) -> np.ndarray:
    amps = np.full(spec.beats, float(spec.amplitude))
    if not spec.sustained and spec.decay_beats > 0 and spec.beats > 3:
        n = min(spec.decay_beats, spec.beats - 2)
        amps[-n:] *= np.linspace(1.0, 0.3, n + 1)[1:]
    return amps


def clonus_truth(spec: ClonusSpec, sustained_min_beats: int = 10) -> ClonusTruth:
    periods = beat_periods(spec)
    starts = spec.onset_s + np.concatenate([[0.0], np.cumsum(periods)[:-1]])
    peaks = starts + spec.fast_phase * periods
    clonus = spec.beats >= 3
    return ClonusTruth(
        clonus=clonus,
        frequency_hz=float(np.median(1.0 / periods)) if spec.beats else None,
        beat_count=int(spec.beats),
        start_s=float(spec.onset_s) if spec.beats else None,
        end_s=float(spec.onset_s + periods.sum()) if spec.beats else None,
        sustained=bool(spec.beats >= sustained_min_beats) if clonus else None,
        beat_times_s=[float(x) for x in peaks],
        periods_s=[float(x) for x in periods],
    )


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def clonus_displacement(spec: ClonusSpec, t_s: np.ndarray) -> np.ndarray:
    """Displacement at times ``t_s``: the stretch (a held step), then the beats."""
    t = np.asarray(t_s, dtype=float)
    x = spec.stretch_step * spec.amplitude * _smoothstep((t - (spec.onset_s - 0.12)) / 0.12)
    if spec.beats == 0:
        return x
    periods = beat_periods(spec)
    amps = beat_amplitudes(spec)
    start = spec.onset_s
    a = spec.fast_phase
    for period, amp in zip(periods, amps, strict=True):
        inside = (t >= start) & (t < start + period)
        phase = (t[inside] - start) / period
        warped = np.where(phase < a, phase / (2 * a), 0.5 + (phase - a) / (2 * (1 - a)))
        x[inside] += amp * 0.5 * (1 - np.cos(2 * np.pi * warped))
        start += period
    return x


def sample_times(
    duration_s: float,
    fps: float,
    *,
    jitter: float = 0.0,
    fps_after: float | None = None,
    switch_s: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Frame times of a phone recording: optional timing jitter and a rate change mid-clip."""
    rng = np.random.default_rng(seed)
    times = []
    t = 0.0
    while t < duration_s:
        times.append(t)
        rate = fps_after if (fps_after and switch_s is not None and t >= switch_s) else fps
        step = 1.0 / rate
        t += step * (1.0 + jitter * rng.uniform(-1.0, 1.0))
    return np.asarray(times)
