"""De-identify exam video: find faces (or, for the jaw, eyes) and obscure them.

Faces are found by a face detector made for it (BlazeFace full range) on the whole frame and
on overlapping tiles of two sizes (a tile is the detector's own input size at the smallest, so a
face about 16 px wide in a wide shot is found too), with the face landmarker (on the frame and
on tiles) and the face points of any pose found as more evidence: a face any of them finds is
obscured. Detection runs on every few frames: the whole frame each time, the tiles in turn
(each once a sweep), each face found followed to the next detection in a crop around it, and a
face found for the first time followed back through the sweep before it, so that a face is
obscured from the first frame it is in view, not from the tile's turn.
A region is obscured by pixelation followed by a blur, strong enough that a face detector
no longer finds a face there. A region found at one detection is held until the next one and
back to the previous one, and moved between the places a face was found, so motion between
detections stays covered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from vision.closing import Closing
from vision.locate.landmarks import (
    EYES,
    FaceDetector,
    FaceLandmarker,
    Landmarks,
    PoseLandmarker,
    largest_face,
)

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
_POSE_FACE = tuple(range(11))  # BlazePose nose, eyes, ears, mouth
_TILE_GRID = 2  # tiles per side, with 25 % overlap, besides the whole frame
DETECTOR_TILES_PX = (384, 192)  # tile sides (the detector takes 192 px: no face shrinks in the smallest)
SWEEP_DETECTIONS = 6  # every tile is searched once in this many detections
FOLLOW_CROP = 4.0  # a face is followed in a square this many times its size ...
FOLLOW_MIN_PX = 96  # ... and at least this wide
FOUND_WHOLE = 1.33  # a face found before only in part (a box this much smaller) is followed back
MIN_FACE_PX = 10  # a smaller "face" is the detector's noise (the faces to find are 16 px and up)
# The detector's box runs from about the brows to the chin: on the hand-marked faces of the photos
# its top lies 0.1-0.4 of the face's height below the face's (forehead and hairline left out).
DETECTED_UP = 0.6
HELD_DETECTIONS = 2 * SWEEP_DETECTIONS  # a face lost is obscured where last found this long, looked for


@dataclass(frozen=True)
class Detection:
    """What one detection frame found: regions to obscure and landmarks to draw."""

    time_s: float
    boxes: tuple[Box, ...]
    pose: tuple[Landmarks, ...] = ()
    faces: tuple[Landmarks, ...] = ()

    def scaled(self, k: float) -> Detection:
        """The same, in the pixels of an image ``k`` times the size of the one searched."""
        if k == 1.0:
            return self

        def marks(found):
            return tuple(Landmarks(m.xy_px * k, m.visibility) for m in found)

        boxes = tuple(tuple(v * k for v in box) for box in self.boxes)
        return Detection(self.time_s, boxes, marks(self.pose), marks(self.faces))


def _pad(box: Box, frac: float, up: float | None = None) -> Box:
    """The box grown by ``frac`` of its size on each side (by ``up`` above, where given). It may
    run past the frame's edge: a face there is obscured by the part of its ellipse in view."""
    x0, y0, x1, y1 = box
    px, py = frac * (x1 - x0), frac * (y1 - y0)
    return x0 - px, y0 - (frac if up is None else up) * (y1 - y0), x1 + px, y1 + py


def _head(detected: Box) -> Box:
    """What to obscure of a face the detector found: its box, grown to take in the forehead."""
    return _pad(detected, 0.3, up=DETECTED_UP)


def _whole_face(face: Landmarks) -> Box:
    """What to obscure of a landmarked face: its mesh's bounds, grown by a quarter."""
    return _pad(_bounds(face.xy_px), 0.25)


def _bounds(points: np.ndarray) -> Box:
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def _tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The whole frame, then a grid of overlapping tiles."""
    out = [(0, 0, width, height)]
    tw, th = int(width / (_TILE_GRID - 0.25 * (_TILE_GRID - 1))), int(height / (_TILE_GRID - 0.25))
    for gy in range(_TILE_GRID):
        for gx in range(_TILE_GRID):
            x0, y0 = min(width - tw, int(gx * 0.75 * tw)), min(height - th, int(gy * 0.75 * th))
            out.append((x0, y0, x0 + tw, y0 + th))
    return out


def _square_tiles(width: int, height: int, side: int) -> list[tuple[int, int, int, int]]:
    """Tiles of ``side`` px overlapping by a quarter, covering the frame (none if it is smaller)."""
    if side * 1.5 > max(width, height):
        return []
    step = int(side * 0.75)
    xs = sorted({*range(0, max(1, width - side), step), max(0, width - side)})
    ys = sorted({*range(0, max(1, height - side), step), max(0, height - side)})
    return [(x, y, min(width, x + side), min(height, y + side)) for y in ys for x in xs]


def _offset(boxes: Iterable[Box], x0: float, y0: float) -> list[Box]:
    return [(a + x0, b + y0, c + x0, d + y0) for a, b, c, d in boxes]


def _crop_around(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """A square about a face, FOLLOW_CROP times its size (at least FOLLOW_MIN_PX), in the frame."""
    side = max(FOLLOW_CROP * max(box[2] - box[0], box[3] - box[1]), FOLLOW_MIN_PX)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0, y0 = int(max(0, min(width - side, cx - side / 2))), int(max(0, min(height - side, cy - side / 2)))
    return x0, y0, int(min(width, x0 + side)), int(min(height, y0 + side))


def _same_face(a: Box, b: Box, size: float = 2.0) -> bool:
    """Boxes of one face a detection apart: sizes within ``size`` times and centres within two
    widths (a face crossing the frame in 1.5 s moves that far between detections)."""
    wa, wb = a[2] - a[0], b[2] - b[0]
    return 1 / size <= wa / max(wb, 1e-6) <= size and _gap(a, b) <= 2 * max(wa, wb)


def _gap(a: Box, b: Box) -> float:
    """The distance between two boxes' centres."""
    return float(np.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2))


def _matched(first: list[Box], second: list[Box], size: float = 2.0) -> dict[int, int]:
    """Boxes of ``first`` paired one to one with the same face in ``second`` (nearest first):
    index in first → index in second. Neighbours in a group stay apart."""
    pairs = sorted((_gap(a, b), i, j) for i, a in enumerate(first) for j, b in enumerate(second)
                   if _same_face(a, b, size))  # fmt: skip
    out: dict[int, int] = {}
    for _, i, j in pairs:
        if i not in out and j not in out.values():
            out[i] = j
    return out


def _distinct(boxes: list[Box]) -> list[Box]:
    """One box per face: the largest of those whose centres fall inside one another."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1])):
        if not any(_centre_in(box, k) for k in kept):
            kept.append(box)
    return kept


@dataclass
class _Searched:
    """One detection frame, kept while faces found later may be followed back into it."""

    time_s: float
    image: np.ndarray
    faces: list[Box]  # the detector's boxes, unpadded
    held: list[Box]  # faces found before and lost since: still obscured where last seen
    landmarked: tuple[Landmarks, ...]
    pose: tuple[Landmarks, ...]


class FaceFinder(Closing):
    """Finds what to obscure, frame after frame: faces for limb sites, eyes for the jaw.

    Each call runs the face detector on the whole frame, on a share of the tiles (every tile
    once per SWEEP_DETECTIONS calls) and about each face found in the call before (followed);
    a face found for the first time (or whole for the first time) is followed back through the
    frames since the last sweep, which come back as revised detections. A face the detector
    loses (turned away, at a tile's edge) stays obscured where it was last found for two
    sweeps, and is looked for there.
    """

    def __init__(self, *, site: str, face_model: str, pose_model: str | None, detector_model: str) -> None:
        self.site = site
        self._face = FaceLandmarker(face_model, video=False)
        self._detector = FaceDetector(detector_model, video=False)
        self._pose = PoseLandmarker(pose_model, video=False) if pose_model and site != "jaw" else None
        self._recent: deque[_Searched] = deque(maxlen=SWEEP_DETECTIONS)
        self._lost: list[tuple[Box, int]] = []  # (where last found, detections since)
        self._turn = 0

    def close(self) -> None:
        self._face.close()
        self._detector.close()
        if self._pose is not None:
            self._pose.close()

    def detect(self, image_rgb: np.ndarray, time_s: float) -> list[Detection]:
        """Detections: this frame's last, before it earlier ones revised (same ``time_s``)."""
        h, w = image_rgb.shape[:2]
        turn, self._turn = self._turn, self._turn + 1
        tiles = [t for side in DETECTOR_TILES_PX for t in _square_tiles(w, h, side)]
        faces = self._boxes(image_rgb, [(0, 0, w, h), *tiles[turn % SWEEP_DETECTIONS :: SWEEP_DETECTIONS]])
        before = self._recent[-1].faces if self._recent else []
        faces = _distinct(faces + self._follow(image_rgb, before + [b for b, _ in self._lost]))
        known = [(b, 0) for b in before] + self._lost
        matched = _matched([b for b, _ in known], faces)
        self._lost = [(b, age + 1) for i, (b, age) in enumerate(known)
                      if age < HELD_DETECTIONS and i not in matched]  # fmt: skip
        lm_tiles = _tiles(w, h)  # the jaw's face fills the frame: the whole frame only
        tile = [] if self.site == "jaw" else [lm_tiles[1 + turn % (len(lm_tiles) - 1)]]
        landmarked = self._landmarks(image_rgb, [lm_tiles[0], *tile])
        pose = tuple(self._pose.detect(image_rgb)) if self._pose is not None else ()
        now = _Searched(time_s, image_rgb, faces, [b for b, _ in self._lost], landmarked, pose)
        found_before = set(_matched(before, faces, size=FOUND_WHOLE).values())
        fresh = [b for j, b in enumerate(faces) if j not in found_before] if self._recent else []
        revised = self._follow_back(fresh)
        self._recent.append(now)
        return [self._detection(s) for s in revised] + [self._detection(now)]

    def _boxes(self, image: np.ndarray, tiles: Iterable[tuple[int, int, int, int]]) -> list[Box]:
        found: list[Box] = []
        for x0, y0, x1, y1 in tiles:
            found += _offset(self._detector.detect_boxes(image[y0:y1, x0:x1]), x0, y0)
        return [b for b in found if b[2] - b[0] >= MIN_FACE_PX]

    def _follow(self, image: np.ndarray, faces: Iterable[Box]) -> list[Box]:
        """The faces found about where ``faces`` were (each followed in a crop around it)."""
        h, w = image.shape[:2]
        return self._boxes(image, [_crop_around(b, w, h) for b in faces])

    def _follow_back(self, fresh: list[Box]) -> list[_Searched]:
        """Each face found for the first time, followed back through the recent frames."""
        revised: dict[int, _Searched] = {}
        for box in fresh:
            for k in range(len(self._recent) - 1, -1, -1):
                seen = self._recent[k]
                candidates = [c for c in self._follow(seen.image, [box]) if _same_face(c, box)]
                if not candidates:
                    break  # not yet in view there
                # Every candidate is kept (a fast face may not be the nearest one); the nearest is
                # followed on. A box there already may have been a part of it.
                seen.faces = _distinct([*seen.faces, *candidates])
                box = min(candidates, key=lambda c: _gap(c, box))
                revised[k] = seen
        return [revised[k] for k in sorted(revised)]

    def _landmarks(self, image: np.ndarray, tiles: list[tuple[int, int, int, int]]) -> tuple[Landmarks, ...]:
        found: list[Landmarks] = []
        for x0, y0, x1, y1 in tiles:
            for face in self._face.detect(image[y0:y1, x0:x1]):
                found.append(Landmarks(face.xy_px + np.array([x0, y0]), face.visibility))
        return tuple(found)

    def _detection(self, seen: _Searched) -> Detection:
        detected = seen.faces + seen.held
        if self.site == "jaw":
            faces = seen.landmarked
            return Detection(seen.time_s, tuple(_jaw_boxes(faces, detected)), seen.pose, faces)
        boxes = [_whole_face(f) for f in seen.landmarked] + [_head(b) for b in detected]
        return Detection(seen.time_s, tuple(boxes + _pose_heads(seen.pose)), seen.pose, seen.landmarked)


def _pose_heads(pose: tuple[Landmarks, ...]) -> list[Box]:
    """A head box around each seen pose's face points."""
    boxes = []
    for person in pose:
        if person.visibility[list(_POSE_FACE)].mean() < 0.3:
            continue
        x0, y0, x1, y1 = _bounds(person.xy_px[list(_POSE_FACE)])
        size = max(x1 - x0, y1 - y0)  # ear to ear: the head is about twice that
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        boxes.append((cx - size, cy - 1.2 * size, cx + size, cy + size))
    return boxes


def _jaw_boxes(faces: tuple[Landmarks, ...], detected: list[Box]) -> list[Box]:
    """The jaw exam films the patient's lower face: of the patient's face (the largest
    landmarked one, as the exam's region is placed), everything above the lower eyelids (eyes,
    brows, forehead, hairline) is obscured; every other face, landmarked or found (a box mostly
    outside the patient's face), whole."""
    if not faces:
        return [_head(b) for b in detected]
    patient = largest_face(faces)
    fx0, fy0, fx1, fy1 = face = _bounds(patient.xy_px)
    eyes_bottom = _bounds(patient.xy_px[list(EYES)])[3]
    pad = 0.1 * (fy1 - fy0)
    boxes = [(fx0 - pad, fy0 - 0.4 * (fy1 - fy0), fx1 + pad, eyes_bottom + pad)]
    boxes += [_whole_face(f) for f in faces if f is not patient]
    return boxes + [_head(b) for b in detected if _inside_share(b, face) <= 0.3]


def _inside_share(box: Box, other: Box) -> float:
    """The share of ``box``'s area that lies inside ``other``."""
    w = max(0.0, min(box[2], other[2]) - max(box[0], other[0]))
    h = max(0.0, min(box[3], other[3]) - max(box[1], other[1]))
    return w * h / max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)


def _centre_in(box: Box, other: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return other[0] <= cx <= other[2] and other[1] <= cy <= other[3]


def near(detections: Iterable[Detection], time_s: float, hold_s: float) -> list[Detection]:
    """The detections that cover ``time_s``: every one within ``hold_s`` of it."""
    return [d for d in detections if abs(d.time_s - time_s) <= hold_s]


def to_obscure(covering: list[Detection], time_s: float) -> list[Box]:
    """Every box of the detections around ``time_s``, and where each face that moved between
    a detection before and one after is at ``time_s`` (a face moving across the frame is
    between the places it was found, also where one detection in between missed it). A box
    in between is grown by a quarter of the way the face went (it need not go at an even pace,
    and the faster it goes, the less its boxes agree)."""
    boxes = [box for d in covering for box in d.boxes]
    for d0 in (d for d in covering if d.time_s <= time_s):
        for d1 in (d for d in covering if d.time_s > time_s):
            u = (time_s - d0.time_s) / max(d1.time_s - d0.time_s, 1e-9)
            boxes += [_grown(_lerp(b0, b1, u), 0.25 * _gap(b0, b1)) for b0, b1 in _pairs(d0.boxes, d1.boxes)]
    # A box held over several detections is obscured once; the larger first, so that no edge of
    # a large one's blur cuts through a small face obscured before it.
    return sorted(dict.fromkeys(boxes), key=lambda b: (b[0] - b[2]) * (b[3] - b[1]))


def _pairs(first: tuple[Box, ...], second: tuple[Box, ...]) -> list[tuple[Box, Box]]:
    """Each box of ``first`` with the nearest of ``second``, where that is within 1.5 widths."""
    out = []
    for b0 in first:
        near_ = [(_gap(b0, b), b) for b in second]
        if near_:
            dist, b1 = min(near_)
            if dist <= 1.5 * max(b0[2] - b0[0], b1[2] - b1[0]):
                out.append((b0, b1))
    return out


def _grown(box: Box, by: float) -> Box:
    return box[0] - by, box[1] - by, box[2] + by, box[3] + by


def _lerp(b0: Box, b1: Box, u: float) -> Box:
    return tuple(a + (b - a) * u for a, b in zip(b0, b1, strict=True))


def obscure(image: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """Pixelate each box to about 5 × 5 cells, smoothed (an ellipse filling the box, cut at the
    frame's edge, feathered), in place; returns the image."""
    h, w = image.shape[:2]
    for x0, y0, x1, y1 in boxes:
        ix0, iy0 = max(0, int(x0)), max(0, int(y0))
        ix1, iy1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
        bw, bh = ix1 - ix0, iy1 - iy0
        if bw < 2 or bh < 2:
            continue
        patch = image[iy0:iy1, ix0:ix1]
        ew, eh = max(bw, x1 - x0), max(bh, y1 - y0)  # the whole ellipse's size
        cells = (max(1, round(bw / max(4, ew / 5))), max(1, round(bh / max(4, eh / 5))))
        coarse = cv2.resize(patch, cells, interpolation=cv2.INTER_AREA)
        # The cells' means, interpolated: as smooth as a blur of the blocks, at a fraction of its cost.
        block = cv2.resize(coarse, (bw, bh), interpolation=cv2.INTER_LINEAR)
        mask = np.zeros((bh, bw), np.float32)
        centre = (round((x0 + x1) / 2 - ix0), round((y0 + y1) / 2 - iy0))
        cv2.ellipse(mask, centre, (round(ew / 2), round(eh / 2)), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.03 * max(ew, eh)))[..., None]
        patch[:] = (patch * (1 - mask) + block * mask).astype(image.dtype)
    return image
