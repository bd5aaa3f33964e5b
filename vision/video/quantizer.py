"""The H.264 quantizer (QP) a video was compressed with, read off its first frames as the
analysis decodes them (FFmpeg's h264 decoder exports it; other decoders leave it unknown).

Exporting the encoding parameters costs nothing measurable in the decoding; only the first
frames' are read.
"""

from __future__ import annotations

import struct

import av
import numpy as np

QP_FRAMES = 8
EXPORT = {"export_side_data": "venc_params"}  # the decoder's option that exports them
_ENC_PARAMS_H264 = 1  # AV_VIDEO_ENC_PARAMS_H264
_ENC_PARAMS = struct.Struct("=I4xQQii")  # nb_blocks, blocks_offset, block_size, type, qp (64-bit)
_ENC_PARAMS_READABLE = struct.calcsize("P") == 8  # the layout above is the 64-bit one


def frame_qp(frame: av.VideoFrame) -> int | None:
    """The H.264 frame QP the encoder quantized this frame with, if the decoder exported it."""
    if not _ENC_PARAMS_READABLE:
        return None
    for data in frame.side_data:
        if data.type.name == "VIDEO_ENC_PARAMS":
            view = memoryview(data)
            if view.nbytes >= _ENC_PARAMS.size:
                *_, kind, qp = _ENC_PARAMS.unpack_from(view)
                return qp if kind == _ENC_PARAMS_H264 and 0 <= qp <= 51 else None
    return None


class FirstQuantizers:
    """The QPs of the first ``QP_FRAMES`` decoded frames; their median is the video's."""

    def __init__(self) -> None:
        self._qps: list[int] = []
        self._done = False

    def read(self, frame: av.VideoFrame) -> None:
        if self._done:
            return
        qp = frame_qp(frame)
        if qp is not None:
            self._qps.append(qp)
        self._done = qp is None or len(self._qps) >= QP_FRAMES

    @property
    def median(self) -> float | None:
        return float(np.median(self._qps)) if self._qps else None
