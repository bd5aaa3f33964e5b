"""Clonus analysis library: video in, clinical result out. Never imports ``service``.

>>> from vision import analyze_video
>>> analysis = analyze_video("exam.mp4", site="ankle")
>>> analysis.result.clonus_detected, analysis.result.frequency_hz

The analysis (OpenCV, SciPy, PyAV) is imported on first use of its names, so that a process
that only reads results (the web server) does not load it.
"""

from __future__ import annotations

import importlib
from typing import Any

from vision.errors import VideoError, VisionError
from vision.schema import SCHEMA_VERSION, AnalysisResult
from vision.settings import DetectorSettings

_LAZY = {
    "Analysis": "vision.pipeline",
    "analyze_video": "vision.pipeline",
    "parse_roi": "vision.pipeline",
    "VideoLimits": "vision.video.probe",
}

__all__ = ["SCHEMA_VERSION", "AnalysisResult", "DetectorSettings", "VideoError", "VisionError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vision' has no attribute {name!r}")
