"""The clinical reading of one analysis: the detector's findings, the amplitude in the units a
clinician uses, and the quality verdict, as the one result schema."""

from __future__ import annotations

import numpy as np

from vision.clinical.crosscheck import with_second_signal
from vision.clinical.detector import OscillationResult, episode_peak_to_peak
from vision.clinical.events import Movement
from vision.clinical.lookalikes import FEW_BEATS, TURNING_SITES
from vision.clinical.quality import assess, camera_mirrored
from vision.locate.placement import Placement
from vision.motion.tracking import MotionTrace
from vision.schema import (
    Amplitude,
    AnalysisResult,
    Episode,
    ExamEvent,
    Grades,
    Quality,
    RegionAt,
    SecondSignal,
    Tracking,
    VideoSummary,
    main_episode,
)
from vision.video.probe import VideoInfo


def read_result(
    info: VideoInfo,
    trace: MotionTrace,
    osc: OscillationResult,
    placement: Placement,
    band_hz: tuple[float, float],
    second: SecondSignal | None = None,
) -> AnalysisResult:
    """The result; where the motion could not be measured, without clinical figures.
    ``second``: the landmarks' check of the main episode (review where it disagrees)."""
    main = main_episode(osc.episodes)
    rhythm = main or next(iter(osc.lookalikes), None)  # whichever rhythm was found
    mirrored = rhythm is not None and camera_mirrored(trace, rhythm)
    quality = assess(time_s=trace.time_s, valid=trace.valid, band_hz=band_hz,
                     brightness=trace.mean_brightness, sharpness=trace.sharpness,
                     feature_survival=trace.feature_survival, mirrors_camera=mirrored,
                     quantizer=info.quantizer, clonus_found=osc.clonus_detected)  # fmt: skip
    quality = with_exam_findings(quality, osc, body_seen=placement.method != "motion")
    if placement.doubt and quality.verdict != "failed":
        quality = quality.model_copy(
            update={"verdict": "review", "issues": [*quality.issues, placement.doubt]}
        )
    quality = with_second_signal(quality, second)
    result = AnalysisResult(
        site=placement.site,
        clonus_detected=osc.clonus_detected,
        frequency_hz=osc.frequency_hz,
        beat_count=osc.beat_count,
        sustained=osc.sustained,
        episodes=[Episode.model_validate(e.model_dump()) for e in osc.episodes],
        events=[_event(m, trace, placement.site) for m in osc.movements],
        lookalikes=list(osc.lookalikes),
        amplitude=_amplitude(trace, osc, placement),
        regularity=osc.regularity,
        confidence=osc.confidence,
        grades=osc.grades,
        quality=quality,
        tracking=Tracking(method=placement.method, roi=placement.roi, path=region_path(trace, info)),
        second_signal=second,
        video=video_summary(info),
    )
    return _withheld(result) if quality.verdict == "failed" else result


def _amplitude(trace: MotionTrace, osc: OscillationResult, placement: Placement) -> Amplitude:
    """Peak to peak in source pixels, as a fraction of the body length, and in degrees about
    the ankle."""
    amp_px, length_px = osc.amplitude_pp, placement.length_px
    amp_deg = None
    main = main_episode(osc.episodes)
    if placement.site == "ankle" and osc.episodes and trace.angle_deg is not None:  # about the ankle
        amp_deg = episode_peak_to_peak(trace.time_s, trace.angle_deg, trace.valid, main)
    return Amplitude(
        peak_to_peak_px=round(amp_px, 3) if amp_px is not None else None,
        peak_to_peak_fraction=round(amp_px / length_px, 5) if amp_px is not None and length_px else None,
        reference=placement.length_of,  # set with length_px, or neither
        reference_length_px=round(length_px, 1) if length_px else None,
        peak_to_peak_deg=round(amp_deg, 3) if amp_deg is not None else None,
    )


def _event(m: Movement, trace: MotionTrace, site: str) -> ExamEvent:
    """A stretch or release as the schema gives it, with the turn about the joint where the
    part turns: the tracked angle a little after the movement less a little before it."""
    deg = None
    if site in TURNING_SITES and trace.angle_deg is not None:
        t, ok = trace.time_s, trace.valid & np.isfinite(trace.angle_deg)
        before = ok & (t >= m.time_s - 0.25) & (t < m.time_s)
        after = ok & (t > m.time_s + m.duration_s) & (t <= m.time_s + m.duration_s + 0.25)
        if before.any() and after.any():
            deg = round(abs(float(np.median(trace.angle_deg[after]) - np.median(trace.angle_deg[before]))), 2)
    return ExamEvent(kind=m.kind, time_s=m.time_s, duration_s=m.duration_s, size_px=m.size_px, size_deg=deg)


# With 3–5 beats the periods' regularity is measured to about ±5 % (python -m tools.pseudoclonus_limits):
# too coarse to tell unsustained clonus from pseudoclonus, whose rate is irregular.
_FEW = (
    "only {n} beats: unsustained clonus or pseudoclonus (irregular, usually fewer than 6 beats); so few "
    "beats cannot show whether the rate is regular: judge on the video"
)
_NO_BODY = (
    "no body part was recognized (the landmark models placed no limb or face in most of the video); "
    "the region was placed where things move: check that the part is in view"
)


def with_exam_findings(quality: Quality, osc: OscillationResult, *, body_seen: bool = True) -> Quality:
    """Review, with the reason, where the only rhythm found is not clonus, or clonus with no
    stretch seen before it (clonus is triggered: the video cannot show what started it), or no
    clonus where no body part was recognized (then nothing says the part was even in view)."""
    issues = (
        []
        if osc.clonus_detected
        else [f"a rhythm at {k.frequency_hz:.1f} Hz is not called clonus: {k.reason}" for k in osc.lookalikes]
    )
    if not body_seen and not osc.clonus_detected:
        issues.append(_NO_BODY)
    main = main_episode(osc.episodes)
    if main is not None and main.beat_count < FEW_BEATS:
        issues.append(_FEW.format(n=main.beat_count))
    if main is not None and main.trigger_s is None:
        issues.append("no stretch was seen before the beats (clonus starts at one): check on the video "
                      "that the examiner stretched the part, and film from before the stretch")  # fmt: skip
    if not issues or quality.verdict == "failed":
        return quality
    return quality.model_copy(update={"verdict": "review", "issues": quality.issues + issues})


def region_path(trace: MotionTrace, info: VideoInfo, every_s: float = 0.2) -> list[RegionAt]:
    """The tracked region's path, normalized, one sample every ``every_s``."""
    if trace.region_px is None or not len(trace.time_s):
        return []
    size = [info.width, info.height, info.width, info.height]
    out, next_s = [], float(trace.time_s[0])
    for t, box in zip(trace.time_s, trace.region_px / size, strict=True):
        if t >= next_s:
            x0, y0, x1, y1 = (float(v) for v in box.clip(0.0, 1.0))
            out.append(RegionAt(time_s=round(float(t), 3), x=round(x0, 4), y=round(y0, 4),
                                w=round(x1 - x0, 4), h=round(y1 - y0, 4)))  # fmt: skip
            next_s = float(t) + every_s
    return out


def video_summary(info: VideoInfo) -> VideoSummary:
    return VideoSummary(
        duration_s=round(info.duration_s, 4),
        fps=round(info.measured_fps, 3),
        nominal_fps=info.nominal_fps,
        width=info.width,
        height=info.height,
        rotation=info.rotation,
        variable_frame_rate=info.variable_frame_rate,
        codec=info.codec,
        frame_count=info.frame_count,
        quantizer=info.quantizer,
    )


def _withheld(result: AnalysisResult) -> AnalysisResult:
    """A result whose motion could not be measured: no verdict and no clinical figures (beats,
    rate, episodes, grades) that a reader could take for findings; the quality says why."""
    return result.model_copy(update=dict(
        clonus_detected=None, frequency_hz=None, beat_count=None, sustained=None, episodes=[],
        amplitude=Amplitude(), regularity=None, confidence=None, grades=Grades(), lookalikes=[],
        second_signal=None,
    ))  # fmt: skip
