"""The quality verdict (good / review / failed) with reasons a clinician understands."""

from __future__ import annotations

import numpy as np

from vision.motion.tracking import MotionTrace
from vision.schema import Episode, Quality
from vision.signal.filters import narrowband
from vision.signal.resample import mean_rate_hz, uniform_grid

# The part's motion is the camera's times a gain in this range, for most of its variance.
_MIRROR_GAIN = (-1.5, -0.5)
_MIRROR_R2 = 0.5
# From this H.264 quantizer on, the encoder drops the detail of low-contrast skin, and a part's
# beats can vanish from the video itself: a wide, dark-skinned kneecap's 7-px beats at QP 30 are
# seen at a tenth of their size by any registration, at QP 26 in full.
HEAVY_QUANTIZER = 30
# A "30 fps" phone records at 29.97 (30000/1001) and its timestamps jitter: a rate this close
# under the needed one meets it (else every such video is marked for review for its rate).
_RATE_TOLERANCE = 0.02


def _flicker(time_s: np.ndarray, brightness: np.ndarray) -> bool:
    """Whole-frame brightness oscillating (LED lighting beating against the frame rate)."""
    if len(brightness) < 16:
        return False
    b = brightness - np.convolve(brightness, np.ones(9) / 9, mode="same")
    return bool(np.std(b[5:-5]) > 0.01 * max(1.0, float(np.mean(brightness))))


def camera_mirrored(trace: MotionTrace, episode: Episode) -> bool:
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
    if _flicker(time_s, brightness):
        issues.append("the lighting flickers; avoid LED or fluorescent light beating with the camera")
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
