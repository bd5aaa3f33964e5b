"""Geometry of regions and point sets: regions in pixels, robust similarity fits, depth in a
hull, rotation between two point sets."""

from __future__ import annotations

import cv2
import numpy as np

from vision.motion.flow import _LK
from vision.schema import Roi


def roi_to_px(roi: Roi, width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0 = int(roi.x * width), int(roi.y * height)
    x1 = min(width, int(round((roi.x + roi.w) * width)))
    y1 = min(height, int(round((roi.y + roi.h) * height)))
    return x0, y0, max(x0 + 4, x1), max(y0 + 4, y1)


def roi_from_points(points_px: np.ndarray, width: int, height: int, pad: float = 0.35) -> Roi:
    """A region around landmark points, padded by a fraction of its size."""
    x0, y0 = points_px.min(axis=0)
    x1, y1 = points_px.max(axis=0)
    size = max(x1 - x0, y1 - y0, 0.06 * max(width, height))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = size * (0.5 + pad)
    x0, x1 = np.clip([cx - half, cx + half], 0, width)
    y0, y1 = np.clip([cy - half, cy + half], 0, height)
    return Roi(x=x0 / width, y=y0 / height, w=max(1e-3, (x1 - x0) / width),
               h=max(1e-3, (y1 - y0) / height))  # fmt: skip


def similarity_fit(src: np.ndarray, dst: np.ndarray, iterations: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A robust 2×3 similarity (rotation, scale, shift) taking ``src`` (k, 2) to ``dst``, and
    the weight each point kept (0 for outliers such as another moving thing).

    Least squares reweighted with Tukey's biweight, started from the median shift;
    deterministic (no random sampling), so the same video always gives the same result.
    """
    rot, shift = np.eye(2), np.median(dst - src, axis=0)
    weight = np.ones(len(src))
    for _ in range(iterations):
        residual = np.hypot(*(src @ rot.T + shift - dst).T)
        scale = max(0.3, 4.685 * 1.4826 * float(np.median(residual)))
        weight = np.clip(1 - (residual / scale) ** 2, 0, None) ** 2
        if weight.sum() < 3:
            break
        rot, shift = _weighted_similarity(src, dst, weight**2)
    return np.hstack([rot, shift[:, None]]), weight


def _weighted_similarity(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The similarity (2×2 scaled rotation, shift) minimising the ``w``-weighted squared
    distances, in closed form about the weighted centroids."""
    w = w / w.sum()
    ps, qs = w @ src, w @ dst
    p, q = src - ps, dst - qs
    norm = max(float(w @ np.sum(p * p, axis=1)), 1e-12)
    a = float(w @ np.sum(p * q, axis=1)) / norm
    b = float(w @ (p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0])) / norm
    rot = np.array([[a, -b], [b, a]])
    return rot, qs - rot @ ps


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def _depth_in_hull(points: np.ndarray) -> np.ndarray:
    """How far each point lies inside the points' convex hull (0 on it), in pixels: inside a
    convex polygon, the distance to its outline is the least distance to its edges' lines."""
    hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    if len(hull) < 3:
        return np.zeros(len(points))
    edge = np.roll(hull, -1, axis=0) - hull
    length = np.hypot(*edge.T)
    ok = length > 1e-9
    hull, edge, length = hull[ok], edge[ok], length[ok]
    # |cross(edge, p − start)| / |edge|: the distance from each point to each edge's line.
    rel = points[:, None, :] - hull[None]
    dist = np.abs(edge[:, 0] * rel[..., 1] - edge[:, 1] * rel[..., 0]) / length
    return dist.min(axis=1)


def _rotation_deg(before: np.ndarray, after: np.ndarray) -> float:
    """The rotation (degrees, counter-clockwise as seen) that best takes one point set to the
    other about their centroids (Procrustes).

    Features whose tracking window reaches over the part's outline (their convex hull) see
    the still background too and move less than the part; those well inside it are used
    when there are enough.
    """
    keep = _depth_in_hull(after) > _LK["winSize"][0] // 2
    if keep.sum() >= 3:
        before, after = before[keep], after[keep]
    p, q = before - before.mean(axis=0), after - after.mean(axis=0)
    cross = float(np.sum(p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]))
    dot = float(np.sum(p * q))
    return -float(np.degrees(np.arctan2(cross, dot)))  # image y points down
