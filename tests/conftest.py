"""Shared fixtures: small clips made with PyAV, public-domain photos."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tools.scenes import photo
from vision.video.writer import VideoWriter


def moving_square_clip(
    path: Path,
    frames: int = 45,
    size: tuple[int, int] = (96, 64),
    fps: float = 30.0,
    times_s: list[float] | None = None,
    **kwargs,
) -> Path:
    """A small clip with a moving bright square (so frames differ)."""
    w, h = size
    with VideoWriter(path, width=w, height=h, fps=fps, **kwargs) as writer:
        n = len(times_s) if times_s is not None else frames
        for i in range(n):
            img = np.full((h, w, 3), 40, np.uint8)
            x = (i * 2) % max(1, w - 8)
            img[4:12, x : x + 8] = 255
            writer.write(img, None if times_s is None else times_s[i])
    return path


@pytest.fixture
def clip_factory(tmp_path):
    counter = iter(range(10_000))

    def make(suffix: str = ".mp4", **kwargs) -> Path:
        return moving_square_clip(tmp_path / f"clip{next(counter)}{suffix}", **kwargs)

    return make


def grace_hopper_rgb() -> np.ndarray:
    return photo("grace_hopper")


def astronaut_rgb() -> np.ndarray:
    return photo("astronaut")


def audio_only_file(path: Path) -> Path:
    """An AAC recording with no video track."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=44100)
        for i in range(50):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate = 44100
            f.pts = i * 1024
            f.time_base = Fraction(1, 44100)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path
