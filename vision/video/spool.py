"""A spool of small gray frames on temporary disk, so that the video is decoded only once.

The analysis has to see the whole recording (where does motion in the clonus band
concentrate?) before it knows where to track; re-decoding a 1080p video costs far more than
writing its 640-px gray frames to a temporary file and reading them back. The frames are read
one at a time into one buffer, so memory stays flat in the video's length. The file is
deleted when the spool closes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import numpy as np

from vision.closing import Closing
from vision.video.decode import Frame


class FrameSpool(Closing):
    """Append gray frames of one size; iterate them back in order, as often as needed."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="clonus-frames-")  # noqa: SIM115 (closed in close())
        self._shape: tuple[int, int] | None = None
        self._times: list[float] = []
        self._indices: list[int] = []

    def __len__(self) -> int:
        return len(self._times)

    def append(self, frame: Frame) -> None:
        image = np.ascontiguousarray(frame.image, dtype=np.uint8)
        if self._shape is None:
            self._shape = image.shape[:2]
        elif image.shape[:2] != self._shape:
            raise ValueError("every spooled frame must have the same size")
        self._file.write(image.data)
        self._times.append(frame.time_s)
        self._indices.append(frame.index)

    def frames(self, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[Frame]:
        """The spooled frames in order (positions ``start:stop:step``); each image is a fresh array."""
        if self._shape is None:
            return
        self._file.flush()
        size = self._shape[0] * self._shape[1]
        for position in range(len(self._times))[start:stop:step]:
            if step != 1 or position == start:
                self._file.seek(position * size)
            image = np.empty(self._shape, np.uint8)
            if self._file.readinto(memoryview(image).cast("B")) != size:
                raise OSError("the frame spool was truncated")
            yield Frame(index=self._indices[position], time_s=self._times[position], image=image)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
