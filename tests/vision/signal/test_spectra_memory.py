"""The sliding-window spectra of a long recording are worked out a few hundred windows at a
time: the answer is the one worked out at once, and memory does not grow with the windows'
temporaries."""

from __future__ import annotations

import tracemalloc

import numpy as np

import vision.signal.spectra as spectra


def _trace(seconds: float) -> tuple[np.ndarray, float]:
    fs = 30.0
    t = np.arange(int(seconds * fs)) / fs
    rng = np.random.default_rng(1)
    beats = np.where((t > 3) & (t < 9), np.sin(2 * np.pi * 6.0 * t), 0.0)
    return beats + np.where(t > 2.8, 5.0, 0.0) + rng.normal(0, 0.05, len(t)), fs


def test_window_stats_in_blocks_are_those_worked_out_at_once(monkeypatch):
    y, fs = _trace(60.0)
    blocks = spectra.window_stats(y, fs, (3.0, 12.0), 15.0)
    monkeypatch.setattr(spectra, "_WINDOWS_AT_ONCE", 100_000)
    once = spectra.window_stats(y, fs, (3.0, 12.0), 15.0)
    assert np.array_equal(blocks[0].power, once[0].power)
    assert np.array_equal(blocks[0].band_fraction, once[0].band_fraction)
    assert np.array_equal(blocks[1], once[1]) and np.array_equal(blocks[2], once[2])
    beating = (blocks[0].time_s > 4) & (blocks[0].time_s < 8)
    assert np.median(blocks[0].band_fraction[beating]) > 0.5
    assert abs(np.median(blocks[1][beating]) - 6.0) < 0.1


def test_window_stats_memory_beyond_the_spectra_kept_is_flat():
    def peak_mb(seconds: float) -> float:
        y, fs = _trace(seconds)
        tracemalloc.start()
        sg, _, _ = spectra.window_stats(y, fs, (3.0, 12.0), 15.0)
        peak = tracemalloc.get_traced_memory()[1] - sg.power.nbytes
        tracemalloc.stop()
        return peak / 1e6

    assert peak_mb(120.0) < 1.5 * peak_mb(30.0)
