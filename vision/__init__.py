"""Clonus analysis library: video in, clinical result out. Never imports ``service``."""

from vision.errors import VideoError, VisionError
from vision.schema import AnalysisResult

__all__ = ["AnalysisResult", "VideoError", "VisionError"]
