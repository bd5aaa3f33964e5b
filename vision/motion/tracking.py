"""Measure the body part's motion to sub-pixel precision, camera motion removed.

Pyramidal Lucas–Kanade optical flow on features inside the region measures the motion, each
feature's step taken relative to where the camera alone would have carried it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from vision.motion.camera import _Camera, _camera_ahead
from vision.motion.flow import _LK, _flow, _topped_up
from vision.motion.geometry import _apply, _rotation_deg, roi_to_px
from vision.schema import Roi
from vision.video.decode import Frame

# The part's features are topped up this often (frames): the fast-moving ones are the first
# to fail the forward–backward check, and a region around a joint holds more still features
# than moving ones, so waiting for the total to drop can leave the part untracked for beats.
_PART_TOP_UP_FRAMES = 5
# The part's optical flow: a 21-px window over four pyramid levels, each feature tracked back
# to where it started. Cheaper settings lose beats and whole exams (python -m tools.tracker_cost).
_PART_LK = _LK
_PART_BACK_CHECK = True
# Whether a feature is on the moving part is judged on its steps this long either side: a
# few beats at the slowest clonus (3 Hz), shorter than the exam's phases (rest, stretch, hold).
_MOVER_REACH_S = 0.5


@dataclass
class MotionTrace:
    """Per-frame displacement of the part (camera removed), in pixels of the source video."""

    time_s: np.ndarray
    xy_px: np.ndarray  # (n, 2) cumulative displacement
    valid: np.ndarray  # (n,) the part was tracked in this frame
    camera_xy_px: np.ndarray  # (n, 2) cumulative camera motion that was removed
    feature_survival: float
    mean_brightness: np.ndarray  # (n,) whole-frame brightness (flicker, darkness)
    sharpness: np.ndarray  # (n,) variance of the Laplacian inside the region (blur)
    point_px: np.ndarray | None = None  # (n, 2) the moving part (median of its features); NaN: lost
    angle_deg: np.ndarray | None = None  # (n,) the part's rotation, accumulated; counter-clockwise as seen
    region_px: np.ndarray | None = None  # (n, 4) x0, y0, x1, y1: the region as it moved with the part


@dataclass
class _Step:
    """One frame's tracked part features: ids, where they were (camera-steadied) and their
    own step (camera removed), in tracking pixels."""

    ids: np.ndarray
    before: np.ndarray  # (k, 2)
    step: np.ndarray  # (k, 2)

    @property
    def after(self) -> np.ndarray:
        return self.before + self.step


# Steps whose features' local energies are worked out at a time (with ``reach`` either side):
# the flat arrays of every feature's every step stay small however long the recording.
_ENERGY_CHUNK_STEPS = 512


def _local_energy(log: list[_Step], reach: int) -> list[np.ndarray]:
    """Per step, each tracked feature's mean squared step over its own steps within ``reach``
    steps either side (a feature is followed without a break from when it is found until it
    is lost), and 0 for a feature that lived fewer than three steps."""
    ids = np.concatenate([st.ids for st in log] or [np.zeros(0, np.int64)])
    known, lives = np.unique(ids, return_counts=True)
    out: list[np.ndarray] = []
    for a in range(0, len(log), _ENERGY_CHUNK_STEPS):
        b = min(len(log), a + _ENERGY_CHUNK_STEPS)
        lo, hi = max(0, a - reach), min(len(log), b + reach)
        out += _local_energy_within(log[lo:hi], reach, known, lives)[a - lo : b - lo]
    return out


def _local_energy_within(
    log: list[_Step], reach: int, known: np.ndarray, lives: np.ndarray
) -> list[np.ndarray]:
    """``_local_energy`` over a stretch of steps (the answer holds for steps at least ``reach``
    from its ends); ``known``, ``lives``: every feature's id and how many steps it lived."""
    n = [len(st.ids) for st in log]
    ids = np.concatenate([st.ids for st in log] or [np.zeros(0, np.int64)])
    at = np.repeat(np.arange(len(log)), n)
    s2 = np.concatenate([(st.step**2).sum(axis=1) for st in log] or [np.zeros(0)])
    order = np.lexsort((at, ids))
    ids_s, s2_s = ids[order], s2[order]
    first = np.r_[True, ids_s[1:] != ids_s[:-1]]
    g0 = np.maximum.accumulate(np.where(first, np.arange(len(ids_s)), 0))  # its first entry here
    g1 = np.r_[np.flatnonzero(first)[1:], len(ids_s)][np.cumsum(first) - 1]  # one past its last
    i = np.arange(len(ids_s))
    lo, hi = np.maximum(g0, i - reach), np.minimum(g1, i + reach + 1)
    c = np.r_[0.0, np.cumsum(s2_s)]
    lived = lives[np.searchsorted(known, ids_s)] if len(ids_s) else np.zeros(0, np.int64)
    local = np.where(lived >= 3, (c[hi] - c[lo]) / np.maximum(hi - lo, 1), 0.0)
    out = np.empty(len(ids))
    out[order] = local
    return np.split(out, np.cumsum(n)[:-1])


def _moving_steps(log: list[_Step], reach: int) -> tuple[list[np.ndarray | None], np.ndarray, np.ndarray]:
    """Per step, the median step of the features that move (the part), not of the still ones;
    where those features are (median position; NaN where none was tracked); and the movers'
    rotation (degrees; 0 where fewer than three were tracked).

    A region around a joint holds both the moving part and still skin or background. Each
    feature's mean squared step over the steps around this one (``reach`` either side) says
    whether it belongs to the moving part now; the median is taken over those above a
    fraction of the strongest movers of the moment. Judged over the whole recording, the
    examiner's hand sweeping through the region would make the beating part's features look
    still beside it.

    A feature that lived only while the part was still (after the beats died out, the movers
    having been lost and replaced) cannot be told apart by its steps: where fewer than two
    movers are left, the features nearest to where the movers were stand in for them, so the
    last, fading beats are measured on the part and not on the still skin around it.
    """
    energy = _local_energy(log, reach)
    picks = [e >= max(0.3 * float(np.percentile(e, 95)), 1e-12) if len(e) else e > 0 for e in energy]
    counts = [int(p.sum()) for p in picks if p.sum() >= 2]
    stand_ins = max(3, int(np.median(counts))) if counts else 0
    last: np.ndarray | None = None  # where the part was last seen
    out: list[np.ndarray | None] = []
    where = np.full((len(log), 2), np.nan)
    turn = np.zeros(len(log))
    for n, (st, pick) in enumerate(zip(log, picks, strict=True)):
        if not len(st.step):
            out.append(None)
            continue
        if pick.sum() < 2 and last is not None:
            pick = np.zeros(len(st.ids), bool)
            pick[np.argsort(np.hypot(*(st.before - last).T))[:stand_ins]] = True
        elif pick.sum() < 2:
            pick = np.ones(len(st.ids), bool)
        out.append(np.median(st.step[pick], axis=0))
        where[n] = np.median(st.after[pick], axis=0)
        if stand_ins:
            last = where[n]
        if pick.sum() >= 3:
            turn[n] = _rotation_deg(st.before[pick], st.after[pick])
    return out, where, turn


def _levelled(frames: Iterable[Frame]) -> Iterator[tuple[Frame, np.ndarray, float]]:
    """Each frame with its gray image brought to the first frame's brightness (LED flicker
    and auto-exposure are a gain, taken out), and its own mean brightness."""
    ref_mean = None
    for frame in frames:
        mean = float(frame.image.mean())
        ref_mean = ref_mean or max(mean, 1.0)
        gray = frame.image
        if abs(mean / ref_mean - 1) > 0.01:
            gray = cv2.convertScaleAbs(gray, alpha=ref_mean / max(mean, 1.0))
        yield frame, gray, mean


def _masks(box: tuple[int, int, int, int], w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the part's features are found (the region's box), and where the camera's are
    (outside the region grown by half its size on each side)."""
    x0, y0, x1, y1 = box
    part_mask = np.zeros((h, w), np.uint8)
    part_mask[y0:y1, x0:x1] = 255
    bg_mask = np.full((h, w), 255, np.uint8)
    mx, my = (x1 - x0) // 2, (y1 - y0) // 2
    bg_mask[max(0, y0 - my) : y1 + my, max(0, x0 - mx) : x1 + mx] = 0
    return part_mask, bg_mask


def track_region(
    frames: Iterable[Frame],
    roi: Roi,
    *,
    scale: float = 1.0,
    max_features: int = 120,
    progress: Callable[[int], None] | None = None,
) -> MotionTrace:
    """Measure the region's motion frame by frame (frames are gray, possibly downscaled).

    ``scale`` converts the frames' pixels to source pixels (source = frame × scale). The
    camera's motion between frames is a robust similarity fitted to strong corners outside
    the region, followed on a second thread a few frames ahead; each part feature's step is
    taken relative to where the camera alone would have carried it.
    """
    levelled = _levelled(frames)
    first = next(levelled, None)
    if first is None:
        empty = np.zeros((0, 2))
        return MotionTrace(np.zeros(0), empty, np.zeros(0, bool), empty, 0.0, np.zeros(0), np.zeros(0))
    h, w = first[1].shape
    box = roi_to_px(roi, w, h)
    camera = _Camera(_masks(box, w, h)[1])
    part = _Part(_Region(box, (w, h), camera), max_features, scale)
    stream = itertools.chain([first], levelled)
    with ThreadPoolExecutor(1, thread_name_prefix="camera") as pool:
        for n, (frame, gray, mean, camera_job) in enumerate(_camera_ahead(stream, camera, pool)):
            part.step(n, frame, gray, mean, camera_job)
            if progress is not None:
                progress(frame.index)
    return part.trace()


class _Region:
    """The region, moving with what it holds: the median step of its features (the camera's
    pan, the patient shifting, the stretch carrying the part), grown and shrunk with the
    camera's zoom. New features are found where the part is now, and the camera's corners
    outside where it is now."""

    _REMASK_PX = 4.0  # the masks are redrawn once the region has moved this far

    def __init__(self, box: tuple[int, int, int, int], size: tuple[int, int], camera: _Camera) -> None:
        x0, y0, x1, y1 = box
        self.centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2], float)
        self.half = np.array([(x1 - x0) / 2, (y1 - y0) / 2], float)
        self._size, self._camera = size, camera
        self._drawn = self.centre.copy(), self.half.copy()
        self.mask = _masks(box, *size)[0]

    @property
    def box(self) -> tuple[int, int, int, int]:
        w, h = self._size
        x0, y0 = np.clip(np.round(self.centre - self.half), 0, [w - 4, h - 4]).astype(int)
        x1, y1 = np.clip(np.round(self.centre + self.half), [x0 + 4, y0 + 4], [w, h]).astype(int)
        return int(x0), int(y0), int(x1), int(y1)

    def inside(self) -> bool:
        """The region's centre is still in the frame (the part has not left it)."""
        return bool(np.all((self.centre >= 0) & (self.centre < self._size)))

    def move(self, before: np.ndarray, after: np.ndarray, camera: np.ndarray) -> None:
        """Carry the region by its features' median step (raw: camera included), or by the
        camera alone when none was tracked; scale it by the camera's zoom."""
        zoom = float(np.sqrt(abs(np.linalg.det(camera[:, :2]))))
        if len(before) >= 3:
            self.centre = self.centre + np.median(after - before, axis=0)
        else:
            self.centre = _apply(camera, self.centre)
        self.half = self.half * zoom
        moved = np.abs(self.centre - self._drawn[0]).max() + np.abs(self.half - self._drawn[1]).max()
        if moved >= self._REMASK_PX:
            self._drawn = self.centre.copy(), self.half.copy()
            self.mask, self._camera.mask = _masks(self.box, *self._size)


# A frame whose part features mostly failed the forward–backward check, where a moment ago
# they held, shows the part hidden (the examiner's hand passing over it) or gone: untracked.
_HIDDEN_SURVIVAL = 0.35


def _hidden(attempted: int, survived: int) -> bool:
    return attempted >= 10 and survived < _HIDDEN_SURVIVAL * attempted


class _Part:
    """The part's features followed frame by frame, each step taken relative to where the
    camera alone would have carried it; and what each frame shows of the recording."""

    def __init__(self, region: _Region, max_features: int, scale: float):
        self._region, self._max, self._scale = region, max_features, scale
        self._centre = region.centre.copy()
        self._prev: np.ndarray | None = None
        self._pts: np.ndarray | None = None
        self._ids = np.zeros(0, np.int64)
        self._next_id = 0
        self._cam_pos = np.zeros(2)
        self._attempted = self._survived = 0
        self._log: list[_Step] = []
        self._times: list[float] = []
        self._cam: list[np.ndarray] = []
        self._bright: list[float] = []
        self._sharp: list[float] = []
        self._boxes: list[tuple[int, int, int, int]] = []
        self._hidden: list[bool] = []

    def step(
        self, n: int, frame: Frame, gray: np.ndarray, mean: float, camera_job: Future[np.ndarray]
    ) -> None:
        step = _Step(np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros((0, 2)))
        tracking = self._prev is not None and self._pts is not None and len(self._pts) > 0
        if tracking:
            nxt, ok = _flow(self._prev, gray, self._pts, lk=_PART_LK, back_check=_PART_BACK_CHECK)
            self._attempted += len(self._pts)
            self._survived += int(ok.sum())
        camera = camera_job.result()  # raises what the camera's step raised
        hidden = False
        if tracking:
            before = self._pts.reshape(-1, 2)[ok]
            after = nxt.reshape(-1, 2)[ok]
            steadied = _apply(camera, before)  # where the camera alone would have carried them
            step = _Step(self._ids[ok], steadied, after - steadied)
            self._cam_pos = self._cam_pos + _apply(camera, self._centre) - self._centre
            self._region.move(before, after, camera)
            hidden = _hidden(len(ok), int(ok.sum())) or not self._region.inside()
            self._pts, self._ids = nxt[ok].reshape(-1, 1, 2), self._ids[ok]
        self._log.append(step)
        self._hidden.append(hidden)
        due = n % _PART_TOP_UP_FRAMES == 0
        self._pts, added = _topped_up(gray, self._region.mask, self._pts, self._max, due)
        self._ids = np.concatenate([self._ids, np.arange(self._next_id, self._next_id + added)])
        self._next_id += added
        self._times.append(frame.time_s)
        self._cam.append(self._cam_pos * self._scale)
        self._bright.append(mean)
        x0, y0, x1, y1 = box = self._region.box
        self._boxes.append(box)
        crop = gray[y0:y1, x0:x1]
        self._sharp.append(float(cv2.Laplacian(crop, cv2.CV_32F).var()) if crop.size else 0.0)
        self._prev = gray

    def trace(self) -> MotionTrace:
        pos = np.zeros(2)
        xy, valid = [], []
        rate_hz = 1.0 / float(np.median(np.diff(self._times))) if len(self._times) > 1 else 30.0
        moving, where, turn = _moving_steps(self._log, max(1, round(_MOVER_REACH_S * rate_hz)))
        for i, st in enumerate(moving):
            if st is not None and not self._hidden[i]:  # a hidden part's features jump: no motion
                pos = pos + st
            xy.append(pos * self._scale)
            valid.append((st is not None or i == 0) and not self._hidden[i])
        return MotionTrace(
            time_s=np.asarray(self._times),
            xy_px=np.asarray(xy).reshape(-1, 2),
            valid=np.asarray(valid, bool),
            camera_xy_px=np.asarray(self._cam).reshape(-1, 2),
            feature_survival=float(self._survived / max(1, self._attempted)),
            mean_brightness=np.asarray(self._bright),
            sharpness=np.asarray(self._sharp),
            point_px=where * self._scale,
            angle_deg=np.cumsum(turn),
            region_px=np.asarray(self._boxes, float).reshape(-1, 4) * self._scale,
        )
