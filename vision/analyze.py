"""Video in, clinical result out: the one entry point the CLI, the API and ``make eval`` use.

>>> analysis = analyze_video("exam.mp4", site="ankle")
>>> analysis.result.clonus_detected, analysis.result.frequency_hz
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vision.closing import Closing
from vision.errors import AnalysisInputError, NoFramesError
from vision.frame_spool import FrameSpool
from vision.landmarks import (
    FACE,
    LOWER_JAW,
    POSE,
    FaceLandmarker,
    Landmarks,
    PoseLandmarker,
    shared_landmarker,
)
from vision.oscillation import OscillationResult, detect_oscillation, episode_peak_to_peak
from vision.quality import assess, camera_mirrored
from vision.schema import (
    SITE_CHOICES,
    Amplitude,
    AnalysisResult,
    Episode,
    Grades,
    Roi,
    Tracking,
    VideoSummary,
    main_episode,
)
from vision.settings import DetectorSettings
from vision.tracking import (
    MotionTrace,
    band_energy_map,
    roi_from_energy,
    roi_from_points,
    track_region,
)
from vision.video_io import Frame, VideoInfo, VideoLimits, frame_image, iter_decoded, probe, shrunk

log = logging.getLogger(__name__)

TRACK_MAX_SIDE_PX = 640  # optical flow runs on frames scaled to this (sub-pixel anyway)
MAP_MAX_SIDE_PX = 96  # the motion-energy map
LANDMARK_FRAMES = 6
_CONVERT_AHEAD = 4  # decoded frames waiting for conversion (bounded: 1080p frames are 3 MB)
# Landmarks that place each site's moving part.
SITE_POINTS = {
    "ankle": {"left": ("left_ankle", "left_heel", "left_foot_index"),
              "right": ("right_ankle", "right_heel", "right_foot_index")},
    "knee": {"left": ("left_knee",), "right": ("right_knee",)},
    "wrist": {"left": ("left_wrist", "left_index"), "right": ("right_wrist", "right_index")},
}  # fmt: skip
# The body length an amplitude is given as a fraction of: (from, to) landmarks and its name.
SITE_LENGTH = {
    "ankle": ("heel", "foot_index", "foot length (heel to toe)"),
    "knee": ("hip", "knee", "thigh length (hip to knee)"),
    "wrist": ("wrist", "index", "hand length (wrist to index finger)"),
}
FACE_LENGTH = (FACE["forehead"], FACE["chin"], "face height (forehead to chin)")


@dataclass
class Analysis:
    result: AnalysisResult
    trace: MotionTrace
    oscillation: OscillationResult
    info: VideoInfo


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


# The sites each landmark model finds ("auto": both).
_POSE_SITES = ("auto", "ankle", "knee", "wrist")
_FACE_SITES = ("auto", "jaw")


@dataclass(frozen=True)
class _Seen:
    """The landmarks found on one sampled frame: people (pose) and faces, as the site needs,
    in pixels of that frame (``size``: w, h)."""

    people: list[Landmarks]
    faces: list[Landmarks]
    size: tuple[int, int]


def _detect(image_rgb: np.ndarray, site: str) -> _Seen:
    """Landmarks on one frame, with the process's shared landmarkers (the first call imports
    MediaPipe and creates them)."""
    from models.registry import model_path

    people: list[Landmarks] = []
    faces: list[Landmarks] = []
    if site in _POSE_SITES:
        with shared_landmarker(PoseLandmarker, model_path("pose_landmarker_full")) as lm:
            people = lm.detect(image_rgb)
    if site in _FACE_SITES:
        with shared_landmarker(FaceLandmarker, model_path("face_landmarker")) as lm:
            faces = lm.detect(image_rgb)
    return _Seen(people, faces, (image_rgb.shape[1], image_rgb.shape[0]))


@dataclass
class _Pass(Closing):
    """What one decoding pass keeps: the tracking frames (spooled), the small stack for the
    motion-energy map, and the landmarks being found on a few frames."""

    spool: FrameSpool
    small: np.ndarray  # (n, h, w) uint8
    time_s: np.ndarray
    seen: list[Future[_Seen]]

    def close(self) -> None:
        self.spool.close()


def _decode_once(
    path: Path,
    info: VideoInfo,
    *,
    finder: ThreadPoolExecutor | None,
    site: str,
    progress: Callable[[float], None],
) -> _Pass:
    """Spool the tracking frames; with a ``finder`` thread, also keep what finds the part: the
    small stack for the energy map, and landmarks found on a few frames by the finder while
    the decoding goes on (its first frame imports MediaPipe and creates the landmarker).

    Frames are converted (scaled, gray, upright) on a second thread, in decoding order, while
    the next ones are decoded: the decoder alone leaves part of the machine idle.
    """
    last = max(0, info.frame_count - 1)
    wanted = set(np.linspace(0, last, LANDMARK_FRAMES).astype(int).tolist()) if finder else set()
    spool = FrameSpool()
    small, times, seen = [], [], []
    n = max(1, info.frame_count)

    def keep(index: int, time_s: float, frame) -> None:
        gray = frame_image(frame, info, "gray", TRACK_MAX_SIDE_PX)
        spool.append(Frame(index, time_s, gray))
        if finder is not None:
            small.append(shrunk(gray, MAP_MAX_SIDE_PX))
        times.append(time_s)
        if finder is not None and index in wanted:
            seen.append(finder.submit(_detect, frame_image(frame, info, "rgb24", TRACK_MAX_SIDE_PX), site))

    try:
        with ThreadPoolExecutor(1, thread_name_prefix="convert") as pool:
            pending: deque[Future] = deque()
            for index, time_s, frame in iter_decoded(path, info):
                pending.append(pool.submit(keep, index, time_s, frame))
                while len(pending) > _CONVERT_AHEAD or (pending and pending[0].done()):
                    pending.popleft().result()  # raises what the conversion raised
                if index % 30 == 0:
                    progress(min(1.0, index / n))
            while pending:
                pending.popleft().result()
    except BaseException:
        for job in seen:
            job.cancel()
        spool.close()
        raise
    if not times:
        spool.close()
        raise NoFramesError("no frame of the video could be decoded")
    small_stack = np.stack(small) if small else np.zeros((0, 0, 0), np.uint8)
    return _Pass(spool, small_stack, np.asarray(times), seen)


def _inside(points_px: np.ndarray, width: int, height: int) -> bool:
    return bool(np.all((points_px >= 0) & (points_px < [width, height])))


def _energy_in(stack_energy: np.ndarray, roi: Roi) -> float:
    h, w = stack_energy.shape
    x0, y0 = int(roi.x * w), int(roi.y * h)
    x1, y1 = max(x0 + 1, int((roi.x + roi.w) * w)), max(y0 + 1, int((roi.y + roi.h) * h))
    return float(stack_energy[y0:y1, x0:x1].mean())


@dataclass(frozen=True)
class _Located:
    """Where landmarks put the part, and the body length its amplitude is a fraction of
    (in pixels of the landmark frames; None when not seen)."""

    site: str
    method: str
    roi: Roi
    length_px: float | None
    length_of: str


def _length_px(people: list[Landmarks], ends: tuple[int, int]) -> float | None:
    """The median distance between two landmarks over the frames where both are seen."""
    a, b = ends
    seen = [float(np.hypot(*(p.xy_px[a] - p.xy_px[b]))) for p in people
            if min(p.visibility[a], p.visibility[b]) > 0.5]  # fmt: skip
    return float(np.median(seen)) if seen else None


def _landmark_roi(seen: list[Future[_Seen]], site: str, energy: np.ndarray) -> _Located | None:
    """Where landmarks put the part, or None when no body part is found."""
    from models.registry import ModelUnavailableError

    if not seen:
        return None
    try:
        found = [job.result() for job in seen]
    except ModelUnavailableError as exc:
        log.warning("landmarks unavailable (%s); locating the part from motion", exc)
        return None
    w, h = found[0].size
    candidates: list[tuple[float, _Located]] = []
    if site in _POSE_SITES:
        people = [p for f in found for p in f.people]
        sites = SITE_POINTS if site == "auto" else {site: SITE_POINTS[site]}
        for name, sides in sites.items():
            for side, side_points in sides.items():
                idx = [POSE[k] for k in side_points]
                on_part = [p for p in people
                           if p.visibility[idx].mean() > 0.5 and _inside(p.xy_px[idx], w, h)]  # fmt: skip
                if not on_part:
                    continue
                roi = roi_from_points(np.concatenate([p.xy_px[idx] for p in on_part]), w, h)
                start, end, length_of = SITE_LENGTH[name]
                ends = (POSE[f"{side}_{start}"], POSE[f"{side}_{end}"])
                located = _Located(name, "pose", roi, _length_px(on_part, ends), length_of)
                candidates.append((_energy_in(energy, roi), located))
    if site in _FACE_SITES:
        # The largest face of each frame (the patient, close to the camera).
        faces = [max(f.faces, key=lambda face: np.ptp(face.xy_px[:, 1])) for f in found if f.faces]
        if faces:
            pts = np.concatenate([face.xy_px[list(LOWER_JAW)] for face in faces])
            roi = roi_from_points(pts, w, h, pad=0.15)
            located = _Located("jaw", "face", roi, _length_px(faces, FACE_LENGTH[:2]), FACE_LENGTH[2])
            candidates.append((_energy_in(energy, roi), located))
    if not candidates:
        return None
    return max(candidates, key=lambda c: c[0])[1]  # the limb that oscillates


def _withheld(result: AnalysisResult) -> AnalysisResult:
    """A result whose motion could not be measured: no verdict and no clinical figures (beats,
    rate, episodes, grades) that a reader could take for findings; the quality says why."""
    return result.model_copy(update=dict(
        clonus_detected=None, frequency_hz=None, beat_count=None, sustained=None, episodes=[],
        amplitude=Amplitude(), regularity=None, confidence=None, grades=Grades(),
    ))  # fmt: skip


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

    # Landmarks are found on their own thread while the decoding goes on.
    with (
        ThreadPoolExecutor(1, thread_name_prefix="landmarks") as finder,
        _decode_once(
            path, info, finder=finder if roi is None else None, site=site, progress=lambda f: report(0.5 * f)
        ) as decoded,  # fmt: skip
    ):
        longest = max(info.width, info.height)
        scale = max(1.0, longest / TRACK_MAX_SIDE_PX)
        length_px, length_of = None, None  # a body length, in source pixels
        if roi is not None:
            found_site, method, region = (site if site != "auto" else "ankle"), "manual", roi
        else:
            energy = band_energy_map(decoded.small, decoded.time_s, band)
            located = _landmark_roi(decoded.seen, site, energy)
            if located is not None:
                found_site, method, region = located.site, located.method, located.roi
                if located.length_px:
                    length_px, length_of = located.length_px * scale, located.length_of
            else:
                region, _ = roi_from_energy(energy)
                found_site, method = (site if site != "auto" else "ankle"), "motion"
        report(0.6)
        n = max(1, len(decoded.spool))

        def tracked(i: int) -> None:
            if i % 30 == 0:
                report(0.6 + 0.38 * i / n)

        trace = track_region(decoded.spool.frames(), region, scale=scale, progress=tracked)
    osc = detect_oscillation(trace.time_s, trace.xy_px, trace.valid, site=found_site, settings=detector)
    main = main_episode(osc.episodes)
    mirrored = main is not None and camera_mirrored(trace, main)
    quality = assess(time_s=trace.time_s, valid=trace.valid, band_hz=band,
                     brightness=trace.mean_brightness, sharpness=trace.sharpness,
                     feature_survival=trace.feature_survival, mirrors_camera=mirrored,
                     quantizer=info.quantizer, clonus_found=osc.clonus_detected)  # fmt: skip
    amp_px = osc.amplitude_pp
    amp_deg = None
    if found_site == "ankle" and osc.episodes and trace.angle_deg is not None:  # about the ankle
        amp_deg = episode_peak_to_peak(trace.time_s, trace.angle_deg, trace.valid, main)
    result = AnalysisResult(
        site=found_site,
        clonus_detected=osc.clonus_detected,
        frequency_hz=osc.frequency_hz,
        beat_count=osc.beat_count,
        sustained=osc.sustained,
        episodes=[Episode.model_validate(e.model_dump()) for e in osc.episodes],
        amplitude=Amplitude(
            peak_to_peak_px=round(amp_px, 3) if amp_px is not None else None,
            peak_to_peak_fraction=round(amp_px / length_px, 5) if amp_px is not None and length_px else None,
            reference=length_of,  # set with length_px, or neither
            reference_length_px=round(length_px, 1) if length_px else None,
            peak_to_peak_deg=round(amp_deg, 3) if amp_deg is not None else None,
        ),
        regularity=osc.regularity,
        confidence=osc.confidence,
        grades=osc.grades,
        quality=quality,
        tracking=Tracking(method=method, roi=region),
        video=VideoSummary(
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
        ),
    )
    if quality.verdict == "failed":
        result = _withheld(result)
    report(1.0)
    return Analysis(result=result, trace=trace, oscillation=osc, info=info)
