"""What is not clonus although it beats in the band: each rhythm the detector found is judged
by what tells the look-alikes apart clinically (../shared/clinical.md), with the reason a
clinician reads.

- Clonus is triggered: a stretch (or the tap on the chin) at most ``_TRIGGER_BEFORE_S``
  before its first beat, larger than the beats themselves (15–30° against a few degrees).
- A rhythm running from the first frame with no stretch before it cannot be shown to be
  clonus: a tremor, a voluntary movement, or a recording started mid-exam.
- A rhythm with no stretch whose swing is a large share of the body length, or a large turn
  about the joint, is voluntary (tapping, opening and closing): clonus beats are a few degrees.
- A rhythm with no stretch below ``_VOLUNTARY_MAX_HZ`` is at the rate of voluntary tapping
  (2–5 Hz; toe tapping 2–4 Hz), under the 5–8 Hz of clonus.
- Beats faster than the site's band, beyond their rate's measurement error, are a tremor
  (physiological, or the filmer's hand).
- Clonus is a stable limit cycle: periods that vary by more than ``_IRREGULAR_CV`` are
  speech or chewing at the jaw, an irregular rhythm elsewhere; fewer than ``FEW_BEATS``
  beats varying by more than ``_FEW_IRREGULAR_CV`` are pseudoclonus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision.clinical.events import Movement

TURNING_SITES = ("ankle", "wrist")  # where the part turns about a joint (an angle is tracked)
_TRIGGER_BEFORE_S = 2.0  # the stretch starts at most this long before the episode's onset
_TRIGGER_AFTER_S = 0.25  # ... or this little after it (the onset is read half a beat early)
_TRIGGER_SWINGS = 1.0  # the stretch moves the part at least as far as one beat's swing
_FROM_START_S = 0.4  # an episode beginning this close to the first frame was already going
_VOLUNTARY_SHARE = 0.2  # a swing of this share of the body length is a deliberate movement
_VOLUNTARY_DEG = 15.0  # ... and so is a turn this large about the ankle or wrist (beats: 2–5°)
_IRREGULAR_CV = 0.2  # clonus periods vary by a few percent; speech syllables by a third
FEW_BEATS, _FEW_IRREGULAR_CV = 6, 0.15  # pseudoclonus: usually fewer than 6 beats, irregular
_VOLUNTARY_MAX_HZ = 4.5


@dataclass(frozen=True)
class Evidence:
    """What the recording shows beside the displacement: the site, the body length (in the
    displacement's unit), and the part's turn about the joint."""

    site: str | None = None
    body_length_px: float | None = None
    angle_time_s: np.ndarray | None = None
    angle_deg: np.ndarray | None = None
    angle_valid: np.ndarray | None = None


@dataclass(frozen=True)
class Rhythm:
    """A rhythm as the detector measured it: onset (s from the first sample), swing, the
    variation of its periods; its swing as a share of the body length and its turn about the
    joint (degrees, peak to peak) where known."""

    start_s: float
    frequency_hz: float
    beat_count: int
    swing_px: float
    period_cv: float
    body_share: float | None = None
    turn_deg: float | None = None


@dataclass(frozen=True)
class Judgement:
    trigger: Movement | None
    lookalike: str | None = None  # "tremor", "voluntary", "speech", "pseudoclonus"
    reason: str | None = None


def trigger_of(rhythm: Rhythm, movements: list[Movement]) -> Movement | None:
    """The stretch that started this rhythm: the last one shortly before its onset that moved
    the part further than a beat does."""
    found = None
    for mv in movements:
        if mv.kind != "stretch" or mv.size_px < _TRIGGER_SWINGS * rhythm.swing_px:
            continue
        if rhythm.start_s - _TRIGGER_BEFORE_S <= mv.time_s <= rhythm.start_s + _TRIGGER_AFTER_S:
            found = mv
    return found


_REASONS = {
    "fast": "the beats ({hz:.1f} Hz) are faster than clonus at this site (up to {top:g} Hz): a physiological "
    "tremor, or the filmer's hand",
    "irregular": "the beats are irregular (periods vary by {cv:.0%}; clonus varies by a few percent): {what}",
    "slow": "the rhythm ({hz:.1f} Hz) has no stretch before it and the rate of {what}, under the 5–8 Hz "
    "of clonus",
    "tremor": "the rhythm runs from the first frame with no stretch before it: a tremor, a voluntary "
    "movement, or a recording started mid-exam; film from before the stretch",
    "voluntary": "the part swings by {how} with no stretch before it: a voluntary movement (tapping, "
    "opening and closing); clonus beats are a few degrees",
}


def judge(
    rhythm: Rhythm, movements: list[Movement], site: str | None, band_hz: tuple[float, float] = (3.0, 12.0)
) -> Judgement:
    """Clonus (``lookalike`` None) or which look-alike, and why."""
    trigger = trigger_of(rhythm, movements)
    if rhythm.frequency_hz > band_hz[1] * (1 + _rate_error(rhythm)):
        return Judgement(trigger, "tremor", _REASONS["fast"].format(hz=rhythm.frequency_hz, top=band_hz[1]))
    few = rhythm.beat_count < FEW_BEATS and rhythm.period_cv > _FEW_IRREGULAR_CV
    if few or rhythm.period_cv > _IRREGULAR_CV:
        speech = site == "jaw" and not few
        kind, what = ("speech", "speech or chewing") if speech else ("pseudoclonus", "pseudoclonus")
        return Judgement(trigger, kind, _REASONS["irregular"].format(cv=rhythm.period_cv, what=what))
    if trigger is not None:
        return Judgement(trigger)
    if rhythm.start_s <= _FROM_START_S:
        return Judgement(None, "tremor", _REASONS["tremor"])
    how = _large_swing(rhythm)
    if how:
        return Judgement(None, "voluntary", _REASONS["voluntary"].format(how=how))
    if rhythm.frequency_hz < _VOLUNTARY_MAX_HZ:
        kind, what = ("speech", "speech or chewing") if site == "jaw" else ("voluntary", "voluntary tapping")
        return Judgement(None, kind, _REASONS["slow"].format(hz=rhythm.frequency_hz, what=what))
    return Judgement(None)


def _rate_error(rhythm: Rhythm) -> float:
    """Twice the relative standard error of the measured rate: its periods' spread (at least the
    detector's 2 % timing) over the root of their number. A rhythm at the band's edge is not
    pushed out of it by its own measurement error."""
    return 2.0 * max(rhythm.period_cv, 0.02) / max(1.0, rhythm.beat_count - 1) ** 0.5


def _large_swing(rhythm: Rhythm) -> str | None:
    """How the swing is larger than clonus beats are, or None."""
    if rhythm.body_share is not None and rhythm.body_share >= _VOLUNTARY_SHARE:
        return f"{rhythm.body_share:.0%} of its length"
    if rhythm.turn_deg is not None and rhythm.turn_deg >= _VOLUNTARY_DEG:
        return f"{rhythm.turn_deg:.0f}° about the joint"
    return None
