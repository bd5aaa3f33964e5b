"""Where the part is, as the analysis goes on with it: how it was found and the body length
its amplitude is a fraction of (no SciPy: a drawn region needs nothing more to start)."""

from __future__ import annotations

from dataclasses import dataclass

from vision.schema import Roi, concrete_site


@dataclass(frozen=True)
class Placement:
    """Where the part is, how it was found (pose, face, motion, manual), and the body length its
    amplitude is a fraction of (None when not seen)."""

    site: str
    method: str
    roi: Roi
    length_px: float | None
    length_of: str | None
    doubt: str | None = None  # why the placement needs a clinician's look (the verdict is then review)


def drawn_placement(site: str, roi: Roi) -> Placement:
    """The region a clinician drew."""
    return Placement(concrete_site(site), "manual", roi, None, None)
