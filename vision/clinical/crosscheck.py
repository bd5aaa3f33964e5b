"""The main episode's rhythm measured a second, independent way: the landmarks' trajectory run
through the same detector. Where the two disagree beyond what the landmark signal can resolve,
the verdict is review, and says why."""

from __future__ import annotations

import numpy as np

from vision.clinical.detector import detect_oscillation
from vision.locate.trajectory import LandmarkTrack
from vision.schema import Episode, Quality, SecondSignal, main_episode
from vision.settings import DetectorSettings
from vision.signal.rate import mean_rate_hz

BEFORE_S = 0.5  # read from before the onset, so the detector sees the rhythm begin
READ_S = 2.5  # of the episode read from landmarks (a frame costs ~13 ms face, ~40 ms pose on one core)
# Landmark samples per second per hertz of the rhythm: the detector's band stops at 0.45 of the
# sampling rate, so the rhythm must lie well under it.
RATE_PER_HZ = 2.5
# The optical flow's beats (peak to peak) over the landmarks' noise (RMS) from which the
# landmarks would show the beats. A sinusoid of peak-to-peak 5σ stands clear of the noise; but a
# landmark model follows a part's beats at a fraction of their swing (the face mesh moves with a
# jaw translated by 6.1 px at 2.1 px, a third: its shape prior holds it back), so the flow's beats
# must be three times that before an absence of rhythm in the landmarks means anything.
VISIBLE = 15.0
_FOUND_SHARE = 0.5  # of the frames read, in which the landmark model must find the part


def landmark_frames(time_s: np.ndarray, episode: Episode) -> tuple[int, int, int]:
    """The frame positions (start, stop, step) to read landmarks on: the episode's first
    ``READ_S`` from ``BEFORE_S`` before its onset, at a rate that resolves its rhythm."""
    fps = mean_rate_hz(time_s)
    step = max(1, int(fps // (RATE_PER_HZ * episode.frequency_hz))) if episode.frequency_hz > 0 else 1
    t1 = min(episode.end_s, episode.start_s + READ_S)
    start = int(np.searchsorted(time_s, episode.start_s - BEFORE_S))
    stop = int(np.searchsorted(time_s, t1, side="right"))
    return start, stop, step


def _fit_at(track: LandmarkTrack, episode: Episode) -> tuple[float, float]:
    """Over the episode, the landmarks' peak to peak at its rate (the larger axis) and their
    noise (RMS per axis of what a sinusoid at that rate and a slow drift leave), source pixels."""
    f_hz = episode.frequency_hz
    keep = track.valid & (track.time_s >= episode.start_s) & (track.time_s <= episode.end_s)
    if keep.sum() < 8:
        keep = track.valid
    t, xy = track.time_s[keep], track.xy_px[keep]
    t = t - t.mean()
    span = max(float(np.ptp(t)), 1e-6)
    basis = np.column_stack([np.ones_like(t), t / span, (t / span) ** 2,
                             np.sin(2 * np.pi * f_hz * t), np.cos(2 * np.pi * f_hz * t)])  # fmt: skip
    coef, *_ = np.linalg.lstsq(basis, xy, rcond=None)
    residual = xy - basis @ coef
    pp = 2 * float(np.max(np.hypot(coef[3], coef[4])))
    dof = max(1, len(t) - basis.shape[1])
    return pp, float(np.sqrt((residual**2).sum() / (2 * dof)))


def cross_check(
    episode: Episode,
    flow_pp_px: float | None,
    track: LandmarkTrack,
    *,
    site: str,
    settings: DetectorSettings | None = None,
) -> SecondSignal:
    """The two signals' frequencies for ``episode`` and whether they agree: within the landmark
    signal's resolution (1 / its duration, the Rayleigh limit), or, where the landmarks show no
    rhythm, whether beats of ``flow_pp_px`` would stand out of the landmarks' noise at all."""
    f_flow = episode.frequency_hz
    duration_s = float(np.ptp(track.time_s)) if len(track.time_s) > 1 else 0.0
    tolerance = 1.0 / duration_s if duration_s > 0 else float("inf")
    base = dict(source=track.source, rate_hz=round(track.rate_hz, 2), read_from_s=_round(track.time_s, 0),
                read_to_s=_round(track.time_s, -1), flow_frequency_hz=round(f_flow, 3),
                tolerance_hz=round(tolerance, 3))  # fmt: skip
    found = float(track.valid.mean()) if len(track.valid) else 0.0
    if found < _FOUND_SHARE or track.valid.sum() < 8:
        note = f"the {track.source} landmarks found the part in only {found:.0%} of the frames read"
        return SecondSignal(**base, agrees=None, note=note + ": no second measure")
    osc = detect_oscillation(track.time_s, track.xy_px, track.valid, site=site, settings=settings)
    rhythm = main_episode(osc.episodes) or max(osc.lookalikes, key=lambda k: k.beat_count, default=None)
    pp, noise = _fit_at(track, episode)
    base.update(landmark_noise_px=round(noise, 3), landmark_peak_to_peak_px=round(pp, 3))
    if rhythm is not None:
        f_lm = rhythm.frequency_hz
        agrees = abs(f_lm - f_flow) <= tolerance
        how = "agree" if agrees else "disagree"
        note = (
            f"the {track.source} landmarks find {f_lm:.2f} Hz, the optical flow {f_flow:.2f} Hz: they "
            f"{how} (the landmark signal resolves {tolerance:.2f} Hz over its {duration_s:.1f} s)"
        )
        if not agrees:
            note += "; check on the video that the tracked region is on the part that beats"
        return SecondSignal(**base, landmark_frequency_hz=round(f_lm, 3), agrees=agrees, note=note)
    if flow_pp_px is not None and flow_pp_px >= VISIBLE * noise:
        note = (
            f"the optical flow finds beats of {flow_pp_px:.1f} px at {f_flow:.2f} Hz, but the "
            f"{track.source} landmarks, steady enough to show them (their noise {noise:.2f} px), show "
            "no rhythm: check on the video that the tracked region is on the part that beats"
        )
        return SecondSignal(**base, agrees=False, note=note)
    note = (
        f"the {track.source} landmarks are too coarse to see these beats (their noise {noise:.2f} px "
        f"against beats of {flow_pp_px or 0:.1f} px): the rhythm rests on the optical flow alone"
    )
    return SecondSignal(**base, agrees=None, note=note)


def _round(time_s: np.ndarray, i: int) -> float | None:
    return round(float(time_s[i]), 3) if len(time_s) else None


def with_second_signal(quality: Quality, check: SecondSignal | None) -> Quality:
    """Review where the two signals disagree (a verdict already failed stays failed)."""
    if check is None or check.agrees is not False or quality.verdict == "failed":
        return quality
    return quality.model_copy(update={"verdict": "review", "issues": [*quality.issues, check.note]})
