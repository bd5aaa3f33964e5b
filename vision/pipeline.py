"""Video in, clinical result out: the one entry point the CLI, the API and ``make eval`` use.

>>> analysis = analyze_video("exam.mp4", site="ankle")
>>> analysis.result.clonus_detected, analysis.result.frequency_hz

One function per stage: read the video (probe, one decoding pass), locate the part, measure
its motion, detect the oscillation, read it clinically.

The stages built on SciPy (locating by motion energy, detecting, reading) are imported where
they are used, and loaded on a thread while the first frames decode: a fresh ``clonus
analyze`` starts decoding at once instead of after ~0.6 s of imports.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vision.errors import AnalysisInputError, NoFramesError
from vision.locate.placement import Placement, drawn_placement
from vision.locate.seen import detect_landmarks
from vision.motion.tracking import MotionTrace, track_region
from vision.schema import SITE_CHOICES, AnalysisResult, Roi, SecondSignal, main_episode
from vision.settings import DetectorSettings
from vision.video.decode import Frame, frame_image, iter_window
from vision.video.probe import VideoInfo, VideoLimits, probe
from vision.video.quantizer import FirstQuantizers
from vision.video.single_pass import TRACK_MAX_SIDE_PX, decode_once, decoded_frames

if TYPE_CHECKING:
    from vision.clinical.detector import OscillationResult
    from vision.clinical.lookalikes import Evidence

# Loaded on a thread at the start of an analysis (see above), in the order they are needed.
_SCIPY_STAGES = ("vision.locate.region", "vision.clinical.detector", "vision.clinical.reading",
                 "vision.locate.trajectory")  # fmt: skip


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
    _load_meanwhile(_SCIPY_STAGES)
    info = probe(path, limits)
    band = detector.band_for(None if site == "auto" else site)
    report = progress or (lambda _fraction: None)
    if roi is not None:
        placement, first_pts = drawn_placement(site, roi), 0  # a drawn region has no landmark signal
        trace, qp = _streamed(path, info, placement, report)
    else:
        placement, trace, first_pts, qp = _found(path, info, site, band, report)
    info = replace(info, quantizer=qp)
    from vision.clinical.detector import detect_oscillation
    from vision.clinical.reading import read_result

    osc = detect_oscillation(trace.time_s, trace.xy_px, trace.valid, site=placement.site,
                             settings=detector, evidence=_evidence(trace, placement))  # fmt: skip
    second = _second_signal(path, info, first_pts, (placement, trace, osc), detector)
    result = read_result(info, trace, osc, placement, band, second)
    report(1.0)
    return Analysis(result=result, trace=trace, oscillation=osc, info=info, detector=detector)


def _evidence(trace: MotionTrace, placement: Placement) -> Evidence:
    """What tells the exam from its look-alikes: the body length on the landmarks (pixels of
    the video), and the part's turn where it turns."""
    from vision.clinical.lookalikes import TURNING_SITES, Evidence

    turns = placement.site in TURNING_SITES and trace.angle_deg is not None
    return Evidence(
        body_length_px=placement.length_px,
        angle_time_s=trace.time_s if turns else None,
        angle_deg=trace.angle_deg if turns else None,
        angle_valid=trace.valid if turns else None,
    )


def _found(
    path: Path, info: VideoInfo, site: str, band: tuple[float, float], report: Callable[[float], None]
) -> tuple[Placement, MotionTrace, int, float | None]:
    """The part found over the whole recording (decoded once and spooled, landmarks found
    meanwhile), then tracked over the spooled frames; the first frame's timestamp and the
    video's quantizer."""
    scale = _scale(info)
    with ThreadPoolExecutor(1, thread_name_prefix="landmarks") as finder:
        sample = lambda rgb: finder.submit(detect_landmarks, rgb, site)  # noqa: E731
        with decode_once(path, info, sample=sample, progress=lambda f: report(0.5 * f)) as decoded:
            from vision.locate.region import place_part  # loaded meanwhile (see the top)

            placement = place_part(decoded.small, decoded.time_s, decoded.sampled, site=site,
                                   band_hz=band, scale=scale)  # fmt: skip
            report(0.6)
            n = max(1, len(decoded.spool))
            trace = track_region(decoded.spool.frames(), placement.roi, scale=scale,
                                 progress=_every_30(lambda i: report(0.6 + 0.34 * i / n)))  # fmt: skip
    return placement, trace, decoded.first_pts, decoded.quantizer


def _streamed(
    path: Path, info: VideoInfo, placement: Placement, report: Callable[[float], None]
) -> tuple[MotionTrace, float | None]:
    """A drawn region tracked as the frames are decoded (nothing to find first, nothing
    spooled); and the video's quantizer."""
    n, qps = max(1, info.frame_count), FirstQuantizers()

    def frames() -> Iterator[Frame]:
        for frame, decoded in decoded_frames(path, info):
            qps.read(decoded)
            yield frame

    trace = track_region(frames(), placement.roi, scale=_scale(info),
                         progress=_every_30(lambda i: report(0.94 * min(1.0, i / n))))  # fmt: skip
    if not len(trace.time_s):
        raise NoFramesError("no frame of the video could be decoded")
    return trace, qps.median


def _every_30(report: Callable[[int], None]) -> Callable[[int], None]:
    """``report`` called on every 30th frame index only."""
    return lambda i: report(i) if i % 30 == 0 else None


def _second_signal(
    path: Path,
    info: VideoInfo,
    first_pts: int,
    analysis: tuple[Placement, MotionTrace, OscillationResult],
    detector: DetectorSettings,
) -> SecondSignal | None:
    """The main episode read again from the landmarks, where a landmark model placed the part."""
    from vision.clinical.crosscheck import cross_check, landmark_frames
    from vision.locate.trajectory import LANDMARK_METHODS, landmark_track

    placement, trace, osc = analysis
    main = main_episode(osc.episodes)
    if main is None or placement.method not in LANDMARK_METHODS or trace.region_px is None:
        return None
    start, stop, step = landmark_frames(trace.time_s, main)
    wanted = trace.time_s[start:stop:step]
    if not len(wanted):
        return None
    track = landmark_track(_colour_frames(path, info, first_pts, wanted), site=placement.site,
                           source=placement.method, region_px=trace.region_px[start:stop:step],
                           scale=_scale(info))  # fmt: skip
    return cross_check(main, osc.amplitude_pp, track, site=placement.site, settings=detector)


def _colour_frames(path: Path, info: VideoInfo, first_pts: int, wanted_s: np.ndarray) -> Iterator[Frame]:
    """The frames at ``wanted_s`` in colour at the tracking size (the landmark models need
    colour: on gray frames the face mesh misses small faces), decoded again over that stretch
    only."""
    for time_s, frame in iter_window(path, info, first_pts, float(wanted_s[0]), float(wanted_s[-1])):
        i = int(np.argmin(np.abs(wanted_s - time_s)))
        if abs(wanted_s[i] - time_s) < 1e-3:
            yield Frame(i, time_s, frame_image(frame, info, "rgb24", TRACK_MAX_SIDE_PX))


def _scale(info: VideoInfo) -> float:
    """Source pixels per tracking pixel."""
    return max(1.0, max(info.width, info.height) / TRACK_MAX_SIDE_PX)


def _load_meanwhile(modules: tuple[str, ...]) -> None:
    """Import ``modules`` on a thread of their own, unless they are loaded already."""
    missing = [name for name in modules if name not in sys.modules]
    if missing:
        load = lambda: [importlib.import_module(name) for name in missing]  # noqa: E731
        threading.Thread(target=load, name="imports", daemon=True).start()
