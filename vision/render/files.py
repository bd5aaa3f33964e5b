"""The review files' names, and writing a file so that a reader never sees it half written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RESULT, OVERLAY, REPORT = "result.json", "overlay.mp4", "report.html"
PLOTS = ("displacement", "spectrum", "spectrogram")


def plot_file(name: str) -> str:
    """The file name of the plot ``name`` (one of ``PLOTS``)."""
    return f"{name}.png"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix) that replaces it when the block ends
    without an error, and is removed when it raises."""
    tmp = path.with_name(path.stem + ".partial" + path.suffix)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
