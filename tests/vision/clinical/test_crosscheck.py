"""The landmarks' second measure of the main episode: agreement within the landmark signal's
resolution, review where the two disagree, silence where the landmarks are too coarse to tell."""

from __future__ import annotations

import numpy as np
import pytest

from vision.clinical.crosscheck import VISIBLE, cross_check, landmark_frames, with_second_signal
from vision.locate.trajectory import LandmarkTrack
from vision.schema import Episode, Quality

RATE_HZ = 30.0
ONSET_S = 0.5


def _episode(f_hz: float, beats: int = 15) -> Episode:
    return Episode(start_s=ONSET_S, end_s=ONSET_S + beats / f_hz, beat_count=beats, frequency_hz=f_hz)


def _track(f_hz: float | None, pp_px: float, noise_px: float, *, seconds: float = 3.0, seed: int = 0,
           found: float = 1.0) -> LandmarkTrack:  # fmt: skip
    """Landmark offsets: still until the onset, then beats at ``f_hz`` (peak to peak ``pp_px``,
    vertical), plus jitter of RMS ``noise_px`` on each axis."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    xy = rng.normal(0.0, noise_px, (len(t), 2)) + np.array([40.0, 120.0])
    if f_hz is not None:
        xy[:, 1] += np.where(t >= ONSET_S, pp_px / 2 * np.sin(2 * np.pi * f_hz * (t - ONSET_S)), 0.0)
    valid = rng.random(len(t)) < found
    xy[~valid] = np.nan
    return LandmarkTrack("face", t, xy, valid)


def test_the_same_rhythm_in_the_landmarks_agrees_and_gives_its_rate():
    check = cross_check(_episode(6.5), 6.0, _track(6.5, 3.0, 0.4), site="jaw")
    assert check.agrees is True
    assert check.landmark_frequency_hz == pytest.approx(6.5, abs=0.15)
    assert check.flow_frequency_hz == 6.5 and check.rate_hz == pytest.approx(RATE_HZ, rel=0.01)
    assert check.tolerance_hz == pytest.approx(1 / 2.967, abs=0.01)  # 1 / the signal's duration
    assert check.landmark_peak_to_peak_px == pytest.approx(3.0, rel=0.15)
    assert check.landmark_noise_px == pytest.approx(0.4, rel=0.2)
    assert with_second_signal(Quality(verdict="good"), check).verdict == "good"


def test_another_rhythm_in_the_landmarks_is_for_review_and_says_both_rates():
    """The flow measured 6.5 Hz; the landmarks of the part beat at 4 Hz: the region may hold
    something else that beats (the examiner's hand, another limb)."""
    check = cross_check(_episode(6.5), 6.0, _track(4.0, 3.0, 0.4), site="jaw")
    assert check.agrees is False
    assert check.landmark_frequency_hz == pytest.approx(4.0, abs=0.15)
    quality = with_second_signal(Quality(verdict="good"), check)
    assert quality.verdict == "review"
    assert "4.00 Hz" in quality.issues[-1] and "6.50 Hz" in quality.issues[-1]


def test_beats_the_landmarks_would_show_but_do_not_are_for_review():
    noise = 0.2
    check = cross_check(_episode(6.5), VISIBLE * noise * 1.5, _track(None, 0.0, noise), site="jaw")
    assert check.agrees is False and check.landmark_frequency_hz is None
    assert with_second_signal(Quality(verdict="good"), check).verdict == "review"


def test_landmarks_too_coarse_for_the_beats_cannot_tell_and_leave_the_verdict():
    """Pose landmarks jitter by pixels: beats of 3 px are lost in them, which says nothing."""
    check = cross_check(_episode(6.5), 3.0, _track(None, 0.0, 1.5), site="ankle")
    assert check.agrees is None and "too coarse" in check.note
    assert with_second_signal(Quality(verdict="good"), check).verdict == "good"


def test_a_part_the_landmarks_rarely_find_gives_no_second_measure():
    check = cross_check(_episode(6.5), 6.0, _track(6.5, 3.0, 0.4, found=0.3), site="jaw")
    assert check.agrees is None and "found the part in only" in check.note
    assert check.landmark_frequency_hz is None


def test_a_failed_verdict_stays_failed():
    check = cross_check(_episode(6.5), 6.0, _track(4.0, 3.0, 0.4), site="jaw")
    assert with_second_signal(Quality(verdict="failed"), check).verdict == "failed"


@pytest.mark.parametrize(
    ("fps", "f_hz", "step"), [(30.0, 6.0, 2), (30.0, 7.5, 1), (60.0, 6.0, 4), (30.0, 3.5, 3)]
)
def test_landmarks_are_read_at_a_rate_that_resolves_the_rhythm(fps, f_hz, step):
    """At least 2.5 samples a second per hertz: the detector's band stops at 0.45 of the rate."""
    t = np.arange(int(10 * fps)) / fps
    episode = Episode(start_s=3.0, end_s=8.0, beat_count=int(5 * f_hz), frequency_hz=f_hz)
    start, stop, got = landmark_frames(t, episode)
    assert got == step and fps / got >= 2.5 * f_hz
    assert t[start] == pytest.approx(2.5, abs=1 / fps)  # from half a second before the onset
    assert t[stop - 1] == pytest.approx(5.5, abs=1 / fps)  # through the episode's first 2.5 s
