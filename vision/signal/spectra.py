"""Sliding-window spectra: the main in-band rhythm of each window and the share of the
motion energy it holds; the spectrum of one span."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

WINDOW_S = 1.0
STEP_S = 0.05


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


# Windows whose spectra are worked out at a time: a long recording's spectra are not all held
# at once with the temporaries of their analysis (memory flat in the recording's length).
_WINDOWS_AT_ONCE = 256


@dataclass(frozen=True)
class _Bins:
    """The frequency bins the windows are read in, and which of them count for what."""

    n_fft: int
    used: np.ndarray  # of the FFT's bins: those kept (nothing above the motion band or the plot)
    freqs: np.ndarray  # of the kept bins
    band: tuple[float, float]
    motion: np.ndarray  # kept bins in the motion band
    band_idx: np.ndarray  # kept bins in the clonus band
    inner: np.ndarray  # band bins with a neighbour either side (can be a peak)
    keep: np.ndarray  # kept bins that are plotted


def window_stats(
    y: np.ndarray, fs: float, band: tuple[float, float], motion_max_hz: float
) -> tuple[Spectrogram, np.ndarray, np.ndarray]:
    """Per window: the main in-band rhythm and the share of motion energy it holds; its
    fundamental, and the spectral peak that fundamental was found from (its second harmonic
    where the half was preferred)."""
    n_win = int(round(WINDOW_S * fs))
    step = max(1, int(round(STEP_S * fs)))
    n_fft = int(2 ** np.ceil(np.log2(max(n_win, fs / 0.1))))  # ≤ 0.1 Hz bins
    if len(y) < n_win:
        y = np.pad(y, (0, n_win - len(y)))
    starts = np.arange(0, len(y) - n_win + 1, step)
    all_freqs = np.fft.rfftfreq(n_fft, 1.0 / fs)
    lo, hi = band
    # Nothing above the motion band or the plotted range is used: drop those bins first.
    used = all_freqs <= max(motion_max_hz, hi * 1.5, 1.0)
    freqs = all_freqs[used]
    band_idx = np.flatnonzero((freqs >= lo) & (freqs <= hi))
    inner = band_idx[(band_idx > 0) & (band_idx < len(freqs) - 1)]
    motion = (freqs >= 0.3) & (freqs <= motion_max_hz)
    bins = _Bins(n_fft, used, freqs, band, motion, band_idx, inner, freqs <= max(hi * 1.5, 1.0))
    window = signal.windows.hann(n_win, sym=False)
    views = np.lib.stride_tricks.sliding_window_view(y, n_win)
    power = np.empty((int(bins.keep.sum()), len(starts)))  # (n_freq, n_time), filled a block at a time
    fundamental, fraction, peak_hz = (np.empty(len(starts)) for _ in range(3))
    for i in range(0, len(starts), _WINDOWS_AT_ONCE):
        block = slice(i, i + _WINDOWS_AT_ONCE)
        power[:, block], fundamental[block], fraction[block], peak_hz[block] = _windows(
            views[starts[block]], window, bins
        )
    centers = (starts + n_win / 2) / fs
    return Spectrogram(centers, freqs[bins.keep], power, fraction), fundamental, peak_hz


def _windows(
    frames: np.ndarray, window: np.ndarray, bins: _Bins
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Some windows' plotted power (n_freq, n_windows), rhythm's fundamental, share of the motion
    energy, and peak."""
    frames = frames - frames.mean(axis=1, keepdims=True)
    freqs, lo, inner = bins.freqs, bins.band[0], bins.inner
    spec = np.abs(np.fft.rfft(frames * window, n=bins.n_fft, axis=1)[:, bins.used]) ** 2
    strongest = bins.band_idx[np.argmax(spec[:, bins.band_idx], axis=1)]
    fundamental, fraction = _rhythm(spec, freqs, strongest, lo, bins.motion)
    peak_hz = freqs[strongest]
    # The spill of the examiner's stretch (a step) falls steadily from below the band and can
    # outweigh the rhythm at the band's lower edge, which then fails the valley test. Where the
    # strongest bin holds no share (no valley below it, or no more than noise would), the
    # strongest bin above both its neighbours (a true peak) is tried instead.
    none = np.flatnonzero(fraction == 0)  # only these windows are looked at again
    unshared = spec[none]
    is_peak = (unshared[:, inner] >= unshared[:, inner - 1]) & (unshared[:, inner] >= unshared[:, inner + 1])
    has_peak = is_peak.any(axis=1)
    retry = none[has_peak]
    if len(retry):
        peaked = np.where(is_peak[has_peak], unshared[has_peak][:, inner], -1.0)
        idx2 = inner[np.argmax(peaked, axis=1)]
        f2, frac2 = _rhythm(unshared[has_peak], freqs, idx2, lo, bins.motion)
        better = frac2 > 0
        fundamental[retry[better]], fraction[retry[better]] = f2[better], frac2[better]
        peak_hz[retry[better]] = freqs[idx2[better]]
    return spec[:, bins.keep].T, fundamental, fraction, peak_hz


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


def span_spectrum(
    y: np.ndarray, fs: float, span_s: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The Hann-windowed power spectrum of ``y`` over ``span_s`` (s from its first sample;
    default: all of it), at 0.05 Hz or finer: (frequencies in Hz, power)."""
    seg = y
    if span_s is not None:
        a = max(0, int(span_s[0] * fs))
        b = min(len(y), int(span_s[1] * fs) + 1)
        seg = y[a:b]
    n_fft = int(2 ** np.ceil(np.log2(max(len(seg), fs / 0.05))))
    win = signal.windows.hann(len(seg), sym=False) if len(seg) > 1 else np.ones(len(seg))
    power = np.abs(np.fft.rfft(seg * win, n=n_fft)) ** 2
    return np.fft.rfftfreq(n_fft, 1.0 / fs), power
