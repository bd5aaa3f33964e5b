"""Decode a video as a stream of upright frames with their true presentation times.

>>> info = probe("exam.mp4")
>>> for frame in iter_frames("exam.mp4", info, fmt="gray"):
...     frame.time_s, frame.image.shape
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import cv2
import numpy as np

from vision.errors import (
    CorruptVideoError,
    NoFramesError,
)
from vision.video import quantizer
from vision.video.probe import VideoInfo, _open

log = logging.getLogger(__name__)

# Planar YUV formats whose first plane is the luma: gray is read straight from it.
_LUMA_FIRST = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"}
# Limited-range luma (16–235) to full range (0–255), as swscale's gray conversion gives.
_LIMITED_TO_FULL = np.clip((np.arange(256) - 16) * 255.0 / 219.0 + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Frame:
    index: int
    time_s: float
    image: np.ndarray  # upright, RGB (H, W, 3) or gray (H, W), uint8


_TURNS_CW = {1: cv2.ROTATE_90_CLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_COUNTERCLOCKWISE}


def upright(image: np.ndarray, rotation_cw: int) -> np.ndarray:
    """Rotate a stored frame clockwise by ``rotation_cw`` degrees (OpenCV's blocked transpose:
    the same pixels as ``np.rot90``, in about half the time on a frame)."""
    k = (rotation_cw // 90) % 4
    return cv2.rotate(image, _TURNS_CW[k]) if k else image


def iter_decoded(
    path: str | Path, info: VideoInfo, *, last_index: int | None = None, export_qp: bool = False
) -> Iterator[tuple[int, float, av.VideoFrame]]:
    """Yield (index, presentation time in seconds, decoded frame), one at a time, up to
    ``last_index``; with ``export_qp``, the frames carry their H.264 quantizer. Damage after
    the first frame raises CorruptVideoError.
    """
    container = _open(Path(path))
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if export_qp:
            stream.codec_context.options = dict(quantizer.EXPORT)
        tb = stream.time_base or Fraction(1, 90000)
        start_pts: int | None = None
        index = 0
        try:
            for frame in container.decode(stream):
                pts = frame.pts if frame.pts is not None else frame.dts
                if pts is None:
                    continue
                if start_pts is None:
                    start_pts = pts  # times are relative to the first presented frame
                yield index, float((pts - start_pts) * tb), frame
                index += 1
                if last_index is not None and index > last_index:
                    break
        except av.error.FFmpegError as exc:
            if index == 0:
                raise NoFramesError("no frame of the video could be decoded") from exc
            raise CorruptVideoError(
                f"the video is damaged after frame {index}; upload the complete recording"
            ) from exc
    finally:
        container.close()


def iter_window(
    path: str | Path, info: VideoInfo, first_pts: int, start_s: float, stop_s: float
) -> Iterator[tuple[float, av.VideoFrame]]:
    """Yield (time in seconds, decoded frame) for the frames timed within ``start_s``–``stop_s``,
    decoding from the keyframe before ``start_s`` (a seek), not from the beginning.
    ``first_pts`` is the first presented frame's timestamp, which the times count from."""
    container = _open(Path(path))
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base or Fraction(1, 90000)
        target = first_pts + int(Fraction(max(0.0, start_s)).limit_denominator(1_000_000) / tb)
        try:
            container.seek(target, stream=stream, backward=True)
        except av.error.FFmpegError:  # not seekable: decoded from the start (slower, the same frames)
            container.seek(0)
        try:
            for frame in container.decode(stream):
                pts = frame.pts if frame.pts is not None else frame.dts
                t = None if pts is None else float((pts - first_pts) * tb)
                if t is not None and t > stop_s + 1e-3:
                    break
                if t is not None and t >= start_s - 1e-3:
                    yield t, frame
        except av.error.FFmpegError as exc:
            raise CorruptVideoError("the video is damaged; upload the complete recording") from exc
    finally:
        container.close()


def frame_image(
    frame: av.VideoFrame, info: VideoInfo, fmt: str = "rgb24", max_side_px: int | None = None
) -> np.ndarray:
    """A decoded frame as an upright RGB or gray array, its longer side at most ``max_side_px``."""
    return upright(_convert(frame, fmt, _scale_size(info, max_side_px)), info.rotation)


def iter_frames(
    path: str | Path,
    info: VideoInfo,
    *,
    fmt: str = "rgb24",
    max_side_px: int | None = None,
    indices: set[int] | None = None,
) -> Iterator[Frame]:
    """Yield upright frames with their presentation times, one at a time.

    ``fmt`` is ``"rgb24"`` or ``"gray"``; ``max_side_px`` scales frames down during conversion
    so that the longer side is at most that many pixels. ``indices`` limits the output to those
    frame numbers: the others are decoded but not converted, and decoding stops after the last.
    """
    last = max(indices, default=-1) if indices is not None else None
    for index, time_s, frame in iter_decoded(path, info, last_index=last):
        if indices is None or index in indices:
            yield Frame(index=index, time_s=time_s, image=frame_image(frame, info, fmt, max_side_px))


def _convert(frame: av.VideoFrame, fmt: str, scale: tuple[int, int] | None) -> np.ndarray:
    """One decoded frame as an RGB or gray array, scaled down to ``scale`` (stored geometry)."""
    if fmt != "gray" or frame.format.name not in _LUMA_FIRST:
        if scale is not None:
            return frame.to_ndarray(format=fmt, width=scale[0], height=scale[1])
        return frame.to_ndarray(format=fmt)
    plane = frame.planes[0]
    luma = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
    luma = _area_scaled(luma, scale) if scale is not None else luma.copy()
    if frame.format.name.startswith("yuvj") or frame.color_range == 2:  # already full range (JPEG)
        return luma
    return cv2.LUT(luma, _LIMITED_TO_FULL)


def _area_scaled(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` area-averaged down to ``size`` (w, h).

    By an odd whole factor (1080p to 640 × 360 is 3), a box filter read every k-th pixel gives
    the very same pixels as OpenCV's area resize (k² is odd: no rounding ties) in half the time.
    """
    h, w = image.shape[:2]
    k = w // size[0]
    if k % 2 == 1 and k > 1 and size[0] * k == w and size[1] * k == h:
        box = cv2.boxFilter(image, -1, (k, k), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(box[::k, ::k])
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _scale_size(info: VideoInfo, max_side_px: int | None) -> tuple[int, int] | None:
    # Stored (pre-rotation) geometry.
    w, h = (info.height, info.width) if info.rotation in (90, 270) else (info.width, info.height)
    return _fitted_size(w, h, max_side_px)


def _fitted_size(w: int, h: int, max_side_px: int | None) -> tuple[int, int] | None:
    """(w, h) scaled so that the longer side is at most ``max_side_px`` (even sizes), or None."""
    if not max_side_px or max(w, h) <= max_side_px:
        return None
    s = max_side_px / max(w, h)
    return max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2)


def shrunk(image: np.ndarray, max_side_px: int) -> np.ndarray:
    """``image`` area-averaged down so that its longer side is at most ``max_side_px``.

    Halved first while that stays above the size (area averaging by whole factors is about
    seven times faster than one large fractional step, and nearly the same).
    """
    size = _fitted_size(image.shape[1], image.shape[0], max_side_px)
    if not size:
        return image
    h, w = image.shape[:2]
    while h % 2 == 0 and w % 2 == 0 and h >= 2 * size[1] and w >= 2 * size[0]:
        h, w = h // 2, w // 2
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
