"""The annotated overlay video a clinician reviews.

Every source frame, upright, with: the tracked region and the tracked point; the landmarks
that placed it; each counted beat flashed as it happens; the current episode highlighted;
frequency and beat count on screen; the band-passed displacement scrolling in a panel under
the picture. Faces are obscured for limb sites and the eyes for the jaw (unless turned off).
H.264 yuv420p with the index at the front, no audio, no metadata tags.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vision.clinical.words import headline
from vision.locate.landmarks import LOWER_JAW, POSE
from vision.render.deidentify import SWEEP_DETECTIONS, Detection, FaceFinder, near, obscure, to_obscure
from vision.render.files import atomic_path
from vision.schema import concrete_site
from vision.signal.filters import unit_scaled
from vision.video.decode import iter_frames
from vision.video.writer import VideoWriter

if TYPE_CHECKING:
    from vision.pipeline import Analysis

log = logging.getLogger(__name__)

MAX_SIDE_PX = 720
DETECT_MAX_SIDE_PX = 1280  # faces are searched at up to this size (the overlay is drawn at MAX_SIDE_PX)
DETECTIONS_PER_S = 6.0
WINDOW_S = (4.0, 1.0)  # the panel shows this long before and after the current time
FLASH_S = 0.12
_ROI = (0, 200, 255)
_POINT = (255, 230, 0)
_EPISODE = (255, 140, 0)
_TRACE = (120, 255, 160)
_CURSOR = (255, 60, 60)
_EVENT = (255, 80, 220)  # the examiner's stretch and release
EVENT_S = 0.8  # an event's name stays on the frame this long
_LIMB_LINES = {
    "ankle": (("knee", "ankle"), ("ankle", "heel"), ("heel", "foot_index"), ("ankle", "foot_index")),
    "knee": (("hip", "knee"), ("knee", "ankle")),
    "wrist": (("elbow", "wrist"), ("wrist", "index")),
}


class OverlayUnavailableError(RuntimeError):
    """De-identification was asked for but its models are missing: no overlay is written."""


def overlay_size(width: int, height: int, max_side_px: int = MAX_SIDE_PX) -> tuple[int, int]:
    s = min(1.0, max_side_px / max(width, height))
    return max(2, int(round(width * s / 2)) * 2), max(2, int(round(height * s / 2)) * 2)


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color=(255, 255, 255)) -> None:
    """Text on a dark band, legible over any picture."""
    th = max(1, int(round(1.6 * scale)))
    (tw, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, th)
    x, y = org
    x0, y0, x1, y1 = (
        max(0, x - 4),
        max(0, y - tht - 4),
        min(img.shape[1], x + tw + 4),
        min(img.shape[0], y + base + 2),
    )
    img[y0:y1, x0:x1] = (img[y0:y1, x0:x1] * 0.35).astype(img.dtype)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, th, cv2.LINE_AA)


def _limb_points(person, site: str) -> np.ndarray:
    """The seen points of the site's limb lines, both sides."""
    names = {f"{side}_{p}" for side in ("left", "right") for line in _LIMB_LINES.get(site, ()) for p in line}
    return person.xy_px[[POSE[n] for n in names if n in POSE and person.visibility[POSE[n]] >= 0.5]]


def _at_region(points: np.ndarray, region: np.ndarray | None) -> bool:
    """Whether any of the points lies in the region grown by half its size (no region: yes)."""
    if region is None:
        return True
    x0, y0, x1, y1 = region
    gx, gy = 0.5 * (x1 - x0), 0.5 * (y1 - y0)
    xs, ys = points[:, 0], points[:, 1]
    return bool(np.any((xs >= x0 - gx) & (xs <= x1 + gx) & (ys >= y0 - gy) & (ys <= y1 + gy)))


class _Scene:
    """Everything drawn on a frame, precomputed from the analysis."""

    def __init__(self, analysis: Analysis, width: int, height: int) -> None:
        res, osc, trace = analysis.result, analysis.oscillation, analysis.trace
        self.w, self.h = width, height
        self.scale = width / max(1, analysis.info.width)
        self.site = concrete_site(res.site)
        roi = res.tracking.roi
        self.roi = (
            (roi.x * width, roi.y * height, (roi.x + roi.w) * width, (roi.y + roi.h) * height)
            if roi
            else None
        )
        self.trace_t = trace.time_s
        self.cam = trace.camera_xy_px
        self.region = trace.region_px * self.scale if trace.region_px is not None else None
        point = trace.point_px if trace.point_px is not None else np.full((len(trace.time_s), 2), np.nan)
        seen = np.all(np.isfinite(point), axis=1)
        self.point_t, self.point = trace.time_s[seen], point[seen] * self.scale
        self.sig_t = osc.time_s
        self.sig = unit_scaled(osc.filtered)
        self.episodes = [
            (e.start_s, e.end_s, np.asarray(e.beat_times_s), e.frequency_hz) for e in res.episodes
        ]
        self.beats = np.sort(np.concatenate([e[2] for e in self.episodes])) if self.episodes else np.zeros(0)
        self.events = [(e.time_s, e.kind) for e in res.events]  # the examiner's stretches and releases
        self.panel_h = max(96, int(0.26 * min(width, height)) // 2 * 2)
        self.font = max(0.4, min(width, height) / 700)
        self.headline = headline(res, self.site)

    @staticmethod
    def _at(times: np.ndarray, series: np.ndarray, t: float) -> np.ndarray | None:
        if not len(times):
            return None
        return np.array([np.interp(t, times, series[:, k]) for k in range(series.shape[1])])

    def _region_at(self, t: float) -> np.ndarray | None:
        """The tracked region at ``t`` (output pixels); else the first region carried by the camera."""
        if self.region is not None and len(self.trace_t):
            return self._at(self.trace_t, self.region, t)
        if self.roi is None:
            return None
        cam = self._at(self.trace_t, self.cam, t)
        cam = np.zeros(2) if cam is None else cam * self.scale
        return np.asarray(self.roi) + np.tile(cam, 2)

    def _episode_at(self, t: float) -> int | None:
        for i, (a, b, _, _) in enumerate(self.episodes):
            if a <= t <= b:
                return i
        return None

    def marks(self, img: np.ndarray, t: float, det: Detection | None) -> None:
        """The region, the tracked point, the beats and the landmarks, drawn into the picture
        (before faces are obscured: no mark crosses a face)."""
        box = self._region_at(t)
        if det is not None:
            self._landmarks(img, det, box)
        if box is not None:  # the region as it moved with the part
            x0, y0, x1, y1 = (int(round(v)) for v in box)
            cv2.rectangle(img, (x0, y0), (x1, y1), _ROI, 2, cv2.LINE_AA)
        point = self._at(self.point_t, self.point, t)
        if point is not None:
            p = (int(round(point[0])), int(round(point[1])))
            cv2.circle(img, p, max(3, int(4 * self.font)), _POINT, -1, cv2.LINE_AA)
            if len(self.beats) and np.any((self.beats <= t) & (self.beats > t - FLASH_S)):
                cv2.circle(img, p, int(22 * self.font), _EPISODE, max(2, int(3 * self.font)), cv2.LINE_AA)

    def draw(self, img: np.ndarray, t: float) -> np.ndarray:
        """The words and the panel, over the (obscured) picture."""
        ep = self._episode_at(t)
        _text(img, self.headline, (10, int(30 * self.font) + 6), self.font)
        if ep is not None:
            start, _end, beats, freq = self.episodes[ep]
            done = int(np.sum(beats <= t))
            cv2.rectangle(img, (1, 1), (self.w - 2, self.h - 2), _EPISODE, max(3, int(4 * self.font)))
            _text(img, f"episode {ep + 1}: beat {done}/{len(beats)}  {freq:.1f} Hz  t={t - start:.1f} s",
                  (10, int(64 * self.font) + 10), self.font, _EPISODE)  # fmt: skip
        for at, kind in self.events:
            if at <= t < at + EVENT_S:
                _text(img, kind, (10, int(98 * self.font) + 14), self.font, _EVENT)
        return np.vstack([img, self._panel(t)])

    def _landmarks(self, img: np.ndarray, det: Detection, region: np.ndarray | None) -> None:
        """The landmarks that placed the region: the limb lines of a person whose limb is at the
        region (another person's, a bystander's, are not drawn: they would only cover the picture)."""
        if self.site == "jaw":
            for face in (f for f in det.faces if _at_region(f.xy_px[list(LOWER_JAW)], region)):
                for x, y in face.xy_px[list(LOWER_JAW)]:
                    cv2.circle(img, (int(x), int(y)), 2, _POINT, -1, cv2.LINE_AA)
            return
        for person in (p for p in det.pose if _at_region(_limb_points(p, self.site), region)):
            for side in ("left", "right"):
                for a, b in _LIMB_LINES.get(self.site, ()):
                    ia, ib = POSE.get(f"{side}_{a}"), POSE.get(f"{side}_{b}")
                    if ia is None or ib is None or min(person.visibility[ia], person.visibility[ib]) < 0.5:
                        continue
                    pa, pb = person.xy_px[ia], person.xy_px[ib]
                    cv2.line(img, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), (255, 255, 255), 2,
                             cv2.LINE_AA)  # fmt: skip
                    for q in (pa, pb):
                        cv2.circle(img, (int(q[0]), int(q[1])), 4, _POINT, -1, cv2.LINE_AA)

    def _panel(self, t: float) -> np.ndarray:
        w, ph = self.w, self.panel_h
        panel = np.full((ph, w, 3), 24, np.uint8)
        t0, span = t - WINDOW_S[0], WINDOW_S[0] + WINDOW_S[1]

        def x_of(tt: float) -> int:
            return int(round((tt - t0) / span * (w - 1)))

        mid, amp = ph // 2 + 6, 0.4 * (ph - 12)
        for a, b, _, _ in self.episodes:
            if b >= t0 and a <= t0 + span:
                cv2.rectangle(panel, (max(0, x_of(a)), 12), (min(w - 1, x_of(b)), ph - 1), (70, 45, 10), -1)
        if len(self.sig):
            grid = np.linspace(t0, t0 + span, w)
            inside = (grid >= self.sig_t[0]) & (grid <= self.sig_t[-1])
            ys = mid - amp * np.interp(grid, self.sig_t, self.sig)
            pts = np.stack([np.arange(w), ys], axis=1)[inside].astype(np.int32)
            if len(pts) > 1:
                cv2.polylines(panel, [pts], False, _TRACE, 1, cv2.LINE_AA)
        for bt in self.beats[(self.beats >= t0) & (self.beats <= t0 + span)]:
            color = _EPISODE if bt <= t else (110, 110, 110)
            cv2.line(panel, (x_of(bt), 14), (x_of(bt), 24), color, 2)
        for at, kind in self.events:
            if t0 <= at <= t0 + span:
                cv2.line(panel, (x_of(at), 12), (x_of(at), ph - 1), _EVENT, 2)
                _text(panel, kind, (x_of(at) + 3, ph - 6), 0.6 * self.font, _EVENT)
        cv2.line(panel, (x_of(t), 12), (x_of(t), ph - 1), _CURSOR, 1)
        _text(
            panel,
            "displacement (band-passed)",
            (6, 12 + int(12 * self.font)),
            0.7 * self.font,
            (200, 200, 200),
        )
        return panel


def render_overlay(
    video: str | Path,
    analysis: Analysis,
    out: str | Path,
    *,
    deidentify: bool = True,
    max_side_px: int = MAX_SIDE_PX,
    progress: Callable[[float], None] | None = None,
) -> Path:
    """Write the overlay video; returns its path. Raises OverlayUnavailableError when faces
    should be obscured but the landmark models are missing (nothing identifying is written).
    """
    info = analysis.info
    w, h = overlay_size(info.width, info.height, max_side_px)
    scene = _Scene(analysis, w, h)
    finder = _face_finder(scene.site, deidentify)
    step = max(1, int(round(info.measured_fps / DETECTIONS_PER_S)))
    hold_s = 1.6 * step / max(1.0, info.measured_fps)
    latency_s = hold_s + SWEEP_DETECTIONS * step / max(1.0, info.measured_fps)  # faces followed back
    n_total = max(1, info.frame_count)
    try:
        with (
            atomic_path(Path(out)) as tmp,
            VideoWriter(tmp, width=w, height=h + scene.panel_h, fps=info.measured_fps, crf=23) as writer,
        ):
            composer = _Composer(scene, writer, finder, (hold_s, latency_s), deidentify)
            for i, (frame, searched) in enumerate(_frames(video, info, w, h, search=finder is not None)):
                composer.add(frame, detect=i % step == 0, searched=searched)
                if progress is not None and i % 30 == 0:
                    progress(min(1.0, i / n_total))
            composer.flush()
    finally:
        if finder is not None:
            finder.close()
    return Path(out)


def _frames(video: str | Path, info, w: int, h: int, *, search: bool):
    """Each frame at the overlay's size, and where faces are searched: the same frame at up to
    DETECT_MAX_SIDE_PX (a face 16 px wide in the recording is 9 px in a 720-px overlay)."""
    search_side = min(max(info.width, info.height), DETECT_MAX_SIDE_PX) if search else max(w, h)
    for frame in iter_frames(video, info, max_side_px=max(search_side, w, h)):
        searched = frame.image
        if searched.shape[:2] != (h, w):
            small = cv2.resize(searched, (w, h), interpolation=cv2.INTER_AREA)
            frame = type(frame)(frame.index, frame.time_s, small)
        yield frame, searched


def _face_finder(site: str, deidentify: bool) -> FaceFinder | None:
    """The face finder for the overlay; None where the models are missing and faces need not
    be obscured. Raises OverlayUnavailableError where they must be."""
    from models.registry import ModelUnavailableError, model_path

    try:
        face_model = model_path("face_landmarker")
        detector_model = model_path("face_detector")
        pose_model = model_path("pose_landmarker_full") if site != "jaw" else None
    except ModelUnavailableError as exc:
        if deidentify:
            raise OverlayUnavailableError(f"faces cannot be obscured: {exc}") from exc
        return None
    return FaceFinder(site=site, face_model=face_model, pose_model=pose_model, detector_model=detector_model)


class _Composer:
    """Frames drawn and written in order, each held back until the faces found around it are
    known (up to ``latency_s`` later: a face found later is followed back), so that a face is
    obscured from its first frame. A detection's regions cover ``hold_s`` either side of it."""

    def __init__(self, scene: _Scene, writer: VideoWriter, finder: FaceFinder | None,
                 hold_latency_s: tuple[float, float], deidentify: bool) -> None:  # fmt: skip
        self._scene, self._writer, self._finder = scene, writer, finder
        (self._hold_s, self._latency_s), self._deidentify = hold_latency_s, deidentify
        self._detections: deque[Detection] = deque()
        self._pending: deque = deque()
        self._t_first: float | None = None
        self._last_t = -1.0
        self._last: tuple | None = None  # the newest frame, and the image searched for it

    def add(self, frame, detect: bool, searched: np.ndarray | None = None) -> None:
        """``searched``: the same frame, larger, where faces are looked for (default the frame)."""
        detections, pending = self._detections, self._pending
        self._t_first = frame.time_s if self._t_first is None else self._t_first
        self._last = (frame, frame.image if searched is None else searched)
        if self._finder is not None and detect:
            self._search(*self._last)
        pending.append(frame)
        newest = detections[-1].time_s if detections else frame.time_s
        while pending and (self._finder is None or newest >= pending[0].time_s + self._latency_s):
            self._emit(pending.popleft())
        while detections and detections[0].time_s < (pending[0].time_s if pending else newest) - self._hold_s:
            detections.popleft()

    def _keep(self, found: Detection) -> None:
        """A new detection, or an earlier one revised (the same time)."""
        for k, d in enumerate(self._detections):
            if d.time_s == found.time_s:
                self._detections[k] = found
                return
        self._detections.append(found)

    def _search(self, frame, image: np.ndarray) -> None:
        for found in self._finder.detect(image, frame.time_s):
            self._keep(found.scaled(frame.image.shape[1] / image.shape[1]))

    def flush(self) -> None:
        """The frames held back, the last one searched too (no detection after it to hold from)."""
        newest = self._detections[-1].time_s if self._detections else None
        if self._finder is not None and self._last is not None and self._last[0].time_s != newest:
            self._search(*self._last)
        while self._pending:
            self._emit(self._pending.popleft())

    def _emit(self, frame) -> None:
        t = frame.time_s
        covering = near(self._detections, t, self._hold_s)
        image = frame.image
        det = min(covering, key=lambda d: abs(d.time_s - t)) if covering else None
        self._scene.marks(image, t, det)
        if self._deidentify:
            image = obscure(image, to_obscure(covering, t))
        composed = self._scene.draw(image, t)
        self._last_t = max(t - self._t_first, self._last_t + 1e-4)
        self._writer.write(composed, self._last_t)
