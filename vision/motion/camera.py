"""The camera's own motion: a robust similarity fitted to strong corners outside the region,
followed on its own thread a few frames ahead of the part."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from vision.motion.flow import _LK, _MIN_FEATURES, _flow, _topped_up
from vision.motion.geometry import similarity_fit
from vision.video.decode import Frame

_BG_FEATURES = 150  # strong corners outside the region, for the camera's motion
# The camera's corners are strong and move little between frames: a smaller window and one
# pyramid level fewer track them as well, at half the cost.
_LK_CAMERA = dict(_LK, winSize=(15, 15), maxLevel=2)
_BG_TOP_UP_FRAMES = 15


class _Camera:
    """The camera's motion from frame to frame: a robust similarity fitted to strong corners
    outside the region (the background and the still reference). Steps must come in frame
    order; the corners are topped up when due."""

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = mask  # the region's tracker moves it with the region
        self._prev: np.ndarray | None = None
        self._pts: np.ndarray | None = None

    def step(self, gray: np.ndarray, top_up: bool, mask: np.ndarray | None = None) -> np.ndarray:
        """The 2×3 similarity from the previous frame to ``gray`` (none for the first); new
        corners are found in ``mask`` (default: the current one)."""
        camera = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        pts = self._pts
        if self._prev is not None and pts is not None and len(pts) >= _MIN_FEATURES:
            # The camera's points are checked by the robust fit instead of tracking them back.
            nxt, ok = _flow(self._prev, gray, pts, lk=_LK_CAMERA, back_check=False)
            if ok.sum() >= _MIN_FEATURES:
                camera, weight = similarity_fit(pts.reshape(-1, 2)[ok], nxt.reshape(-1, 2)[ok])
                ok[np.flatnonzero(ok)[weight == 0]] = False  # moving things are not the camera
            pts = nxt[ok].reshape(-1, 1, 2)
        # Strong, spread corners only: flat areas in compressed video often do not move.
        where = self.mask if mask is None else mask
        self._pts, _ = _topped_up(gray, where, pts, _BG_FEATURES, top_up, quality=0.02, spacing_px=8)
        self._prev = gray
        return camera


def _camera_ahead(
    frames: Iterator[tuple[Frame, np.ndarray, float]],
    camera: _Camera,
    pool: ThreadPoolExecutor,
    ahead: int = 2,
) -> Iterator[tuple[Frame, np.ndarray, float, Future[np.ndarray]]]:
    """The frames, each with its camera step being found on ``pool`` (one worker, so in frame
    order) up to ``ahead`` frames before the part's tracking reaches it. Each step finds its
    corners outside the region as it was when the step was asked for, however soon the worker
    gets to it: the result does not depend on the threads' timing."""
    queued: deque[tuple[Frame, np.ndarray, float, Future[np.ndarray]]] = deque()
    for n, (frame, gray, mean) in enumerate(frames):
        job = pool.submit(camera.step, gray, n % _BG_TOP_UP_FRAMES == 0, camera.mask)
        queued.append((frame, gray, mean, job))
        if len(queued) > ahead:
            yield queued.popleft()
    yield from queued
