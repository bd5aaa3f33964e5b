"""The exam's events and the look-alikes, on displacement signals with known truth: the
stretch found and timed, clonus related to it, and rhythms that are not clonus named with
their reason (../shared/clinical.md)."""

from __future__ import annotations

import numpy as np
import pytest

from tools.exam import Voluntary
from tools.waveform import ClonusSpec, _smoothstep, clonus_displacement, clonus_truth, sample_times
from vision.clinical.detector import detect_oscillation
from vision.clinical.events import find_movements
from vision.clinical.lookalikes import Evidence
from vision.schema import main_episode
from vision.signal.resample import uniform_grid

STRETCH_AT_S, RISE_S, RELEASE_AT_S = 3.0, 0.2, 7.0


def _held(t: np.ndarray, size_px: float = 40.0) -> np.ndarray:
    """A stretch of ``size_px`` in ``RISE_S`` at ``STRETCH_AT_S``, held, released in 0.15 s."""
    up = _smoothstep((t - STRETCH_AT_S) / RISE_S)
    return size_px * up * (1 - _smoothstep((t - RELEASE_AT_S) / 0.15))


def _noisy(t: np.ndarray, x: np.ndarray, seed: int) -> np.ndarray:
    return x + np.random.default_rng(seed).normal(0, 0.05, len(t))


def _clonus(t: np.ndarray, seed: int, beats: int = 12, hz: float = 6.0) -> tuple[np.ndarray, object]:
    spec = ClonusSpec(frequency_hz=hz, beats=beats, onset_s=STRETCH_AT_S + RISE_S + 0.05, amplitude=3.0,
                      stretch_step=0.0, seed=seed)  # fmt: skip
    return clonus_displacement(spec, t), clonus_truth(spec)


@pytest.mark.parametrize("seed", range(3))
def test_the_stretch_and_its_release_are_found_and_timed(seed):
    t = sample_times(10.0, 30.0, jitter=0.05, seed=seed)
    x = _noisy(t, _held(t) + _clonus(t, seed)[0], seed)
    grid, xg, valid, fs = uniform_grid(t, x[:, None], np.ones(len(t), bool))
    moves = find_movements(grid - grid[0], xg, valid, fs)
    assert [m.kind for m in moves] == ["stretch", "release"]
    stretch, release = moves
    assert stretch.time_s == pytest.approx(STRETCH_AT_S, abs=0.1)
    assert release.time_s == pytest.approx(RELEASE_AT_S, abs=0.1)
    assert stretch.size_px == pytest.approx(41.5, abs=4.0)  # 40 px and half a beat's swing on the hold


def test_an_adjustment_that_comes_back_is_not_a_stretch():
    t = sample_times(8.0, 30.0, seed=1)
    bump = 30.0 * 0.5 * (1 - np.cos(2 * np.pi * np.clip((t - 2.0) / 1.2, 0, 1)))
    grid, xg, valid, fs = uniform_grid(t, _noisy(t, bump, 1)[:, None], np.ones(len(t), bool))
    assert find_movements(grid - grid[0], xg, valid, fs) == []


@pytest.mark.parametrize("seed", range(3))
def test_clonus_is_related_to_the_stretch_that_started_it(seed):
    t = sample_times(10.0, 30.0, jitter=0.05, seed=seed)
    beats, truth = _clonus(t, seed)
    r = detect_oscillation(t, _noisy(t, _held(t) + beats, seed), site="ankle")
    assert r.clonus_detected and not r.lookalikes
    main = main_episode(r.episodes)
    assert main.trigger_s == pytest.approx(STRETCH_AT_S, abs=0.1)
    assert main.latency_s == pytest.approx(truth.start_s - STRETCH_AT_S, abs=0.15)


def _rhythm(t: np.ndarray, r: Voluntary, seed: int) -> np.ndarray:
    return _noisy(t, r.value(t, seed), seed)


@pytest.mark.parametrize("hz", [4.0, 5.5, 7.0])
def test_a_tremor_from_the_first_frame_is_not_clonus(hz):
    t = sample_times(9.0, 30.0, jitter=0.05, seed=3)
    r = detect_oscillation(t, _rhythm(t, Voluntary(0.0, 9.0, hz, 3.0, from_rest=False), 3), site="wrist")
    assert not r.clonus_detected
    assert [k.kind for k in r.lookalikes] == ["tremor"]
    assert "first frame" in r.lookalikes[0].reason


@pytest.mark.parametrize("hz", [2.5, 3.5, 4.2])
def test_tapping_with_no_stretch_is_voluntary(hz):
    t = sample_times(9.0, 30.0, jitter=0.05, seed=4)
    r = detect_oscillation(t, _rhythm(t, Voluntary(2.0, 5.0, hz, 20.0), 4), site="ankle")
    assert not r.clonus_detected
    assert [k.kind for k in r.lookalikes] == ["voluntary"]


def test_a_large_swing_with_no_stretch_is_voluntary_at_any_rate():
    """Beats at a clonus rate, but swinging by a third of the body length: a deliberate movement."""
    t = sample_times(9.0, 30.0, jitter=0.05, seed=5)
    x = _rhythm(t, Voluntary(2.0, 4.0, 5.5, 30.0), 5)
    r = detect_oscillation(t, x, site="wrist", evidence=Evidence(body_length_px=90.0))
    assert not r.clonus_detected
    assert r.lookalikes[0].kind == "voluntary" and "of its length" in r.lookalikes[0].reason
    # The same beats after a stretch larger than them are clonus: the trigger decides.
    r = detect_oscillation(t, x + _held(t, 80.0), site="wrist", evidence=Evidence(body_length_px=90.0))
    assert r.clonus_detected


def test_speech_at_the_jaw_is_not_clonus():
    t = sample_times(9.0, 60.0, jitter=0.05, seed=6)
    r = detect_oscillation(t, _rhythm(t, Voluntary(1.0, 7.0, 4.8, 8.0, 0.3, 0.4), 6), site="jaw")
    assert not r.clonus_detected
    assert [k.kind for k in r.lookalikes] == ["speech"]


@pytest.mark.parametrize("periods_s", [(0.16, 0.27, 0.13, 0.22), (0.25, 0.14, 0.2, 0.3, 0.15)])
def test_a_few_irregular_beats_after_a_stretch_are_pseudoclonus(periods_s):
    t = sample_times(9.0, 30.0, jitter=0.05, seed=7)
    beats, start = np.zeros(len(t)), STRETCH_AT_S + RISE_S + 0.05
    for period in periods_s:
        inside = (t >= start) & (t < start + period)
        beats[inside] = 4.0 * 0.5 * (1 - np.cos(2 * np.pi * (t[inside] - start) / period))
        start += period
    r = detect_oscillation(t, _noisy(t, _held(t) + beats, 7), site="ankle")
    assert not r.clonus_detected
    assert {k.kind for k in r.lookalikes} <= {"pseudoclonus"}


def test_mains_flicker_is_named_where_it_aliases_and_daylight_is_not():
    from vision.clinical.quality import assess, mains_aliases_hz

    assert mains_aliases_hz(30.0) == [10.0]  # 100 Hz; 120 Hz aliases to a standstill
    assert mains_aliases_hz(25.0) == [5.0]  # 120 Hz; 100 Hz to a standstill
    t = np.arange(300) / 30.0
    ok, band = np.ones(len(t), bool), (3.0, 12.0)

    def issues(brightness):
        q = assess(time_s=t, valid=ok, band_hz=band, brightness=brightness, sharpness=np.full(len(t), 50.0),
                   feature_survival=0.9)  # fmt: skip
        return [i for i in q.issues if "flickers" in i]

    mains = 120 * (1 + 0.03 * np.sin(2 * np.pi * 100.0 * np.arange(300) / 30.0))
    assert issues(mains) and "10 Hz" in issues(mains)[0]
    clouds = 120 + np.cumsum(np.random.default_rng(0).normal(0, 0.8, len(t)))  # sun and shade moving
    assert issues(clouds) == []


def test_a_few_regular_beats_are_clonus_marked_for_review():
    """3–5 beats measure their regularity too coarsely to rule out pseudoclonus (python -m
    tools.pseudoclonus_limits): clonus, but the clinician is asked to judge on the video."""
    from vision.clinical.reading import with_exam_findings
    from vision.schema import Quality

    t = sample_times(9.0, 30.0, jitter=0.05, seed=8)
    beats, _ = _clonus(t, 8, beats=4)
    osc = detect_oscillation(t, _noisy(t, _held(t) + beats, 8), site="ankle")
    assert osc.clonus_detected and osc.beat_count == 4
    quality = with_exam_findings(Quality(verdict="good"), osc)
    assert quality.verdict == "review" and any("only 4 beats" in i for i in quality.issues)
    many, _ = _clonus(t, 8, beats=12)
    osc = detect_oscillation(t, _noisy(t, _held(t) + many, 8), site="ankle")
    assert with_exam_findings(Quality(verdict="good"), osc).verdict == "good"
