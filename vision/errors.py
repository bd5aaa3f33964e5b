"""The library's error types: each carries a stable code and a message a user understands."""

from __future__ import annotations


class VisionError(Exception):
    """The analysis cannot take this input."""

    code = "analysis-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VideoError(VisionError):
    """The uploaded file cannot be analyzed as a video."""

    code = "invalid-video"


class NotAVideoError(VideoError):
    """Not a video at all (a still image, a document, random bytes)."""

    code = "not-a-video"


class NoVideoStreamError(VideoError):
    """A media file with no video track (audio only)."""

    code = "no-video-stream"


class CorruptVideoError(VideoError):
    """Truncated or damaged: frames cannot be decoded."""

    code = "corrupt-video"


class UnsupportedCodecError(VideoError):
    """A video track in a codec this service cannot decode."""

    code = "unsupported-codec"


class NoFramesError(VideoError):
    """A video track with no decodable frame."""

    code = "no-frames"


class VideoTooShortError(VideoError):
    """Shorter than the shortest exam analyzed (1 s)."""

    code = "video-too-short"


class VideoTooLongError(VideoError):
    """Longer than the length limit."""

    code = "video-too-long"


class FrameTooLargeError(VideoError):
    """Frames larger than the pixel limit."""

    code = "frame-too-large"


class FrameTooSmallError(VideoError):
    """Frames too small to find a body part in (under 64 px on the short side)."""

    code = "frame-too-small"


class AnalysisInputError(VisionError):
    """Arguments to the analysis are invalid (a bad region, an unknown site)."""

    code = "invalid-argument"


class VideoGapError(VideoError):
    """A hole of over 2 s between two frames (paused or cut)."""

    code = "video-gap"
