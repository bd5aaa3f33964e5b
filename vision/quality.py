"""The quality verdict (good / review / failed) with reasons a clinician understands."""

from __future__ import annotations

import numpy as np

from vision.schema import Quality


def _flicker(time_s: np.ndarray, brightness: np.ndarray) -> bool:
    """Whole-frame brightness oscillating (LED lighting beating against the frame rate)."""
    if len(brightness) < 16:
        return False
    b = brightness - np.convolve(brightness, np.ones(9) / 9, mode="same")
    return bool(np.std(b[5:-5]) > 0.01 * max(1.0, float(np.mean(brightness))))


def assess(
    *,
    time_s: np.ndarray,
    valid: np.ndarray,
    band_hz: tuple[float, float],
    brightness: np.ndarray,
    sharpness: np.ndarray,
    feature_survival: float,
) -> Quality:
    issues: list[str] = []
    failed = False
    tracked = float(np.mean(valid)) if len(valid) else 0.0
    fps = (len(time_s) - 1) / float(time_s[-1] - time_s[0]) if len(time_s) > 1 else 0.0
    if tracked < 0.5:
        failed = True
        issues.append(f"the body part was followed in only {tracked:.0%} of frames")
    elif tracked < 0.9:
        issues.append(f"the body part was lost in {1 - tracked:.0%} of frames")
    if fps < 2.5 * band_hz[1]:
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
    verdict = "failed" if failed else ("review" if issues else "good")
    return Quality(verdict=verdict, issues=issues, tracked_fraction=round(tracked, 4),
                   effective_fps=round(fps, 3))  # fmt: skip
