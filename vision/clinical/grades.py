"""Clinical grades of a clonus episode (SCATS clonus item, Tardieu)."""

from __future__ import annotations

from vision.schema import Grades


def grades_for(duration_s: float, detected: bool, sustained: bool | None) -> Grades:
    if not detected:
        return Grades(scats_clonus=0, tardieu=None)
    scats = 1 if duration_s < 3.0 else (2 if duration_s <= 10.0 else 3)
    tardieu = 4 if duration_s > 10.0 else 3
    return Grades(scats_clonus=scats, tardieu=tardieu)
