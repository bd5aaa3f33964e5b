"""Pyramidal Lucas–Kanade optical flow on good features, checked forward and backward."""

from __future__ import annotations

import cv2
import numpy as np

_LK = dict(winSize=(21, 21), maxLevel=3,
           criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))  # fmt: skip
_FB_MAX_PX = 0.5  # forward–backward error above which a feature track is dropped
_MIN_FEATURES = 8


def _features(
    gray: np.ndarray, mask: np.ndarray, max_corners: int, quality: float = 0.005, spacing_px: int = 3
) -> np.ndarray | None:
    """Corners inside ``mask``, searched in the mask's bounding box only (with a margin for the
    corner measure's own support, so the result is the same as over the whole frame)."""
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return None
    margin = 8
    x0, y0 = max(0, x - margin), max(0, y - margin)
    x1, y1 = min(gray.shape[1], x + w + margin), min(gray.shape[0], y + h + margin)
    pts = cv2.goodFeaturesToTrack(gray[y0:y1, x0:x1], maxCorners=max_corners, qualityLevel=quality,
                                  minDistance=spacing_px, mask=mask[y0:y1, x0:x1], blockSize=5)  # fmt: skip
    return None if pts is None else pts + np.float32([x0, y0])


def _flow(
    prev: np.ndarray, cur: np.ndarray, pts: np.ndarray, *, lk: dict = _LK, back_check: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Track points forward and (with ``back_check``) back; keep those found (and that
    return to where they started)."""
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None, **lk)
    if not back_check:
        return nxt, st.reshape(-1) == 1
    back, st_b, _ = cv2.calcOpticalFlowPyrLK(cur, prev, nxt, None, **lk)
    fb = np.linalg.norm((back - pts).reshape(-1, 2), axis=1)
    ok = (st.reshape(-1) == 1) & (st_b.reshape(-1) == 1) & (fb < _FB_MAX_PX)
    return nxt, ok


def _topped_up(
    gray: np.ndarray, mask: np.ndarray, pts: np.ndarray | None, wanted: int, due: bool, **kw
) -> tuple[np.ndarray | None, int]:
    """``pts`` with new features inside ``mask`` (away from those still tracked) added up to
    ``wanted`` when ``due`` or when fewer than 60 % are left; and how many were added."""
    if pts is not None and len(pts) >= 0.6 * wanted and not due:
        return pts, 0
    mask = mask.copy()
    for x, y in pts.reshape(-1, 2) if pts is not None else []:
        cv2.circle(mask, (int(x), int(y)), 4, 0, -1)
    room = wanted - (0 if pts is None else len(pts))
    new = _features(gray, mask, room, **kw) if room > 0 else None
    if new is None or not len(new):
        return pts, 0
    return (new if pts is None else np.concatenate([pts, new]).astype(np.float32)), len(new)
