"""Obscuring faces: a face at the frame's edge, a detector box grown to the forehead, the jaw
exam's patient and bystanders."""

from __future__ import annotations

import cv2
import numpy as np

from vision.locate.landmarks import EYES, Landmarks
from vision.render.deidentify import DETECTED_UP, _head, _jaw_boxes, obscure


def _detail(image: np.ndarray) -> float:
    return float(np.abs(cv2.Laplacian(image.astype(np.float32), cv2.CV_32F)).mean())


def _texture(h: int = 120, w: int = 160) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_a_face_half_out_of_the_frame_is_obscured_to_the_edge():
    image = _texture()
    w = image.shape[1]
    face = (w - 15, 40, w + 15, 70)  # half of it past the right edge
    out = obscure(image.copy(), [face])
    edge = (slice(42, 68), slice(w - 3, w))  # the face's middle, up to the frame's edge
    assert _detail(out[edge]) < 0.05 * _detail(image[edge])  # an ellipse squeezed into view: 0.3


def test_a_detected_box_is_grown_to_take_in_the_forehead():
    x0, y0, x1, y1 = _head((100.0, 100.0, 120.0, 120.0))
    assert y0 == 100 - 20 * DETECTED_UP and y1 == 126.0  # more above (forehead, hairline) than below
    assert (x0, x1) == (94.0, 126.0)


def _face(x0: float, y0: float, size: float) -> Landmarks:
    """A face mesh filling a square: eyes at 45 % of its height, chin at the bottom."""
    xy = np.random.default_rng(int(x0)).uniform([x0, y0], [x0 + size, y0 + size], (478, 2))
    xy[list(EYES), 1] = y0 + 0.45 * size
    xy[152] = (x0 + size / 2, y0 + size)
    return Landmarks(xy, np.ones(478))


def _covered(point: tuple[float, float], boxes: list) -> bool:
    return any(b[0] <= point[0] <= b[2] and b[1] <= point[1] <= b[3] for b in boxes)


def test_the_jaw_exam_keeps_the_patients_jaw_and_obscures_a_bystanders_whole_face():
    patient, bystander = _face(100, 100, 200), _face(400, 120, 60)
    boxes = _jaw_boxes((bystander, patient), detected=[(420.0, 140.0, 450.0, 170.0)])
    assert _covered((200, 150), boxes)  # the patient's eyes and brows
    assert not _covered((200, 280), boxes)  # the patient's mouth and chin: the exam
    assert all(_covered(p, boxes) for p in [(430, 130), (430, 145), (430, 170), (430, 178)])  # all of his
