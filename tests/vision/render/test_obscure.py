"""Obscuring a face box: a face at the frame's edge, and a detector box grown to the forehead."""

from __future__ import annotations

import cv2
import numpy as np

from vision.render.deidentify import DETECTED_UP, _head, obscure


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
