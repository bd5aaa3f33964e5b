"""The library's error types: each carries a stable code and a message a user understands."""

from __future__ import annotations


class VisionError(Exception):
    """Base of every error the analysis reports about its input."""

    code = "analysis-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VideoError(VisionError):
    """The uploaded file cannot be analyzed as a video."""

    code = "invalid-video"


class NotAVideoError(VideoError):
    code = "not-a-video"


class NoVideoStreamError(VideoError):
    code = "no-video-stream"


class CorruptVideoError(VideoError):
    code = "corrupt-video"


class UnsupportedCodecError(VideoError):
    code = "unsupported-codec"


class NoFramesError(VideoError):
    code = "no-frames"


class VideoTooShortError(VideoError):
    code = "video-too-short"


class VideoTooLongError(VideoError):
    code = "video-too-long"


class FrameTooLargeError(VideoError):
    code = "frame-too-large"


class FrameTooSmallError(VideoError):
    code = "frame-too-small"


class AnalysisInputError(VisionError):
    """Arguments to the analysis are invalid (a bad region, an unknown site)."""

    code = "invalid-argument"


class VideoGapError(VideoError):
    code = "video-gap"
