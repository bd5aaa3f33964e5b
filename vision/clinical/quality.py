"""The quality verdict (good / review / failed) with reasons a clinician understands."""

from __future__ import annotations

import numpy as np

from vision.motion.tracking import MotionTrace
from vision.schema import Episode, Lookalike, Quality
from vision.signal.filters import narrowband
from vision.signal.rate import mean_rate_hz
from vision.signal.resample import uniform_grid

# The part's motion is the camera's times a gain in this range, for most of its variance.
_MIRROR_GAIN = (-1.5, -0.5)
_MIRROR_R2 = 0.5
# From this H.264 quantizer on, the encoder drops the detail of low-contrast skin, and a part's
# beats can vanish from the video itself: a wide, dark-skinned kneecap's 7-px beats at QP 30 are
# seen at a tenth of their size by any registration, at QP 26 in full.
HEAVY_QUANTIZER = 30
# Mains lighting flickers at twice the mains frequency (50 or 60 Hz).
_MAINS_FLICKER_HZ = (100.0, 120.0)
_FLICKER_SHARE = 0.5  # of the brightness's fast variation within ...
_FLICKER_HALF_WIDTH_HZ = 0.5  # ... this of a mains alias (the timestamps jitter)
_FLICKER_MIN_SWING = 0.004  # RMS of the fast variation, as a share of the mean brightness
# A "30 fps" phone records at 29.97 (30000/1001) and its timestamps jitter: a rate this close
# under the needed one meets it (else every such video is marked for review for its rate).
_RATE_TOLERANCE = 0.02


def mains_aliases_hz(fps: float) -> list[float]:
    """Where mains lighting's 100 and 120 Hz flicker shows in video at ``fps`` (it aliases
    against the frame rate: 100 Hz at 30 fps is 10 Hz); rates that alias to a standstill
    (under half a hertz) show no flicker and are left out."""
    out = []
    for mains_hz in _MAINS_FLICKER_HZ:
        alias = abs(mains_hz - round(mains_hz / fps) * fps) if fps > 0 else 0.0
        if alias >= 0.5:
            out.append(alias)
    return out


def _flicker_hz(time_s: np.ndarray, brightness: np.ndarray) -> float | None:
    """The mains alias at which the whole frame's brightness oscillates, or None.

    Flicker is regular: most of the brightness's fast variation (``_FLICKER_SHARE``) sits
    within ``_FLICKER_HALF_WIDTH_HZ`` of a mains alias, and it is large enough to see. Sun and
    shade moving, people crossing the light, auto-exposure are not: their variation is spread.
    """
    if len(brightness) < 32:
        return None
    fps = mean_rate_hz(time_s)
    grid = np.linspace(time_s[0], time_s[-1], len(time_s))
    b = np.interp(grid, time_s, brightness)
    fast = (b - np.convolve(b, np.ones(9) / 9, mode="same"))[5:-5]
    if np.std(fast) < _FLICKER_MIN_SWING * max(1.0, float(np.mean(b))):
        return None
    power = np.abs(np.fft.rfft(fast * np.hanning(len(fast)))) ** 2
    freqs = np.fft.rfftfreq(len(fast), 1.0 / fps)
    total = float(power[freqs >= 0.5].sum())
    if total <= 0:
        return None
    for alias in mains_aliases_hz(fps):
        near = np.abs(freqs - alias) <= _FLICKER_HALF_WIDTH_HZ
        if near.any() and float(power[near].sum()) >= _FLICKER_SHARE * total:
            return round(alias, 1)
    return None


def camera_mirrored(trace: MotionTrace, episode: Episode | Lookalike) -> bool:
    """Whether an episode's rhythm is the camera's own shake seen backwards.

    On a part with too little texture the tracking points hold to the encoder's blocks, which
    stay fixed in the image: taking the camera's motion out then leaves minus the camera's
    motion (the filmer's 8–12 Hz tremor), which is rhythmic. Judged over the episode, around
    its rate: the part's motion is mostly (R² ≥ 0.5) the camera's times a gain near −1.
    """
    t = trace.time_s
    ok = trace.valid & np.isfinite(t)
    if ok.sum() < 8 or episode.frequency_hz <= 0:
        return False
    both = np.hstack([trace.xy_px, trace.camera_xy_px])[ok]
    grid_s, grid, _, fs = uniform_grid(t[ok], both - both.mean(axis=0), np.ones(int(ok.sum()), bool))
    span = (grid_s >= episode.start_s) & (grid_s <= episode.end_s)
    if span.sum() < 8:
        return False
    rhythm = narrowband(grid, fs, episode.frequency_hz, order=2)[span]
    part, camera = rhythm[:, :2], rhythm[:, 2:]
    p, c = part.ravel(), camera.ravel()
    c_power = float(c @ c)
    if c_power <= 1e-12:
        return False
    gain = float(p @ c) / c_power
    explained = 1.0 - float(np.sum((p - gain * c) ** 2)) / max(float(p @ p), 1e-12)
    return _MIRROR_GAIN[0] <= gain <= _MIRROR_GAIN[1] and explained >= _MIRROR_R2


def assess(
    *,
    time_s: np.ndarray,
    valid: np.ndarray,
    band_hz: tuple[float, float],
    brightness: np.ndarray,
    sharpness: np.ndarray,
    feature_survival: float,
    mirrors_camera: bool = False,
    quantizer: float | None = None,
    clonus_found: bool = True,
) -> Quality:
    issues: list[str] = []
    failed = False
    if mirrors_camera:  # see camera_mirrored()
        failed = True
        issues.append(
            "the tracking points stayed still in the image while the phone shook (too little "
            "texture on the body part): its motion could not be measured; mark the part or film closer"
        )
    tracked = float(np.mean(valid)) if len(valid) else 0.0
    fps = mean_rate_hz(time_s)
    if tracked < 0.5:
        failed = True
        issues.append(f"the body part was followed in only {tracked:.0%} of frames")
    elif tracked < 0.9:
        issues.append(f"the body part was lost in {1 - tracked:.0%} of frames")
    if fps < 2.5 * band_hz[1] * (1 - _RATE_TOLERANCE):
        issues.append(
            f"the frame rate ({fps:.0f} fps) is low for beats up to {band_hz[1]:g} Hz; "
            f"record at {int(np.ceil(2.5 * band_hz[1] / 30) * 30)} fps or more"
        )
        if fps < 2.2 * band_hz[0]:
            failed = True
    if len(brightness) and float(np.median(brightness)) < 35:
        issues.append("the video is too dark; add light")
    flicker_hz = _flicker_hz(time_s, brightness)
    if flicker_hz:
        issues.append(f"the lighting flickers (mains lighting seen at {flicker_hz:g} Hz at this frame rate); "
                      "use daylight or a flicker-free lamp")  # fmt: skip
    if len(sharpness) and float(np.median(sharpness)) < 15:
        issues.append("the body part is blurred; hold the phone still and focus on it")
    if feature_survival and feature_survival < 0.6:
        issues.append("tracking points were often lost; keep the body part in view and in focus")
    if quantizer is not None and quantizer >= HEAVY_QUANTIZER and not clonus_found:
        issues.append(
            f"the video is heavily compressed (quantizer {quantizer:.0f}): small beats can be lost in "
            "it, so finding no clonus is uncertain; send the original recording from the phone"
        )
    verdict = "failed" if failed else ("review" if issues else "good")
    return Quality(verdict=verdict, issues=issues, tracked_fraction=round(tracked, 4),
                   effective_fps=round(fps, 3))  # fmt: skip
