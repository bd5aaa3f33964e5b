"""The beats of one rhythm: found on its narrow band, grown from a core beat by beat, timed
to sub-sample precision, each with its swing and its own period."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import signal

from vision.signal.filters import narrowband
from vision.signal.runs import segments

# Band-pass (low × f0, high × f0, order) on which the beats of a clean episode are timed; others
# are timed on the narrow band that found them.
_WIDE_TIMING = (0.4, 3.0, 2)
_CLEAN_SWING_TO_NOISE = 45.0  # typical swing over the narrow-band noise SD (about 17 dB SNR)


def _swings(nb: np.ndarray, peaks: np.ndarray, troughs: np.ndarray) -> np.ndarray:
    """Each cycle's swing: its peak above the lower of the neighbouring troughs."""
    out = np.empty(len(peaks))
    for k, p in enumerate(peaks):
        before = troughs[troughs < p]
        after = troughs[troughs > p]
        refs = ([nb[before[-1]]] if len(before) else []) + ([nb[after[0]]] if len(after) else [])
        out[k] = nb[p] - (min(refs) if refs else nb.min())
    return out


def _returns(y: np.ndarray, i: int, half: int, min_swing: float) -> bool:
    """A beat rises and falls back; the held stretch (a step) does not.

    ``y`` is the low-passed (not high-passed) signal; the swing on each side is the local
    peak above the lowest point within half a period.
    """
    quarter = max(1, half // 2)
    lo, hi = max(0, i - half - quarter), min(len(y), i + half + quarter + 1)
    if i - lo < 2 or hi - i < 3:
        return False
    peak_i = max(lo, i - quarter) + int(np.argmax(y[max(lo, i - quarter) : i + quarter + 1]))
    peak = y[peak_i]
    left = peak - float(np.min(y[lo : peak_i + 1]))
    right = peak - float(np.min(y[peak_i:hi]))
    return min(left, right) >= min_swing and min(left, right) >= 0.3 * max(left, right)


@dataclass(frozen=True)
class RhythmViews:
    """One rhythm's views of the displacement on the uniform grid (``fs``)."""

    nb: np.ndarray  # narrow band around the rhythm: finds the beats
    band: np.ndarray  # the site's band: times them when the episode is clean
    smooth: np.ndarray  # low-passed only (the stretch kept): does a beat fall back?
    fs: float

    def flipped(self) -> RhythmViews:
        return RhythmViews(-self.nb, -self.band, -self.smooth, self.fs)


def _episode_beats(v: RhythmViews, f0: float, core: tuple[int, int], noise_sd: float) -> BeatRun | None:
    """Beat times (s, from the grid start) and swings of one rhythm at ``f0``.

    The beats are the cycles in the core region, then the cycles on each side, taken one at a
    time while they keep the rhythm (spacing), stand clearly above the noise and rise and
    fall back in the unfiltered signal: the longer first beats and the fading last ones
    count; noise beside the episode and the examiner's stretch do not.
    """
    nb, y, fs = v.nb, v.smooth, v.fs
    distance = max(1, int(0.6 * fs / f0))
    peaks, _ = signal.find_peaks(nb, distance=distance)
    troughs, _ = signal.find_peaks(-nb, distance=distance)
    if len(peaks) == 0:
        return None
    swings = _swings(nb, peaks, troughs)
    a, b = core
    in_core = (peaks >= a) & (peaks < b)
    if not in_core.any():
        return None
    typical = float(np.percentile(swings[in_core], 75))
    core_idx = np.flatnonzero(in_core & (swings >= max(3.0 * noise_sd, 0.25 * typical)))
    if len(core_idx) == 0:
        return None
    period = fs / f0
    half = max(1, int(round(0.5 * period)))
    # The first beats are strong; the last ones fade (to a third of the swing, or less).
    floor_before, floor_after = max(4.0 * noise_sd, 0.3 * typical), max(4.0 * noise_sd, 0.2 * typical)

    def falls_back(k: int) -> bool:
        return _returns(y, int(peaks[k]), half, max(0.15 * typical, 0.3 * swings[k]))

    def extends(k: int, neighbour: int) -> bool:
        spacing = abs(int(peaks[k]) - int(peaks[neighbour]))
        return (
            0.6 * period <= spacing <= 1.6 * period
            and swings[k] >= (floor_before if k < neighbour else floor_after)
            and falls_back(k)
        )

    first, last = int(core_idx[0]), int(core_idx[-1])
    while first > 0 and extends(first - 1, first):
        first -= 1
    while last < len(peaks) - 1 and extends(last + 1, last):
        last += 1
    chosen = np.arange(first, last + 1)
    chosen = chosen[(swings[chosen] >= max(3.0 * noise_sd, 0.25 * typical)) | ~in_core[chosen]]
    # A beat that does not fall back (the held stretch) is peeled off the ends; one inside the
    # run keeps the rhythm between its neighbours (a drifting camera can tilt a single beat).
    kept = np.flatnonzero([falls_back(k) for k in chosen])
    chosen = chosen[kept[0] : kept[-1] + 1] if len(kept) else chosen[:0]
    # Beats are timed on a band as wide as the noise allows: a narrow band smooths the
    # cycle-to-cycle changes of the period away, a wide one lets noise move the extremes.
    clean = typical > _CLEAN_SWING_TO_NOISE * noise_sd
    timing = narrowband(v.band, fs, f0, *_WIDE_TIMING) if clean else nb
    times = np.array([_extremum_time(timing, peaks[i], period, fs) for i in chosen])
    return BeatRun(f0, times, swings[chosen], _cycle_periods(timing, peaks[chosen], troughs, fs, period))


def beats_away_from_rest(v: RhythmViews, f0: float, core: tuple[int, int], noise_sd: float) -> BeatRun | None:
    """The beats of one rhythm, counted on the side away from where the part rests.

    A beat is an excursion from the rest position and back: n beats have n tops and only
    n - 1 returns between them, so counting the wrong side loses a beat and puts the onset
    half a period late. The displacement's sign is arbitrary (image axes, principal
    component), so both sides are tried: the one with more beats wins; on a tie, the side
    whose turning points lie farther from the level held just before and after the episode.
    """
    found = []
    for side in (v, v.flipped()):
        c = _episode_beats(side, f0, core, noise_sd)
        if c is not None and len(c.times) >= 2:
            c = trimmed(c)
            found.append((len(c.times), _rest_distance(side.smooth, c, side.fs), c))
    if not found:
        return None
    return max(found, key=lambda item: item[:2])[2]


def _rest_distance(y: np.ndarray, c: BeatRun, fs: float) -> float:
    """How far the beat tops lie from the rest level, beyond the returns between them (in
    units of the swing); the rest is the median of ``y`` half a period to a period and a
    quarter before the first beat and after the last."""
    if len(c.times) < 2:
        return 0.0
    period = 1.0 / c.f0

    def at(t_s: np.ndarray) -> np.ndarray:
        return y[np.clip(np.round(np.asarray(t_s) * fs).astype(int), 0, len(y) - 1)]

    near = np.concatenate(
        [
            np.arange(c.times[0] - 1.25 * period, c.times[0] - 0.5 * period, 1.0 / fs),
            np.arange(c.times[-1] + 0.5 * period, c.times[-1] + 1.25 * period, 1.0 / fs),
        ]
    )
    near = near[(near >= 0) & (near < len(y) / fs)]
    if len(near) == 0:
        return 0.0
    rest = float(np.median(at(near)))
    tops = float(np.median(at(c.times)))
    returns = float(np.median(at(0.5 * (c.times[1:] + c.times[:-1]))))
    swing = max(abs(tops - returns), 1e-12)
    return (abs(tops - rest) - abs(returns - rest)) / swing


def _extremum_time(y: np.ndarray, i: int, period: float, fs: float) -> float:
    """Time (s) of the maximum of ``y`` near sample ``i``: the vertex of a least-squares parabola
    over the eighth of a period each side of the highest sample within a quarter period."""
    reach = max(1, int(round(0.25 * period)))
    lo, hi = max(0, i - reach), min(len(y), i + reach + 1)
    top = lo + int(np.argmax(y[lo:hi]))
    half = max(1, int(round(period / 8)))
    a, b = max(0, top - half), min(len(y), top + half + 1)
    if b - a < 3:
        return top / fs
    c2, c1, _ = _parabola_fit(a - top, b - top) @ y[a:b]
    offset = -c1 / (2 * c2) if c2 < 0 else 0.0
    return (top + float(np.clip(offset, -half, half))) / fs


@functools.lru_cache(maxsize=256)
def _parabola_fit(first: int, stop: int) -> np.ndarray:
    """The least-squares quadratic (c2, c1, c0) over samples ``first..stop-1`` as a matrix
    applied to their values (the same for every beat of one rhythm: computed once)."""
    return np.linalg.pinv(np.vander(np.arange(first, stop, dtype=float), 3))


def _cycle_periods(
    y: np.ndarray, peaks: np.ndarray, troughs: np.ndarray, fs: float, period: float
) -> np.ndarray:
    """Each beat's own period (s): from the trough before its peak to the trough after (NaN if
    either is missing or more than 1.6 periods apart). A beat is one cycle, trough to trough."""
    out = np.full(len(peaks), np.nan)
    trough_s: dict[int, float] = {}  # neighbouring beats share a trough: time each once

    def at(j: int) -> float:
        if j not in trough_s:
            trough_s[j] = _extremum_time(-y, troughs[j], period, fs)
        return trough_s[j]

    for k, p in enumerate(peaks):
        i = np.searchsorted(troughs, p)
        if 0 < i < len(troughs) and troughs[i] - troughs[i - 1] <= 1.6 * period:
            out[k] = at(int(i)) - at(int(i) - 1)
    return out


@dataclass
class BeatRun:
    f0: float
    times: np.ndarray  # beat times from the grid start, s
    swings: np.ndarray
    periods: np.ndarray  # each beat's trough-to-trough period, s (NaN where unknown)

    def take(self, index: np.ndarray | slice, f0: float | None = None) -> BeatRun:
        return BeatRun(f0 or self.f0, self.times[index], self.swings[index], self.periods[index])

    @staticmethod
    def joined(a: BeatRun, b: BeatRun) -> BeatRun:
        """Both candidates' beats in time order, a beat closer than half a period to the one
        before it dropped; the rhythm is the beat-weighted mean of the two."""
        both = BeatRun(
            a.f0,
            np.concatenate([a.times, b.times]),
            np.concatenate([a.swings, b.swings]),
            np.concatenate([a.periods, b.periods]),
        ).take(np.argsort(np.concatenate([a.times, b.times]), kind="stable"))
        keep = np.concatenate([[True], np.diff(both.times) > 0.5 / max(a.f0, b.f0)])
        weight = len(a.times) / (len(a.times) + len(b.times))
        return both.take(keep, a.f0 * weight + b.f0 * (1 - weight))


def run_span(c: BeatRun, fs: float, n: int) -> slice:
    period = 1.0 / c.f0
    return slice(max(0, int((c.times[0] - period) * fs)), min(n, int((c.times[-1] + period) * fs) + 1))


def merge_overlapping(cands: list[BeatRun]) -> list[BeatRun]:
    """One episode per stretch of rhythm: overlapping candidates of one rhythm are joined; of
    two different rhythms (say a slow movement grown into the episode's edge), the stronger stays."""
    cands = sorted(cands, key=lambda c: c.times[0])
    merged: list[BeatRun] = []
    for c in cands:
        prev = merged[-1] if merged else None
        if prev is not None and c.times[0] <= prev.times[-1] + 0.75 / prev.f0:
            if max(prev.f0, c.f0) / min(prev.f0, c.f0) <= 1.25:
                merged[-1] = BeatRun.joined(prev, c)
            elif np.sum(c.swings) > np.sum(prev.swings):  # two rhythms: the stronger one holds
                merged[-1] = c
        else:
            merged.append(c)
    return merged


def trimmed(c: BeatRun) -> BeatRun:
    """The one unbroken run of beats, without weak beats at its edges.

    The run is the longest stretch whose beats follow each other at the rhythm's period
    (0.6–1.6×, the period being the median spacing); noise or filter ringing next to an
    episode, or a weaker rhythm merged in, break it. Leading beats under a quarter of the
    typical swing are dropped, and trailing ones under a fifth (clonus fades out).
    """
    if len(c.times) < 3:
        return c
    spacing = np.diff(c.times)
    period = float(np.median(spacing))
    joins = (spacing >= 0.6 * period) & (spacing <= 1.6 * period)
    runs = segments(joins)
    if not runs:
        return c.take(slice(0, 0))
    a, b = max(runs, key=lambda r: float(np.sum(c.swings[r[0] : r[1] + 1])))
    run = c.take(slice(a, b + 1))
    typical = float(np.percentile(run.swings, 75))
    first = np.flatnonzero(run.swings >= 0.25 * typical)[0]
    last = np.flatnonzero(run.swings >= 0.2 * typical)[-1]  # the fading last beats count
    return run.take(slice(int(first), int(last) + 1))
