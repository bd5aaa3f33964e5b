"""De-identify exam video: find faces (or, for the jaw, eyes) and obscure them.

Faces are found by a face detector made for it (BlazeFace full range) on the whole frame and
on overlapping tiles of two sizes (a tile is the detector's own input size at the smallest, so a
face about 16 px wide in a wide shot is found too), with the face landmarker (on the frame and
on tiles) and the face points of any pose found as more evidence: a face any of them finds is
obscured.
A region is obscured by pixelation followed by a blur, strong enough that a face detector
no longer finds a face there. Detection runs on every few frames; a region found at one
detection is held until the next one and back to the previous one, so motion between
detections stays covered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from vision.closing import Closing
from vision.locate.landmarks import EYES, FaceDetector, FaceLandmarker, Landmarks, PoseLandmarker

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
_POSE_FACE = tuple(range(11))  # BlazePose nose, eyes, ears, mouth
_TILE_GRID = 2  # tiles per side, with 25 % overlap, besides the whole frame
DETECTOR_TILES_PX = (
    384,
    192,
)  # the face detector's tiles (its input is 192 px: no face shrinks in the smallest)


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


def _pad(box: Box, frac: float, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    px, py = frac * (x1 - x0), frac * (y1 - y0)
    return (max(0.0, x0 - px), max(0.0, y0 - py), min(float(width), x1 + px), min(float(height), y1 + py))


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


def _detected_faces(detector: FaceDetector, image: np.ndarray) -> list[Box]:
    """Face boxes from the detector on the whole frame and on its tiles."""
    h, w = image.shape[:2]
    tiles = [(0, 0, w, h)] + [t for side in DETECTOR_TILES_PX for t in _square_tiles(w, h, side)]
    boxes: list[Box] = []
    for x0, y0, x1, y1 in tiles:
        boxes += [
            (a + x0, b + y0, c + x0, d + y0) for a, b, c, d in detector.detect_boxes(image[y0:y1, x0:x1])
        ]
    return boxes


def _faces_in_tiles(face_lm: FaceLandmarker, image: np.ndarray) -> list[Landmarks]:
    h, w = image.shape[:2]
    found: list[Landmarks] = []
    for x0, y0, x1, y1 in _tiles(w, h):
        for face in face_lm.detect(image[y0:y1, x0:x1]):
            found.append(Landmarks(face.xy_px + np.array([x0, y0]), face.visibility))
    return found


class FaceFinder(Closing):
    """Finds what to obscure in one frame: faces for limb sites, eyes for the jaw."""

    def __init__(self, *, site: str, face_model: str, pose_model: str | None, detector_model: str) -> None:
        self.site = site
        self._face = FaceLandmarker(face_model, video=False)
        self._detector = FaceDetector(detector_model, video=False)
        self._pose = PoseLandmarker(pose_model, video=False) if pose_model and site != "jaw" else None

    def close(self) -> None:
        self._face.close()
        self._detector.close()
        if self._pose is not None:
            self._pose.close()

    def detect(self, image_rgb: np.ndarray, time_s: float) -> Detection:
        h, w = image_rgb.shape[:2]
        pose = tuple(self._pose.detect(image_rgb)) if self._pose is not None else ()
        detected = [_pad(b, 0.3, w, h) for b in _detected_faces(self._detector, image_rgb)]
        if self.site == "jaw":
            faces = tuple(self._face.detect(image_rgb))
            return Detection(time_s, tuple(_jaw_boxes(faces, detected, w, h)), pose, faces)
        faces = tuple(_faces_in_tiles(self._face, image_rgb))
        boxes = [_pad(_bounds(f.xy_px), 0.25, w, h) for f in faces] + detected
        return Detection(time_s, tuple(boxes + _pose_heads(pose, w, h)), pose, faces)


def _pose_heads(pose: tuple[Landmarks, ...], w: int, h: int) -> list[Box]:
    """A head box around each seen pose's face points."""
    boxes = []
    for person in pose:
        if person.visibility[list(_POSE_FACE)].mean() < 0.3:
            continue
        x0, y0, x1, y1 = _bounds(person.xy_px[list(_POSE_FACE)])
        size = max(x1 - x0, y1 - y0)  # ear to ear: the head is about twice that
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        boxes.append(_pad((cx - size, cy - 1.2 * size, cx + size, cy + size), 0.0, w, h))
    return boxes


def _jaw_boxes(faces: tuple[Landmarks, ...], detected: list[Box], w: int, h: int) -> list[Box]:
    """The jaw exam films the lower face: of each landmarked face, everything above the lower
    eyelids (eyes, brows, forehead, hairline) is obscured; any other face found, whole."""
    boxes = []
    for face in faces:
        fx0, fy0, fx1, fy1 = _bounds(face.xy_px)
        eyes_bottom = _bounds(face.xy_px[list(EYES)])[3]
        pad = 0.1 * (fy1 - fy0)
        boxes.append(_pad((fx0 - pad, fy0 - 0.4 * (fy1 - fy0), fx1 + pad, eyes_bottom + pad), 0.0, w, h))
    return boxes + [b for b in detected if not any(_centre_in(b, _bounds(f.xy_px)) for f in faces)]


def _centre_in(box: Box, other: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return other[0] <= cx <= other[2] and other[1] <= cy <= other[3]


def near(detections: Iterable[Detection], time_s: float, hold_s: float) -> list[Detection]:
    """The detections that cover ``time_s``: every one within ``hold_s`` of it."""
    return [d for d in detections if abs(d.time_s - time_s) <= hold_s]


def to_obscure(covering: list[Detection], time_s: float) -> list[Box]:
    """Every box of the detections around ``time_s``, and where each face that moved between
    a detection before and one after is at ``time_s`` (a face moving across the frame is
    between the places it was found, also where one detection in between missed it)."""
    boxes = [box for d in covering for box in d.boxes]
    for d0 in (d for d in covering if d.time_s <= time_s):
        for d1 in (d for d in covering if d.time_s > time_s):
            u = (time_s - d0.time_s) / max(d1.time_s - d0.time_s, 1e-9)
            boxes += [_lerp(b0, b1, u) for b0, b1 in _pairs(d0.boxes, d1.boxes)]
    return boxes


def _pairs(first: tuple[Box, ...], second: tuple[Box, ...]) -> list[tuple[Box, Box]]:
    """Each box of ``first`` with the nearest of ``second``, where that is within 1.5 widths."""
    out = []
    for b0 in first:
        c0 = np.array([(b0[0] + b0[2]) / 2, (b0[1] + b0[3]) / 2])
        near_ = [(float(np.hypot(*(c0 - [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]))), b) for b in second]
        if near_:
            dist, b1 = min(near_)
            if dist <= 1.5 * max(b0[2] - b0[0], b1[2] - b1[0]):
                out.append((b0, b1))
    return out


def _lerp(b0: Box, b1: Box, u: float) -> Box:
    return tuple(a + (b - a) * u for a, b in zip(b0, b1, strict=True))


def obscure(image: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """Pixelate and blur each box (an ellipse filling it) in place; returns the image."""
    h, w = image.shape[:2]
    for x0, y0, x1, y1 in boxes:
        ix0, iy0 = max(0, int(x0)), max(0, int(y0))
        ix1, iy1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
        bw, bh = ix1 - ix0, iy1 - iy0
        if bw < 2 or bh < 2:
            continue
        patch = image[iy0:iy1, ix0:ix1]
        cells = (max(1, bw // max(4, bw // 5)), max(1, bh // max(4, bh // 5)))  # about 5×5 cells
        coarse = cv2.resize(patch, cells, interpolation=cv2.INTER_AREA)
        block = cv2.resize(coarse, (bw, bh), interpolation=cv2.INTER_NEAREST)
        block = cv2.GaussianBlur(block, (0, 0), max(2.0, 0.08 * max(bw, bh)))
        mask = np.zeros((bh, bw), np.float32)
        cv2.ellipse(mask, (bw // 2, bh // 2), (bw // 2, bh // 2), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.03 * max(bw, bh)))[..., None]
        patch[:] = (patch * (1 - mask) + block * mask).astype(image.dtype)
    return image
