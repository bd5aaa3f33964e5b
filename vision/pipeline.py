"""Video in, clinical result out: the one entry point the CLI, the API and ``make eval`` use.

>>> analysis = analyze_video("exam.mp4", site="ankle")
>>> analysis.result.clonus_detected, analysis.result.frequency_hz

One function per stage: read the video (probe, one decoding pass), locate the part, measure
its motion, detect the oscillation, read it clinically.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from vision.clinical.detector import OscillationResult, detect_oscillation
from vision.clinical.lookalikes import TURNING_SITES, Evidence
from vision.clinical.reading import read_result
from vision.errors import AnalysisInputError
from vision.locate.region import Placement, detect_landmarks, drawn_placement, place_part
from vision.motion.tracking import MotionTrace, track_region
from vision.schema import SITE_CHOICES, AnalysisResult, Roi
from vision.settings import DetectorSettings
from vision.video.probe import VideoInfo, VideoLimits, probe
from vision.video.single_pass import TRACK_MAX_SIDE_PX, DecodedPass, decode_once


@dataclass
class Analysis:
    result: AnalysisResult
    trace: MotionTrace
    oscillation: OscillationResult
    info: VideoInfo
    detector: DetectorSettings  # the conventions the analysis used (the report states them)


def parse_roi(text: str) -> Roi:
    """``"x,y,w,h"`` normalized 0–1 → Roi; a clear error otherwise."""
    try:
        x, y, w, h = (float(v) for v in text.split(","))
        roi = Roi(x=x, y=y, w=w, h=h)
    except ValueError as exc:
        raise AnalysisInputError("--roi takes x,y,w,h as fractions of the frame (0–1)") from exc
    if roi.x + roi.w > 1.0001 or roi.y + roi.h > 1.0001:
        raise AnalysisInputError("the region extends beyond the frame")
    return roi


def analyze_video(
    path: str | Path,
    *,
    site: str = "auto",
    roi: Roi | None = None,
    limits: VideoLimits | None = None,
    detector: DetectorSettings | None = None,
    progress: Callable[[float], None] | None = None,
) -> Analysis:
    """Analyze one exam video. Raises a ``VisionError`` subclass on bad input."""
    if site not in SITE_CHOICES:
        choices = f"{', '.join(SITE_CHOICES[:-1])} or {SITE_CHOICES[-1]}"
        raise AnalysisInputError(f"unknown site {site!r}: use {choices}")
    path = Path(path)
    detector = detector or DetectorSettings()
    info = probe(path, limits, quantizer=True)
    band = detector.band_for(None if site == "auto" else site)
    report = progress or (lambda _fraction: None)
    placement, trace = _locate_and_track(path, info, site, roi, band, report)
    osc = detect_oscillation(trace.time_s, trace.xy_px, trace.valid, site=placement.site, settings=detector,
                             evidence=_evidence(trace, placement))  # fmt: skip
    result = read_result(info, trace, osc, placement, band)
    report(1.0)
    return Analysis(result=result, trace=trace, oscillation=osc, info=info, detector=detector)


def _evidence(trace: MotionTrace, placement: Placement) -> Evidence:
    """What tells the exam from its look-alikes: the body length on the landmarks (pixels of
    the video), and the part's turn where it turns."""
    turns = placement.site in TURNING_SITES and trace.angle_deg is not None
    return Evidence(
        body_length_px=placement.length_px,
        angle_time_s=trace.time_s if turns else None,
        angle_deg=trace.angle_deg if turns else None,
        angle_valid=trace.valid if turns else None,
    )


def _locate_and_track(
    path: Path,
    info: VideoInfo,
    site: str,
    roi: Roi | None,
    band: tuple[float, float],
    report: Callable[[float], None],
) -> tuple[Placement, MotionTrace]:
    """One decoding pass (landmarks found on their own thread meanwhile), then the part placed
    (or the drawn region taken) and tracked over the spooled frames."""
    scale = max(1.0, max(info.width, info.height) / TRACK_MAX_SIDE_PX)
    with ThreadPoolExecutor(1, thread_name_prefix="landmarks") as finder:
        sample = None if roi is not None else (lambda rgb: finder.submit(detect_landmarks, rgb, site))
        with decode_once(path, info, sample=sample, progress=lambda f: report(0.5 * f)) as decoded:
            placement = drawn_placement(site, roi) if roi is not None else _placed(decoded, site, band, scale)
            report(0.6)
            n = max(1, len(decoded.spool))

            def tracked(i: int) -> None:
                if i % 30 == 0:
                    report(0.6 + 0.38 * i / n)

            trace = track_region(decoded.spool.frames(), placement.roi, scale=scale, progress=tracked)
    return placement, trace


def _placed(decoded: DecodedPass, site: str, band: tuple[float, float], scale: float) -> Placement:
    return place_part(decoded.small, decoded.time_s, decoded.sampled, site=site, band_hz=band, scale=scale)
