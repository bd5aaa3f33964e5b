"""What a video is, read from its packets' timestamps, and whether the analysis accepts it.

Phones record at a variable frame rate and store portrait video as landscape frames with a
rotation in the container's display matrix; nothing here trusts the nominal frame rate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from vision.errors import (
    CorruptVideoError,
    FrameTooLargeError,
    FrameTooSmallError,
    NoFramesError,
    NotAVideoError,
    NoVideoStreamError,
    UnsupportedCodecError,
    VideoGapError,
    VideoTooLongError,
    VideoTooShortError,
)
from vision.signal.rate import mean_rate_hz

log = logging.getLogger(__name__)

MIN_DURATION_S = 1.0
# Below this on the short side a body part is a few pixels across: neither the landmark models
# (which see 256-px crops) nor optical flow can place or follow it.
MIN_SIDE_PX = 64
_IMAGE_FORMATS = ("image2",)  # FFmpeg's demuxer of still images (and the *_pipe ones)
MAX_GAP_S = 2.0  # a hole between two frames longer than this is not a phone's dropped frames
# Frame intervals that differ from the median by more than this fraction mark the video VFR.
_VFR_TOLERANCE = 0.15
_CONTAINER_MAGIC = (b"ftyp", b"\x1a\x45\xdf\xa3", b"moov", b"mdat", b"RIFF", b"\x00\x00\x01\xba")


@dataclass(frozen=True)
class VideoLimits:
    """What the analysis accepts."""

    max_duration_s: float = 120.0
    max_frame_pixels: int = 3840 * 2160
    min_duration_s: float = MIN_DURATION_S
    min_side_px: int = MIN_SIDE_PX


@dataclass(frozen=True)
class VideoInfo:
    """What a video is, read from its packets' timestamps (not from the nominal rate)."""

    width: int  # upright (after rotation)
    height: int
    rotation: int  # degrees clockwise applied to make the stored frames upright: 0/90/180/270
    codec: str
    container: str
    nominal_fps: float | None
    measured_fps: float
    duration_s: float
    frame_count: int
    variable_frame_rate: bool
    has_audio: bool
    quantizer: float | None = None  # H.264 QP (0–51) of the first frames; None: not H.264 or not read


def _looks_like_container(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(64)
    return any(magic in head for magic in _CONTAINER_MAGIC)


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise NotAVideoError(f"no such file: {path.name}")
    if path.stat().st_size == 0:
        raise NotAVideoError("the file is empty")
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        if _looks_like_container(path):
            raise CorruptVideoError(
                "the file looks like a video container but is truncated or damaged "
                "(its index could not be read); upload the complete recording"
            ) from exc
        raise NotAVideoError("the file is not a video this service can read") from exc


def _display_rotation_cw(first: av.VideoFrame) -> int:
    """Clockwise degrees that make stored frames upright (PyAV reports the matrix's CCW angle)."""
    ccw = int(round(first.rotation or 0))
    return (-ccw) % 360


def _decode_first(container: av.container.InputContainer, stream) -> av.VideoFrame | None:
    """The first frame (None where none decodes)."""
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError:
        pass  # damage later is found while decoding
    return None


def probe(path: str | Path, limits: VideoLimits | None = None) -> VideoInfo:
    """Read a video's geometry and every frame's presentation time; validate it.

    Demuxes the packets (no full decode) to find the true timestamps, then decodes the first
    frame to confirm the stream is decodable and to read its rotation. (The analysis reads
    the H.264 quantizer as it decodes.)
    """
    limits = limits or VideoLimits()
    path = Path(path)
    container = _open(path)
    try:
        if not container.streams.video and not container.streams.audio:
            raise CorruptVideoError("the file has no readable tracks: it is truncated or damaged")
        if not container.streams.video:
            raise NoVideoStreamError("the file has no video track (is it an audio recording?)")
        stream = container.streams.video[0]
        if container.format.name in _IMAGE_FORMATS or container.format.name.endswith("_pipe"):
            raise NotAVideoError("the file is a still image, not a video; upload the recording of the exam")
        if stream.codec_context is None or stream.codec_context.name is None:
            raise UnsupportedCodecError("the video track uses a codec this service cannot decode")
        width, height = stream.codec_context.width, stream.codec_context.height
        if width and height and width * height > limits.max_frame_pixels:
            raise FrameTooLargeError(
                f"frames of {width}×{height} are larger than the limit of "
                f"{limits.max_frame_pixels} pixels; record at 4K or lower"
            )
        times = _packet_times(container, stream)
        has_audio = bool(container.streams.audio)
        nominal = float(stream.average_rate) if stream.average_rate else None
        codec = stream.codec_context.name
        fmt = container.format.name
    finally:
        container.close()

    if not times:
        raise NoFramesError("the video track contains no frames")
    container = _open(path)
    try:
        first = _decode_first(container, container.streams.video[0])
    finally:
        container.close()
    if first is None:
        raise NoFramesError("no frame of the video could be decoded")
    width, height = first.width, first.height
    if width * height > limits.max_frame_pixels:
        raise FrameTooLargeError(f"frames of {width}×{height} exceed the pixel limit")
    if min(width, height) < limits.min_side_px:
        raise FrameTooSmallError(
            f"frames of {width}×{height} are too small to find a body part in; at least "
            f"{limits.min_side_px} pixels on the short side are needed (send the phone's own recording)"
        )
    rotation = _display_rotation_cw(first)
    if rotation in (90, 270):
        width, height = height, width
    return _info_from_times(times, width, height, rotation, codec, fmt, nominal, has_audio, limits)


def _packet_times(container, stream) -> list[float]:
    tb = stream.time_base or Fraction(1, 90000)
    pts: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            pts.append(int(packet.pts))
    except av.error.FFmpegError as exc:
        if not pts:
            raise CorruptVideoError("the video data is damaged and no frame could be read") from exc
        raise CorruptVideoError(
            "the video is truncated or damaged partway through; upload the complete recording"
        ) from exc
    expected = int(stream.frames or 0)
    if expected and len(pts) < 0.98 * expected:
        raise CorruptVideoError(
            f"the video is truncated: its index lists {expected} frames but only {len(pts)} "
            "are in the file; upload the complete recording"
        )
    pts = sorted(set(pts))
    start = pts[0] if pts else 0
    return [float((p - start) * tb) for p in pts]


def _check_continuous(t: np.ndarray, dt: np.ndarray, median_dt: float) -> None:
    """A still image is not a video; a recording with a hole in it (paused, or cut) is not one
    exam: both are refused with the reason, rather than analyzed as if continuous."""
    if t.size == 1:
        raise NotAVideoError("the file is a still image, not a video; upload the recording of the exam")
    if dt.size and float(dt.max()) > max(MAX_GAP_S, 10 * median_dt):
        at = float(t[int(np.argmax(dt))])
        raise VideoGapError(
            f"the recording has a gap of {float(dt.max()):.1f} s after {at:.1f} s (paused or cut?); "
            "upload one continuous recording of the exam"
        )


def _info_from_times(
    times: list[float],
    width: int,
    height: int,
    rotation: int,
    codec: str,
    fmt: str,
    nominal: float | None,
    has_audio: bool,
    limits: VideoLimits,
) -> VideoInfo:
    t = np.asarray(times, dtype=float)
    dt = np.diff(t)
    median_dt = float(np.median(dt)) if dt.size else (1.0 / nominal if nominal else 1 / 30)
    duration = float(t[-1] - t[0] + median_dt) if t.size else 0.0
    measured = mean_rate_hz(t)
    vfr = bool(dt.size and np.mean(np.abs(dt - median_dt) > _VFR_TOLERANCE * median_dt) > 0.02)
    _check_continuous(t, dt, median_dt)
    if duration < limits.min_duration_s:
        raise VideoTooShortError(
            f"the video is {duration:.2f} s long; at least {limits.min_duration_s:g} s is needed"
        )
    if duration > limits.max_duration_s:
        raise VideoTooLongError(
            f"the video is {duration:.0f} s long; the limit is {limits.max_duration_s:g} s "
            "(trim it to the exam)"
        )
    return VideoInfo(
        width=width,
        height=height,
        rotation=rotation,
        codec=codec,
        container=fmt,
        nominal_fps=nominal,
        measured_fps=measured,
        duration_s=duration,
        frame_count=int(t.size),
        variable_frame_rate=vfr,
        has_audio=has_audio,
    )
