"""The Cramér–Rao bound that tools.frequency_limits reports is the real floor of the error."""

from __future__ import annotations

import numpy as np
import pytest

from tools.frequency_limits import crlb_sd_hz


def test_the_bound_is_what_a_maximum_likelihood_estimator_reaches():
    rng = np.random.default_rng(0)
    t = np.arange(60) / 60.0  # a second at 60 fps: six cycles of 6 Hz
    clean = np.sin(2 * np.pi * 6.0 * t + 0.3)
    grid = np.linspace(5.0, 7.0, 2001)
    basis = np.exp(-2j * np.pi * grid[:, None] * t[None, :])
    estimates = [grid[np.argmax(np.abs(basis @ (clean + rng.normal(0, 0.5, len(t)))))] for _ in range(300)]
    bound = crlb_sd_hz(t, clean, 0.5, 6.0)
    assert 0.02 < bound < 0.1
    assert float(np.std(estimates)) == pytest.approx(bound, rel=0.25)
