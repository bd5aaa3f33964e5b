"""The spectral oscillation detector against synthetic signals with known truth (issue #4)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.signal_cases import case_table, noisy_case
from tools.waveform import ClonusSpec, clonus_displacement, clonus_truth, sample_times
from vision.clinical.detector import detect_oscillation
from vision.schema import main_episode
from vision.settings import DetectorSettings


def _case(f, beats, fps, snr_db, seed, **kwargs):
    case = noisy_case(f, beats, fps, snr_db, seed, **kwargs)
    return case.t_s, case.x, case.truth


def _run(rows, *, allow_misses=False):
    freq_err, count_err, onset_err = [], [], []
    for row in rows:
        t, x, truth = _case(**row)
        r = detect_oscillation(t, x, site="ankle")
        if allow_misses and not r.clonus_detected:
            continue
        assert r.clonus_detected, row
        freq_err.append(abs(r.frequency_hz - truth.frequency_hz))
        count_err.append(r.beat_count - truth.beat_count)
        main = main_episode(r.episodes)
        onset_err.append(abs(main.start_s - truth.start_s) * truth.frequency_hz)  # in periods
    return np.array(freq_err), np.array(count_err), np.array(onset_err)


ISSUE_4_GAP = (
    "issue #4's worst case (0.15 Hz) is not met for 3–4 beat episodes at 10 dB or at 3–4 samples "
    "a cycle (0.17–0.25 Hz here); over other seeds it is below the Cramér–Rao bound and the "
    "truth's own definition: python -m tools.frequency_limits"
)


@pytest.mark.slow
def test_frequency_median_at_20_and_10_db():
    for snr_db, seed in ((20.0, 0), (10.0, 1)):
        freq_err, _, _ = _run(case_table(120, snr_db=snr_db, seed=seed), allow_misses=True)
        assert len(freq_err) >= 0.95 * 120  # sensitivity (issue #5 target)
        assert np.median(freq_err) <= 0.05


@pytest.mark.slow
def test_accuracy_at_20_db_meets_the_issue_targets():
    freq_err, count_err, onset_err = _run(case_table(120, snr_db=20.0))
    assert np.median(freq_err) <= 0.05
    assert freq_err.max() <= 0.15
    assert np.mean(np.abs(count_err) <= 1) >= 0.98
    assert np.mean(onset_err <= 1.0) >= 0.98


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=ISSUE_4_GAP)
def test_accuracy_at_10_db():
    freq_err, count_err, onset_err = _run(case_table(120, snr_db=10.0, seed=1))
    assert np.median(freq_err) <= 0.05
    assert freq_err.max() <= 0.15
    assert np.mean(np.abs(count_err) <= 1) >= 0.98
    assert np.mean(onset_err <= 1.0) >= 0.98


_PROPERTY_ARGS = dict(
    f=st.floats(3.0, 12.0),
    beats=st.integers(3, 60),
    fps_factor=st.floats(3.0, 10.0),
    snr_db=st.floats(20.0, 40.0),
    seed=st.integers(0, 10_000),
    fast_phase=st.floats(0.3, 0.5),
    sustained=st.booleans(),
    rate_change=st.booleans(),
)


def _property_case(f, beats, fps_factor, snr_db, seed, fast_phase, sustained, rate_change):
    fps = min(120.0, max(20.0, f * fps_factor))
    t, x, truth = _case(f, beats, fps, snr_db, seed, fast_phase=fast_phase, sustained=sustained,
                        rate_change=rate_change)  # fmt: skip
    return detect_oscillation(t, x, site="ankle"), truth


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**_PROPERTY_ARGS)
def test_property_detected_with_beats_inside_episodes(**kwargs):
    r, truth = _property_case(**kwargs)
    if truth.beat_count >= 5:  # at the 3-beat threshold a ±1 count decides either way
        assert r.clonus_detected
    for episode in r.episodes:
        assert episode.start_s <= min(episode.beat_times_s)
        assert max(episode.beat_times_s) <= episode.end_s
        assert episode.beat_count == len(episode.beat_times_s) >= 3
        assert np.all(np.diff(episode.beat_times_s) > 0)


@pytest.mark.xfail(strict=True, reason=ISSUE_4_GAP)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**_PROPERTY_ARGS)
def test_property_frequency_and_onset(**kwargs):
    r, truth = _property_case(**kwargs)
    assert abs(r.frequency_hz - truth.frequency_hz) <= 0.15
    main = main_episode(r.episodes)
    assert abs(main.start_s - truth.start_s) <= 1.0 / truth.frequency_hz


def test_reports_the_fundamental_of_an_asymmetric_waveform():
    t, x, truth = _case(5.0, 20, 60.0, 30.0, 3, fast_phase=0.25)
    r = detect_oscillation(t, x)
    assert r.frequency_hz == pytest.approx(truth.frequency_hz, abs=0.1)


def test_sub_bin_precision_on_a_two_second_episode():
    # 2 s gives 0.5 Hz FFT bins; the estimate must be far finer.
    spec = ClonusSpec(frequency_hz=6.37, beats=13, onset_s=1.0, sustained=True,
                      first_beat_stretch=0.0, period_jitter=0.0)  # fmt: skip
    t = sample_times(4.5, 30.0)
    r = detect_oscillation(t, clonus_displacement(spec, t))
    assert r.frequency_hz == pytest.approx(6.37, abs=0.03)
    assert r.beat_count == 13


def test_two_episodes_are_reported_separately():
    t = sample_times(9.0, 60.0)
    a = ClonusSpec(frequency_hz=6.0, beats=8, onset_s=1.0, sustained=False, seed=1)
    b = ClonusSpec(frequency_hz=6.5, beats=12, onset_s=5.0, sustained=True, seed=2, stretch_step=0)
    x = clonus_displacement(a, t) + clonus_displacement(b, t)
    r = detect_oscillation(t, x)
    assert len(r.episodes) == 2
    assert [e.beat_count for e in r.episodes] == pytest.approx([8, 12], abs=1)
    assert r.episodes[0].end_s < r.episodes[1].start_s


@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0, 120.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pure_noise_is_not_clonus(fps, seed):
    t = sample_times(15.0, fps, jitter=0.1, seed=seed)
    x = np.random.default_rng(seed).normal(0, 1, len(t))
    assert not detect_oscillation(t, x).clonus_detected


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drift_is_not_clonus(seed):
    rng = np.random.default_rng(seed)
    t = sample_times(12.0, 30.0, jitter=0.1, seed=seed)
    x = np.cumsum(rng.normal(0, 0.3, len(t))) + rng.normal(0, 0.05, len(t))
    assert not detect_oscillation(t, x).clonus_detected


@pytest.mark.parametrize("f_hz", [0.5, 1.2, 2.0])
def test_slow_voluntary_movement_is_not_clonus(f_hz):
    t = sample_times(10.0, 30.0, jitter=0.05)
    rng = np.random.default_rng(0)
    x = 20 * np.sin(2 * np.pi * f_hz * t + 0.3 * np.sin(2 * np.pi * 0.3 * t)) + rng.normal(0, 0.3, len(t))
    assert not detect_oscillation(t, x).clonus_detected


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_single_jerk_is_not_clonus(seed):
    t = sample_times(6.0, 60.0, seed=seed)
    rng = np.random.default_rng(seed)
    jerk = 5 * np.exp(-(((t - 2.5) / 0.05) ** 2)) + np.where(t > 3.5, 2.0, 0.0) * (
        1 - np.exp(-(t - 3.5).clip(0) / 0.05)
    )
    x = jerk + rng.normal(0, 0.05, len(t))
    assert not detect_oscillation(t, x).clonus_detected


def _stretch_then_beats(seed: int, stretch: float, beats: int) -> tuple[np.ndarray, np.ndarray]:
    """A held stretch (a step of ``stretch``) at 1.6 s with ``beats`` beats of 1 (peak to peak)
    at 7.5 Hz on top of it, sampled at 60 fps."""
    t = sample_times(4.0, 60.0, seed=seed)
    rng = np.random.default_rng(seed)
    onset, f0 = 1.6, 7.5
    x = stretch / (1 + np.exp(-(t - onset) / 0.03))
    beating = (t >= onset) & (t < onset + beats / f0)
    x = x + np.where(beating, 0.5 * (1 - np.cos(2 * np.pi * f0 * (t - onset))), 0.0)
    return t, x + rng.normal(0, 0.03, len(t))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_short_rhythm_on_a_large_stretch_is_found(seed):
    # The stretch's spill falls steadily from below the band and outweighs four beats at the
    # band's lower edge (3 Hz) when it is ten times their swing: the rhythm is the true peak
    # above it, not the edge.
    t, x = _stretch_then_beats(seed, stretch=10.0, beats=4)
    r = detect_oscillation(t, x, site="knee")
    assert r.clonus_detected
    assert r.frequency_hz == pytest.approx(7.5, abs=0.15)
    assert abs(r.beat_count - 4) <= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_large_stretch_alone_is_not_clonus(seed):
    t, x = _stretch_then_beats(seed, stretch=10.0, beats=0)
    assert not detect_oscillation(t, x, site="knee").clonus_detected


def _fast_short(f_hz: float, beats: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """A few fast beats after the stretch, filmed at 30 fps (3–4 samples a cycle), and their
    true rate."""
    spec = ClonusSpec(frequency_hz=f_hz, beats=beats, onset_s=1.0, fast_phase=0.35, seed=seed)
    t = sample_times(2.8, 30.0, jitter=0.15, seed=seed)
    x = 2.0 * clonus_displacement(spec, t) + np.random.default_rng(seed).normal(0, 0.03, len(t))
    return t, x, clonus_truth(spec).frequency_hz


def test_three_fast_beats_at_30_fps_are_found_at_their_own_rate():
    # The stretch beside a 0.3-s burst can raise a bump at half the beat rate, which was taken
    # for the fundamental and then found only every other beat (25 of these 40 were found; 35 now).
    found = 0
    for f_hz in (7.5, 8.0, 8.85, 9.5):
        for seed in range(10):
            t, x, true_hz = _fast_short(f_hz, 3, seed)
            r = detect_oscillation(t, x, site="jaw")
            found += r.clonus_detected and abs(r.beat_count - 3) <= 1 and abs(r.frequency_hz - true_hz) <= 0.5
    assert found >= 33


@pytest.mark.parametrize("beats", [1, 2])
def test_one_or_two_fast_beats_at_30_fps_are_not_clonus(beats):
    for f_hz in (7.5, 8.85, 10.0):
        for seed in range(8):
            t, x, _ = _fast_short(f_hz, beats, seed)
            assert not detect_oscillation(t, x, site="jaw").clonus_detected


def test_two_beats_are_not_clonus_by_default_but_settings_decide():
    t = sample_times(5.0, 60.0)
    spec = ClonusSpec(frequency_hz=6.0, beats=4, onset_s=1.5, sustained=True, seed=4)
    x = clonus_displacement(spec, t)
    assert detect_oscillation(t, x).beat_count == 4
    assert not detect_oscillation(t, x, settings=DetectorSettings(min_beats=5)).clonus_detected


@pytest.mark.parametrize(
    "beats,sustained_min,expect_sustained,scats,tardieu",
    [(8, 10, False, 1, 3), (24, 10, True, 2, 3), (8, 5, True, 1, 3), (70, 10, True, 3, 4)],
)
def test_sustained_and_grades(beats, sustained_min, expect_sustained, scats, tardieu):
    t = sample_times(beats / 6.0 + 3.0, 60.0)
    spec = ClonusSpec(frequency_hz=6.0, beats=beats, onset_s=1.0, sustained=True, seed=5)
    config = DetectorSettings(sustained_min_beats=sustained_min)
    r = detect_oscillation(t, clonus_displacement(spec, t), settings=config)
    assert r.sustained is expect_sustained
    assert r.grades.scats_clonus == scats
    assert r.grades.tardieu == tardieu


def test_two_components_are_combined():
    t = sample_times(6.0, 30.0, jitter=0.1)
    spec = ClonusSpec(frequency_hz=7.0, beats=15, onset_s=1.0, seed=6)
    d = clonus_displacement(spec, t)
    xy = np.stack([0.6 * d, 0.8 * d], axis=1) + np.random.default_rng(0).normal(0, 0.02, (len(t), 2))
    r = detect_oscillation(t, xy)
    assert r.beat_count == pytest.approx(15, abs=1)


def test_untracked_samples_are_ignored():
    t = sample_times(6.0, 30.0)
    spec = ClonusSpec(frequency_hz=6.0, beats=15, onset_s=1.0, seed=7)
    x = clonus_displacement(spec, t)
    valid = np.ones(len(t), bool)
    valid[::7] = False
    x_bad = x.copy()
    x_bad[~valid] = 1e6  # garbage where tracking was lost
    r = detect_oscillation(t, x_bad, valid)
    assert r.beat_count == pytest.approx(15, abs=1)
    assert r.frequency_hz == pytest.approx(clonus_truth(spec).frequency_hz, abs=0.1)


def test_regularity_confidence_amplitude_in_range():
    t = sample_times(6.0, 60.0)
    spec = ClonusSpec(frequency_hz=6.0, beats=15, onset_s=1.0, amplitude=4.0, sustained=True, seed=8)
    r = detect_oscillation(t, clonus_displacement(spec, t))
    assert 0.8 <= r.regularity <= 1.0
    assert 0.7 <= r.confidence <= 1.0
    assert r.amplitude_pp == pytest.approx(4.0, rel=0.35)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_sign_of_the_displacement_does_not_change_beats_or_onset(seed):
    # Image axes and the principal component give either sign; a beat is an excursion from
    # rest, and counting the returns instead would lose one and put the onset half a period late.
    t, x, truth = _case(5.0 + seed, 8 + 3 * seed, 30.0, 20.0, seed)
    up, down = (detect_oscillation(t, v, site="ankle") for v in (x, -x))
    assert up.beat_count == down.beat_count
    assert up.episodes[0].beat_times_s == pytest.approx(down.episodes[0].beat_times_s, abs=0.01)
    assert abs(up.beat_count - truth.beat_count) <= 1
    assert abs(up.episodes[0].start_s - truth.start_s) * truth.frequency_hz <= 0.5
    first = np.array(up.episodes[0].beat_times_s[:3])
    assert np.allclose(first, truth.beat_times_s[:3], atol=0.2 / truth.frequency_hz)


def _exam_signal(
    seed: int,
    *,
    beats: int,
    latency_s: float = 0.12,
    arrival_px: float = 25.0,
    amplitude_px: float = 3.0,
    release_s: float = 7.2,
):
    """An exam as the tracker measures it: the examiner's hand arriving (a slow push), a 40-px
    stretch in 0.2 s held until ``release_s``, ``beats`` of ``amplitude_px`` on the hold from
    ``latency_s`` after the stretch, a fast release (0.15 s); 0.05 px of measurement noise."""
    rng = np.random.default_rng(seed)
    t = sample_times(10.0, 30.0, jitter=0.05, seed=seed)
    ramp = lambda a, d: np.clip((t - a) / d, 0, 1) ** 2 * (3 - 2 * np.clip((t - a) / d, 0, 1))  # noqa: E731
    x = arrival_px * (ramp(1.0, 0.5) - ramp(2.0, 0.6)) + 40.0 * (ramp(4.0, 0.2) - ramp(release_s, 0.15))
    spec = ClonusSpec(frequency_hz=6.2, beats=beats, onset_s=4.2 + latency_s, amplitude=amplitude_px,
                      stretch_step=0.0, seed=seed)  # fmt: skip
    if beats:
        x = x + clonus_displacement(spec, t)
    return t, x + rng.normal(0, 0.05, len(t)), clonus_truth(spec)


@pytest.mark.parametrize("seed", range(4))
def test_beats_on_a_held_stretch_are_judged_against_the_measurements_noise(seed):
    """The hand's arrival, the stretch and the release are gross movements of every exam, not
    noise: six beats riding on the hold, 0.12 s after a 40-px stretch, are found."""
    t, x, truth = _exam_signal(seed, beats=6)
    r = detect_oscillation(t, x, site="ankle")
    assert r.clonus_detected
    assert abs(r.beat_count - truth.beat_count) <= 1
    assert r.frequency_hz == pytest.approx(truth.frequency_hz, abs=0.15)  # 6 beats: see ISSUE_4_GAP
    assert main_episode(r.episodes).start_s == pytest.approx(truth.start_s, abs=0.1)


@pytest.mark.parametrize("seed", range(4))
def test_small_beats_just_before_the_release_are_found(seed):
    """Twelve beats of 1 px ending 0.7 s before a 40-px release: the narrow-band
    filter rings with the release for a few periods either side of it, and that ringing is the
    release, not the measurement's noise (it hid these beats)."""
    t, x, truth = _exam_signal(seed, beats=12, amplitude_px=1.0, latency_s=0.3, release_s=7.1)
    r = detect_oscillation(t, x, site="ankle")
    assert r.clonus_detected
    assert truth.beat_count - 2 <= r.beat_count <= truth.beat_count + 1  # the last, beside the release
    assert r.frequency_hz == pytest.approx(truth.frequency_hz, abs=0.1)


@pytest.mark.parametrize("seed", range(4))
def test_the_hand_the_stretch_and_the_release_alone_are_not_clonus(seed):
    t, x, _ = _exam_signal(seed, beats=0)
    assert not detect_oscillation(t, x, site="ankle").clonus_detected
