"""Samples cleaned and put on a grid without touching what the caller passed."""

from __future__ import annotations

import numpy as np
import pytest

from tools.waveform import ClonusSpec, clonus_displacement, sample_times
from vision.clinical.detector import detect_oscillation
from vision.signal.resample import clean_samples, uniform_grid


@pytest.mark.parametrize(
    ("t", "x", "valid", "t_out", "x_out"),
    [
        ([0.0, 0.1, 0.2], [1.0, 2.0, 3.0], None, [0.0, 0.1, 0.2], [1.0, 2.0, 3.0]),
        ([0.2, 0.0, 0.1], [3.0, 1.0, 2.0], None, [0.0, 0.1, 0.2], [1.0, 2.0, 3.0]),  # time order
        ([0.0, 0.1, 0.1, 0.2], [1.0, 2.0, 9.0, 3.0], None, [0.0, 0.1, 0.2], [1.0, 2.0, 3.0]),  # one per time
        ([0.0, 0.1, 0.2], [1.0, np.nan, 3.0], None, [0.0, 0.2], [1.0, 3.0]),  # not finite
        ([0.0, 0.1, 0.2], [1.0, 2.0, 3.0], [True, False, True], [0.0, 0.2], [1.0, 3.0]),  # not tracked
    ],
)
def test_clean_samples(t, x, valid, t_out, x_out):
    tv, xv = clean_samples(np.array(t), np.array(x), None if valid is None else np.array(valid))
    np.testing.assert_allclose(tv, t_out)
    np.testing.assert_allclose(xv, x_out)


def test_a_column_is_taken_as_a_signal():
    _, xv = clean_samples(np.arange(4.0), np.arange(4.0)[:, None])
    assert xv.shape == (4,)


def test_the_detector_leaves_the_callers_arrays_as_they_were():
    t = sample_times(6.0, 30.0, seed=1)
    x = clonus_displacement(ClonusSpec(frequency_hz=6.0, beats=12, onset_s=1.0), t)
    x[10] = np.nan  # the detector drops it, on its own copy
    valid = np.ones(len(t), bool)
    before_t, before_valid = t.copy(), valid.copy()
    detect_oscillation(t, x, valid, site="ankle")
    np.testing.assert_array_equal(valid, before_valid)
    np.testing.assert_array_equal(t, before_t)


def test_uniform_grid_marks_gaps():
    t = np.concatenate([np.arange(0, 1, 1 / 30), np.arange(2, 3, 1 / 30)])
    grid, _, ok, fs = uniform_grid(t, np.sin(t), np.ones(len(t), bool))
    assert fs >= 120
    inside_gap = (grid > 1.1) & (grid < 1.9)
    assert not ok[inside_gap].any() and ok[~inside_gap & (grid < 0.9)].all()
