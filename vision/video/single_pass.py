"""One decoding pass: the tracking frames decoded and converted on their own thread, then spooled
(with the small stack for the motion-energy map, and a few frames handed to the landmark finder
while decoding goes on) or tracked as they come."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from vision.closing import Closing
from vision.errors import NoFramesError
from vision.video.ahead import run_ahead
from vision.video.decode import Frame, frame_image, iter_decoded, shrunk
from vision.video.probe import VideoInfo
from vision.video.quantizer import FirstQuantizers
from vision.video.spool import FrameSpool

log = logging.getLogger(__name__)

TRACK_MAX_SIDE_PX = 640  # optical flow runs on frames scaled to this (sub-pixel anyway)
MAP_MAX_SIDE_PX = 96  # the motion-energy map
LANDMARK_FRAMES = 6
_DECODE_AHEAD = 6  # frames decoded before the consumer takes them (bounded: 1080p frames are 3 MB)


class _Stack:
    """Small frames of one size in one array, allocated for the count the container gives and
    grown if more come (a list of frames stacked at the end held the stack twice)."""

    def __init__(self, expected: int) -> None:
        self._buf: np.ndarray | None = None
        self._n, self._expected = 0, min(max(1, expected), 1 << 15)  # a header's count is not trusted

    def append(self, image: np.ndarray) -> None:
        if self._buf is None:
            self._buf = np.empty((self._expected, *image.shape), np.uint8)
        elif self._n == len(self._buf):
            self._buf = np.concatenate([self._buf, np.empty_like(self._buf)])
        self._buf[self._n] = image
        self._n += 1

    def array(self) -> np.ndarray:
        return self._buf[: self._n] if self._buf is not None else np.zeros((0, 0, 0), np.uint8)


@dataclass
class DecodedPass(Closing):
    """What one decoding pass keeps: the tracking frames (spooled), the small stack for the
    motion-energy map, and the landmarks being found on a few frames."""

    spool: FrameSpool
    small: np.ndarray  # (n, h, w) uint8
    time_s: np.ndarray
    sampled: list[Future[Any]]  # what ``sample`` returned for a few frames, in order
    first_pts: int = 0  # the first presented frame's timestamp (stream units): times count from it
    quantizer: float | None = None  # the H.264 QP of the first frames (None: not exported)

    def close(self) -> None:
        self.spool.close()


def decoded_frames(path: Path, info: VideoInfo) -> Iterator[tuple[Frame, av.VideoFrame]]:
    """The tracking frames (gray, upright, at the tracking size) in decoding order, each with
    its decoded frame (carrying its H.264 quantizer). Decoding and conversion run on threads of
    their own, up to ``_DECODE_AHEAD`` frames before the consumer takes them: whatever the
    consumer does (spooling, tracking) runs while the next frames are decoded."""

    def converted() -> Iterator[tuple[Frame, av.VideoFrame]]:
        decoded = iter_decoded(path, info, export_qp=True)
        for index, time_s, frame in run_ahead(decoded, _DECODE_AHEAD, name="decode"):
            yield Frame(index, time_s, frame_image(frame, info, "gray", TRACK_MAX_SIDE_PX)), frame

    return run_ahead(converted(), _DECODE_AHEAD, name="convert")


def decode_once(
    path: Path,
    info: VideoInfo,
    *,
    sample: Callable[[np.ndarray], Future[Any]] | None,
    progress: Callable[[float], None],
) -> DecodedPass:
    """Spool the tracking frames; with ``sample``, also keep what finds the part: the small
    stack for the energy map, and ``sample`` called on ``LANDMARK_FRAMES`` frames spread over
    the recording (RGB, upright) as they are decoded: it starts the landmark search on
    another thread and returns its future, so the search runs while the decoding goes on.
    """
    last = max(0, info.frame_count - 1)
    wanted = set(np.linspace(0, last, LANDMARK_FRAMES).astype(int).tolist()) if sample else set()
    spool = FrameSpool()
    small, times, seen, first_pts, qps = _Stack(info.frame_count), [], [], 0, FirstQuantizers()
    try:
        for frame, decoded in decoded_frames(path, info):
            qps.read(decoded)
            if frame.index == 0:
                first_pts = decoded.pts if decoded.pts is not None else (decoded.dts or 0)
            spool.append(frame)
            times.append(frame.time_s)
            if sample is not None:
                small.append(shrunk(frame.image, MAP_MAX_SIDE_PX))
                if frame.index in wanted:
                    seen.append(sample(frame_image(decoded, info, "rgb24", TRACK_MAX_SIDE_PX)))
            if frame.index % 30 == 0:
                progress(min(1.0, frame.index / max(1, info.frame_count)))
    except BaseException:
        for job in seen:
            job.cancel()
        spool.close()
        raise
    if not times:
        spool.close()
        raise NoFramesError("no frame of the video could be decoded")
    return DecodedPass(spool, small.array(), np.asarray(times), seen, first_pts, qps.median)
