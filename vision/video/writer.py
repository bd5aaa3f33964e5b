"""Write video files with PyAV: explicit per-frame times (variable frame rate), rotation.

Used for generated exam clips and for overlays. Output is yuv420p (plays in browsers), with
the index at the front (``+faststart`` for MP4) and no metadata tags.

>>> with VideoWriter("out.mp4", width=640, height=360, fps=30) as w:
...     w.write(rgb_image, time_s=0.0)
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vision.closing import Closing

_CODECS = {"h264": "libx264", "hevc": "libx265", "vp8": "libvpx", "vp9": "libvpx-vp9"}
_TIME_BASE = Fraction(1, 90000)


class VideoWriter(Closing):
    """Encode RGB frames into a file; frames carry their own presentation times."""

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        fps: float = 30.0,
        codec: str = "h264",
        crf: int = 23,
        display_rotation_ccw: int = 0,
        preset: str = "veryfast",
        reproducible: bool = False,
    ) -> None:
        """``reproducible``: the same frames give the same bytes (clips with ground truth); x264's
        macroblock-tree rate control, which makes its output vary from run to run, is then off."""
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.fps = fps
        self._next_auto_time_s = 0.0
        self._last_pts = -1
        options = {"movflags": "+faststart"} if self.path.suffix.lower() in (".mp4", ".mov") else {}
        self._container = av.open(str(self.path), mode="w", options=options)
        self._container.metadata.clear()
        encoder = _CODECS.get(codec, codec)
        stream = self._container.add_stream(encoder, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = _TIME_BASE
        stream.codec_context.time_base = _TIME_BASE
        if encoder == "libx264":
            stream.options = {"crf": str(crf), "preset": preset}
        elif encoder == "libx265":
            stream.options = {
                "crf": str(crf),
                "preset": "ultrafast",
                "x265-params": "log-level=error",
            }
        elif encoder.startswith("libvpx"):
            stream.options = {"crf": str(crf), "b": "0", "deadline": "realtime", "cpu-used": "8"}
        if reproducible and encoder == "libx264":
            stream.options = dict(stream.options, **{"x264-params": "mbtree=0"})
        if display_rotation_ccw:
            stream.set_display_rotation(display_rotation_ccw)
        self._stream = stream

    def write(self, image: np.ndarray, time_s: float | None = None) -> None:
        """Encode one RGB (H, W, 3) uint8 frame at ``time_s`` (default: the next slot at fps)."""
        if time_s is None:
            time_s = self._next_auto_time_s
        pts = int(round(time_s / _TIME_BASE))
        if pts <= self._last_pts:
            raise ValueError("frame times must increase")
        self._last_pts = pts
        self._next_auto_time_s = time_s + 1.0 / self.fps
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = pts
        frame.time_base = _TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None
