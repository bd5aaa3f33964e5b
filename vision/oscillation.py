"""Spectral oscillation detector: displacement over time in, clinical result fields out.

Works from each sample's own timestamp (phone video has a variable frame rate): samples are
interpolated onto a fine uniform grid with a cubic spline. Episodes are found where one
rhythm in the site's band holds most of the motion energy; beats are the cycles of that
rhythm, timed to sub-sample precision; the frequency is the median of the per-beat rates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from scipy import interpolate, signal

from vision.schema import Episode, Grades, main_episode
from vision.settings import DetectorSettings

_WINDOW_S = 1.0
_STEP_S = 0.05
_MIN_GRID_HZ = 120.0
# Band-pass (low × f0, high × f0, order) on which the beats of a clean episode are timed; others
# are timed on the narrow band that found them.
_WIDE_TIMING = (0.4, 3.0, 2)
_SHARE_FLOOR = 0.4  # the rhythm's share of the motion energy at which confidence is zero
_CLEAN_SWING_TO_NOISE = 45.0  # typical swing over the narrow-band noise SD (about 17 dB SNR)


@dataclass
class Spectrum:
    frequency_hz: np.ndarray
    power: np.ndarray


@dataclass
class Spectrogram:
    time_s: np.ndarray
    frequency_hz: np.ndarray
    power: np.ndarray  # (n_freq, n_time)
    band_fraction: np.ndarray  # (n_time,) share of motion energy held by the main rhythm


@dataclass
class OscillationResult:
    clonus_detected: bool
    frequency_hz: float | None
    beat_count: int
    sustained: bool | None
    episodes: list[Episode]
    amplitude_pp: float | None
    regularity: float | None
    confidence: float
    grades: Grades
    # For plots and the overlay.
    time_s: np.ndarray = field(repr=False)
    displacement: np.ndarray = field(repr=False)
    filtered: np.ndarray = field(repr=False)
    spectrum: Spectrum = field(repr=False)
    spectrogram: Spectrogram = field(repr=False)
    band_hz: tuple[float, float] = (3.0, 12.0)
    sample_rate_hz: float = 0.0


def episode_peak_to_peak(
    t_s: np.ndarray, values: np.ndarray, valid: np.ndarray, episode: Episode
) -> float | None:
    """The median beat-by-beat peak-to-peak of another measure of the same motion over an
    episode (e.g. the ankle's angle, in its own unit): band-passed about the episode's rate,
    then each beat's swing within half a period either side of it."""
    t, v = np.asarray(t_s, float), np.asarray(values, float)
    ok = np.asarray(valid, bool) & np.isfinite(t) & np.isfinite(v)
    f = episode.frequency_hz
    if ok.sum() < 8 or not episode.beat_times_s or f <= 0:
        return None
    grid, vg, _, fs = uniform_grid(t, v, ok)
    band = narrowband(vg - vg.mean(), fs, f, 0.5, 2.5, order=2)
    swings = []
    for beat in episode.beat_times_s:
        sel = np.abs(grid - beat) <= 0.5 / f
        if sel.sum() >= 3:
            swings.append(float(np.ptp(band[sel])))
    return float(np.median(swings)) if swings else None


def unit_scaled(y: np.ndarray) -> np.ndarray:
    """``y`` divided by its robust peak (99.5th percentile of |y|), for drawing on a fixed scale."""
    y = np.asarray(y, dtype=float)
    peak = float(np.percentile(np.abs(y), 99.5)) if len(y) else 0.0
    return y / peak if peak > 0 else np.zeros_like(y)


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


def _principal_component(x: np.ndarray, fs: float, band: tuple[float, float]) -> np.ndarray:
    """Project several displacement components onto the axis that oscillates most in band."""
    if x.ndim == 1 or x.shape[1] == 1:
        return x.reshape(-1)
    sos = signal.butter(4, band, btype="bandpass", fs=fs, output="sos")
    filtered = signal.sosfiltfilt(sos, x - x.mean(axis=0), axis=0)
    _, _, vt = np.linalg.svd(filtered, full_matrices=False)
    axis = vt[0]
    return (x - x.mean(axis=0)) @ axis


def _window_stats(
    y: np.ndarray, fs: float, band: tuple[float, float], motion_max_hz: float
) -> tuple[Spectrogram, np.ndarray, np.ndarray]:
    """Per window: the main in-band rhythm and the share of motion energy it holds; its
    fundamental, and the spectral peak that fundamental was found from (its second harmonic
    where the half was preferred)."""
    n_win = int(round(_WINDOW_S * fs))
    step = max(1, int(round(_STEP_S * fs)))
    n_fft = int(2 ** np.ceil(np.log2(max(n_win, fs / 0.1))))  # ≤ 0.1 Hz bins
    if len(y) < n_win:
        y = np.pad(y, (0, n_win - len(y)))
    starts = np.arange(0, len(y) - n_win + 1, step)
    frames = np.lib.stride_tricks.sliding_window_view(y, n_win)[starts]
    frames = frames - frames.mean(axis=1, keepdims=True)
    window = signal.windows.hann(n_win, sym=False)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / fs)
    lo, hi = band
    # Nothing above the motion band or the plotted range is used: drop those bins first.
    used = freqs <= max(motion_max_hz, hi * 1.5, 1.0)
    freqs = freqs[used]
    spec = np.abs(np.fft.rfft(frames * window, n=n_fft, axis=1)[:, used]) ** 2
    in_band = (freqs >= lo) & (freqs <= hi)
    motion = (freqs >= 0.3) & (freqs <= motion_max_hz)
    band_idx = np.flatnonzero(in_band)
    strongest = band_idx[np.argmax(spec[:, in_band], axis=1)]
    fundamental, fraction = _rhythm(spec, freqs, strongest, lo, motion)
    peak_hz = freqs[strongest]
    # The spill of the examiner's stretch (a step) falls steadily from below the band and can
    # outweigh the rhythm at the band's lower edge, which then fails the valley test. Where the
    # strongest bin holds no share (no valley below it, or no more than noise would), the
    # strongest bin above both its neighbours (a true peak) is tried instead.
    inner = band_idx[(band_idx > 0) & (band_idx < len(freqs) - 1)]
    none = np.flatnonzero(fraction == 0)  # only these windows are looked at again
    unshared = spec[none]
    is_peak = (unshared[:, inner] >= unshared[:, inner - 1]) & (unshared[:, inner] >= unshared[:, inner + 1])
    has_peak = is_peak.any(axis=1)
    retry = none[has_peak]
    if len(retry):
        peaked = np.where(is_peak[has_peak], unshared[has_peak][:, inner], -1.0)
        idx2 = inner[np.argmax(peaked, axis=1)]
        f2, frac2 = _rhythm(unshared[has_peak], freqs, idx2, lo, motion)
        better = frac2 > 0
        fundamental[retry[better]], fraction[retry[better]] = f2[better], frac2[better]
        peak_hz[retry[better]] = freqs[idx2[better]]
    centers = (starts + n_win / 2) / fs
    keep = freqs <= max(hi * 1.5, 1.0)
    sg = Spectrogram(centers, freqs[keep], spec[:, keep].T, fraction)
    return sg, fundamental, peak_hz


def _rhythm(
    spec: np.ndarray, freqs: np.ndarray, peak_idx: np.ndarray, lo: float, motion: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per window (row of ``spec``), the rhythm whose peak is at ``peak_idx``: its fundamental
    and the share of the motion energy it holds (0 where it is no spectral peak)."""
    peak_f = freqs[peak_idx]
    # Prefer the fundamental when the peak is its second harmonic.
    half_f = peak_f / 2.0
    half_idx = np.clip(np.searchsorted(freqs, half_f), 0, len(freqs) - 1)
    rows = np.arange(len(spec))
    # ... but only when the half is a spectral peak of its own, not the spill of a step or of a
    # short burst's wide main lobe.
    reach = max(1, int(round(0.75 / (freqs[1] - freqs[0]))))
    side = np.maximum(
        spec[rows, np.clip(half_idx - reach, 0, len(freqs) - 1)],
        spec[rows, np.clip(half_idx + reach, 0, len(freqs) - 1)],
    )
    use_half = (
        (half_f >= lo)
        & (spec[rows, half_idx] > 0.25 * spec[rows, peak_idx])
        & (spec[rows, half_idx] > 1.5 * side)
    )
    fundamental = np.where(use_half, freqs[half_idx], peak_f)
    held_mask = np.zeros(spec.shape, bool)
    for harmonic in (1.0, 2.0, 3.0):
        fc = fundamental * harmonic
        held_mask |= np.abs(freqs[None, :] - fc[:, None]) <= np.maximum(0.2 * fundamental, 1.5)[:, None]
    # Motion energy counts from half the rhythm's frequency up: the examiner's stretch (a step)
    # and drift sit lower and are judged by the valley test below.
    motion_rows = motion[None, :] & (freqs[None, :] >= 0.5 * fundamental[:, None])
    held_mask &= motion_rows
    held = np.sum(spec * held_mask, axis=1)
    total = np.sum(spec * motion_rows, axis=1) + 1e-30
    # Share of the motion energy above what white noise would put in the same bins.
    white = held_mask.sum(axis=1) / np.maximum(motion_rows.sum(axis=1), 1)
    fraction = np.clip((held / total - white) / (1.0 - white), 0.0, 1.0)
    # A rhythm is a true spectral peak with a valley below it; a step or a slow movement has
    # energy falling steadily from below the band instead.
    fund_idx = np.clip(np.searchsorted(freqs, fundamental), 0, len(freqs) - 1)
    valley = (freqs[None, :] >= 0.5 * fundamental[:, None]) & (freqs[None, :] <= 0.85 * fundamental[:, None])
    valley_min = np.min(np.where(valley, spec, np.inf), axis=1)
    peak_power = np.maximum(spec[rows, fund_idx], spec[rows, peak_idx] * (~use_half))
    return fundamental, np.where(peak_power > 2.0 * valley_min, fraction, 0.0)


def _segments(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True as (start, stop) index pairs."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2], strict=True))


def narrowband(
    y: np.ndarray, fs: float, f0: float, lo_x: float = 0.7, hi_x: float = 1.45, order: int = 3
) -> np.ndarray:
    """``y`` (along its first axis) band-passed around the rhythm ``f0``, from ``lo_x`` to
    ``hi_x`` times it."""
    lo, hi = lo_x * f0, min(hi_x * f0, 0.45 * fs)
    sos = signal.butter(order, (lo, hi), btype="bandpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, y, axis=0)


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
class _Views:
    """One rhythm's views of the displacement on the uniform grid (``fs``)."""

    nb: np.ndarray  # narrow band around the rhythm: finds the beats
    band: np.ndarray  # the site's band: times them when the episode is clean
    smooth: np.ndarray  # low-passed only (the stretch kept): does a beat fall back?
    fs: float

    def flipped(self) -> _Views:
        return _Views(-self.nb, -self.band, -self.smooth, self.fs)


def _episode_beats(v: _Views, f0: float, core: tuple[int, int], noise_sd: float) -> _Candidate | None:
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
    return _Candidate(f0, times, swings[chosen], _cycle_periods(timing, peaks[chosen], troughs, fs, period))


def _beats_away_from_rest(v: _Views, f0: float, core: tuple[int, int], noise_sd: float) -> _Candidate | None:
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
            c = _trimmed(c)
            found.append((len(c.times), _rest_distance(side.smooth, c, side.fs), c))
    if not found:
        return None
    return max(found, key=lambda item: item[:2])[2]


def _rest_distance(y: np.ndarray, c: _Candidate, fs: float) -> float:
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


def _grades(duration_s: float, detected: bool, sustained: bool | None) -> Grades:
    if not detected:
        return Grades(scats_clonus=0, tardieu=None)
    scats = 1 if duration_s < 3.0 else (2 if duration_s <= 10.0 else 3)
    tardieu = 4 if duration_s > 10.0 else 3
    return Grades(scats_clonus=scats, tardieu=tardieu)


def detect_oscillation(
    t_s: np.ndarray,
    displacement: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    site: str | None = "ankle",
    settings: DetectorSettings | None = None,
) -> OscillationResult:
    """Find clonus in a displacement signal sampled at times ``t_s`` (seconds, may be uneven).

    ``displacement`` is (n,) or (n, k) components in any unit; ``valid`` marks samples that
    were tracked. Returns the clinical fields and the arrays the plots need.
    """
    settings = settings or DetectorSettings()
    t = np.asarray(t_s, dtype=float)
    x = np.asarray(displacement, dtype=float)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    valid = np.ones(len(t), bool) if valid is None else np.asarray(valid, bool)
    valid &= np.isfinite(t) & (np.isfinite(x) if x.ndim == 1 else np.all(np.isfinite(x), axis=1))
    order = np.argsort(t[valid], kind="stable")
    tv = t[valid][order]
    xv = x[valid][order]
    uniq = np.concatenate([[True], np.diff(tv) > 0]) if len(tv) else np.array([], bool)
    tv, xv = tv[uniq], xv[uniq]
    band = settings.band_for(site)
    if len(tv) < 8 or tv[-1] - tv[0] < 0.5:
        return _empty_result(band)

    grid, xg, grid_valid, fs = uniform_grid(tv, xv, np.ones(len(tv), bool))
    source_rate = 1.0 / float(np.median(np.diff(tv)))
    hi = min(band[1], 0.45 * source_rate)
    band_eff = (band[0], max(hi, band[0] + 0.5))
    y = _principal_component(xg, fs, band_eff)
    y = y - y.mean()
    sos = signal.butter(
        4,
        (0.7 * band_eff[0], min(1.5 * band_eff[1], 0.45 * fs)),
        btype="bandpass",
        fs=fs,
        output="sos",
    )
    y_band = signal.sosfiltfilt(sos, y)
    lp = signal.butter(4, min(1.5 * band_eff[1], 0.45 * fs), btype="lowpass", fs=fs, output="sos")
    y_lp = signal.sosfiltfilt(lp, y)
    y_band[~grid_valid] = 0.0

    sg, fundamental, peak_hz = _window_stats(y, fs, band_eff, 0.5 * source_rate)
    rhythmic = sg.band_fraction >= settings.min_band_fraction
    # Noise is measured only on samples well away from any rhythmic window's centre.
    quiet_grid = grid_valid & ~_near(sg.time_s[rhythmic], np.arange(len(grid)) / fs, 0.6)

    def _beats_at(f0: float, core: tuple[int, int]) -> _Candidate | None:
        nb = narrowband(y_band, fs, f0)
        noise_sd = float(np.std(nb[quiet_grid])) if quiet_grid.any() else 0.0
        # Whether a beat rises and falls back is judged on the displacement smoothed to the
        # rhythm (up to its third harmonic), so that noise cannot fake the fall of a step.
        smooth = signal.butter(2, min(3.0 * f0, 0.45 * fs), btype="lowpass", fs=fs, output="sos")
        views = _Views(nb, y_band, signal.sosfiltfilt(smooth, y_lp), fs)
        return _beats_away_from_rest(views, f0, core, noise_sd)

    candidates = []
    for w0, w1 in _merge_runs(_segments(rhythmic), gap=int(round(0.3 / _STEP_S))):
        f0 = float(np.median(fundamental[w0:w1]))
        # The core lies well inside the rhythmic windows; the edges are grown beat by beat.
        c0, c1 = float(sg.time_s[w0]), float(sg.time_s[w1 - 1])
        shrink = min(0.5 * _WINDOW_S, 0.45 * (c1 - c0))
        c0, c1 = c0 + shrink, c1 - shrink
        if c1 - c0 < 1.0 / f0:
            mid = 0.5 * (c0 + c1)
            c0, c1 = mid - 0.75 / f0, mid + 0.75 / f0
        a = max(0, int(c0 * fs))
        b = min(len(grid), int(c1 * fs) + 1)
        found = _beats_at(f0, (a, b))
        # The half of a peak is preferred as the fundamental where it stands out, but a short
        # burst beside the examiner's stretch can raise a bump there too: where the half finds
        # too few beats, the peak itself is tried (each then passes the same checks).
        f_peak = float(np.median(peak_hz[w0:w1]))
        if f_peak > 1.5 * f0 and (found is None or len(found.times) < settings.min_beats):
            at_peak = _beats_at(f_peak, (a, b))
            if at_peak is not None and len(at_peak.times) > (len(found.times) if found else 0):
                found = at_peak
        if found is not None and len(found.times) >= 2:
            candidates.append(found)
    candidates = [c for c in map(_trimmed, _merge_overlapping(candidates)) if len(c.times) >= 2]
    outside = grid_valid.copy()
    for c in candidates:
        outside[_span(c, fs, len(grid))] = False
    episodes: list[Episode] = []
    cvs: list[float] = []
    amplitudes: list[float] = []
    for c in candidates:
        # Peak-to-peak spacings and the inner beats' own trough-to-trough periods (the first
        # and last beats' outer troughs run into the stretch and the rest after the episode).
        inner = c.periods[1:-1]
        periods = np.concatenate([inner[np.isfinite(inner)], np.diff(c.times)])
        keep_f = periods[(periods > 0.5 / c.f0) & (periods < 2.0 / c.f0)]
        freq = float(np.median(1.0 / keep_f)) if len(keep_f) else c.f0
        cv = float(np.std(keep_f) / np.mean(keep_f)) if len(keep_f) > 1 else 0.0
        count = len(c.times)
        if count < settings.min_beats or cv > settings.max_period_cv:
            continue
        if not _stands_out(c, y_band, fs, outside, sg, grid[0], settings):
            continue
        episode = Episode(
            start_s=round(float(c.times[0] - 0.4 / freq) + grid[0], 4),
            end_s=round(float(c.times[-1] + 0.6 / freq) + grid[0], 4),
            beat_count=count,
            frequency_hz=round(freq, 4),
            beat_times_s=[round(float(v) + grid[0], 4) for v in c.times],
            sustained=count >= settings.sustained_min_beats,
        )
        # A rhythm holding too little of the motion over its own span (say steps and drift
        # that line up for a few cycles) has no confidence: it is not reported.
        if _rhythm_share(sg, episode, grid[0]) <= _SHARE_FLOOR:
            continue
        episodes.append(episode)
        cvs.append(cv)
        amplitudes.append(float(np.median(c.swings)))

    f_axis, power = _episode_spectrum(y_band, fs, episodes, grid[0])
    detected = bool(episodes)
    main = main_episode(episodes)
    main_i = episodes.index(main) if main else None
    confidence = _confidence(sg, episodes, grid[0], detected)
    duration = (main.end_s - main.start_s) if main else 0.0
    return OscillationResult(
        clonus_detected=detected,
        frequency_hz=main.frequency_hz if main else None,
        beat_count=main.beat_count if main else 0,
        sustained=main.sustained if main else (False if len(tv) else None),
        episodes=episodes,
        amplitude_pp=round(amplitudes[main_i], 6) if main_i is not None else None,
        regularity=round(max(0.0, 1.0 - cvs[main_i]), 4) if main_i is not None else None,
        confidence=confidence,
        grades=_grades(duration, detected, main.sustained if main else None),
        time_s=grid,
        displacement=y,
        filtered=y_band,
        spectrum=Spectrum(f_axis, power),
        spectrogram=Spectrogram(sg.time_s + grid[0], sg.frequency_hz, sg.power, sg.band_fraction),
        band_hz=band_eff,
        sample_rate_hz=fs,
    )


@dataclass
class _Candidate:
    f0: float
    times: np.ndarray  # beat times from the grid start, s
    swings: np.ndarray
    periods: np.ndarray  # each beat's trough-to-trough period, s (NaN where unknown)

    def take(self, index: np.ndarray | slice, f0: float | None = None) -> _Candidate:
        return _Candidate(f0 or self.f0, self.times[index], self.swings[index], self.periods[index])

    @staticmethod
    def joined(a: _Candidate, b: _Candidate) -> _Candidate:
        """Both candidates' beats in time order, a beat closer than half a period to the one
        before it dropped; the rhythm is the beat-weighted mean of the two."""
        both = _Candidate(
            a.f0,
            np.concatenate([a.times, b.times]),
            np.concatenate([a.swings, b.swings]),
            np.concatenate([a.periods, b.periods]),
        ).take(np.argsort(np.concatenate([a.times, b.times]), kind="stable"))
        keep = np.concatenate([[True], np.diff(both.times) > 0.5 / max(a.f0, b.f0)])
        weight = len(a.times) / (len(a.times) + len(b.times))
        return both.take(keep, a.f0 * weight + b.f0 * (1 - weight))


def _span(c: _Candidate, fs: float, n: int) -> slice:
    period = 1.0 / c.f0
    return slice(max(0, int((c.times[0] - period) * fs)), min(n, int((c.times[-1] + period) * fs) + 1))


def _merge_overlapping(cands: list[_Candidate]) -> list[_Candidate]:
    """One episode per stretch of rhythm: overlapping candidates of one rhythm are joined; of
    two different rhythms (say a slow movement grown into the episode's edge), the stronger stays."""
    cands = sorted(cands, key=lambda c: c.times[0])
    merged: list[_Candidate] = []
    for c in cands:
        prev = merged[-1] if merged else None
        if prev is not None and c.times[0] <= prev.times[-1] + 0.75 / prev.f0:
            if max(prev.f0, c.f0) / min(prev.f0, c.f0) <= 1.25:
                merged[-1] = _Candidate.joined(prev, c)
            elif np.sum(c.swings) > np.sum(prev.swings):  # two rhythms: the stronger one holds
                merged[-1] = c
        else:
            merged.append(c)
    return merged


def _trimmed(c: _Candidate) -> _Candidate:
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
    runs = _segments(joins)
    if not runs:
        return c.take(slice(0, 0))
    a, b = max(runs, key=lambda r: float(np.sum(c.swings[r[0] : r[1] + 1])))
    run = c.take(slice(a, b + 1))
    typical = float(np.percentile(run.swings, 75))
    first = np.flatnonzero(run.swings >= 0.25 * typical)[0]
    last = np.flatnonzero(run.swings >= 0.2 * typical)[-1]  # the fading last beats count
    return run.take(slice(int(first), int(last) + 1))


def _stands_out(
    c: _Candidate,
    y_band: np.ndarray,
    fs: float,
    outside: np.ndarray,
    sg: Spectrogram,
    t0: float,
    settings: DetectorSettings,
) -> bool:
    """The rhythm must stand out of the noise measured away from every episode.

    With at least a second of quiet recording the episode's narrow-band RMS must exceed the
    quiet part's by ``min_snr_db``; when the rhythm fills the recording, its windows must hold
    most of the motion energy instead.
    """
    nb = narrowband(y_band, fs, c.f0)
    span = _span(c, fs, len(y_band))
    if outside.sum() >= fs * 1.0:
        noise_rms = float(np.sqrt(np.mean(nb[outside] ** 2)))
        rhythm_rms = float(np.sqrt(np.mean(nb[span] ** 2)))
        if noise_rms <= 0:
            return rhythm_rms > 0
        return 20 * np.log10(rhythm_rms / noise_rms) >= settings.min_snr_db
    times = sg.time_s
    inside = (times >= span.start / fs) & (times <= span.stop / fs)
    return bool(inside.any() and np.median(sg.band_fraction[inside]) >= 0.75)


def _near(centers_s: np.ndarray, t_s: np.ndarray, reach_s: float) -> np.ndarray:
    """Which times lie within ``reach_s`` of any centre."""
    if len(centers_s) == 0:
        return np.zeros(len(t_s), bool)
    idx = np.clip(np.searchsorted(centers_s, t_s), 1, max(1, len(centers_s) - 1))
    lo = centers_s[np.clip(idx - 1, 0, len(centers_s) - 1)]
    hi = centers_s[np.clip(idx, 0, len(centers_s) - 1)]
    return (np.abs(t_s - lo) <= reach_s) | (np.abs(t_s - hi) <= reach_s)


def _merge_runs(runs: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] <= gap:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _episode_spectrum(
    y_band: np.ndarray, fs: float, episodes: list[Episode], t0: float
) -> tuple[np.ndarray, np.ndarray]:
    if episodes:
        main = main_episode(episodes)
        a = max(0, int((main.start_s - t0) * fs))
        b = min(len(y_band), int((main.end_s - t0) * fs) + 1)
        seg = y_band[a:b]
    else:
        seg = y_band
    n_fft = int(2 ** np.ceil(np.log2(max(len(seg), fs / 0.05))))
    win = signal.windows.hann(len(seg), sym=False) if len(seg) > 1 else np.ones(len(seg))
    power = np.abs(np.fft.rfft(seg * win, n=n_fft)) ** 2
    return np.fft.rfftfreq(n_fft, 1.0 / fs), power


def _confidence(sg: Spectrogram, episodes: list[Episode], t0: float, detected: bool) -> float:
    if not detected:
        peak = float(np.max(sg.band_fraction)) if len(sg.band_fraction) else 0.0
        return round(float(np.clip((1.0 - peak) / 0.6, 0.0, 1.0)), 3)
    main = main_episode(episodes)
    share = _rhythm_share(sg, main, t0)
    beats = min(1.0, main.beat_count / 6.0)
    return round(float(np.clip((share - _SHARE_FLOOR) / 0.5, 0.0, 1.0) * (0.6 + 0.4 * beats)), 3)


def _rhythm_share(sg: Spectrogram, episode: Episode, t0: float) -> float:
    """The median share of the motion energy the rhythm holds over the episode's windows."""
    inside = (sg.time_s + t0 >= episode.start_s) & (sg.time_s + t0 <= episode.end_s)
    return float(np.median(sg.band_fraction[inside])) if inside.any() else 0.5


def _empty_result(band: tuple[float, float]) -> OscillationResult:
    empty = np.zeros(0)
    return OscillationResult(
        clonus_detected=False,
        frequency_hz=None,
        beat_count=0,
        sustained=None,
        episodes=[],
        amplitude_pp=None,
        regularity=None,
        confidence=0.0,
        grades=Grades(scats_clonus=None, tardieu=None),
        time_s=empty,
        displacement=empty,
        filtered=empty,
        spectrum=Spectrum(empty, empty),
        spectrogram=Spectrogram(empty, empty, np.zeros((0, 0)), empty),
        band_hz=band,
    )
