"""Which limb the landmarks' second measure follows, and what it measures: the part (the one
beating in the tracked region) relative to the joint above it."""

from __future__ import annotations

import numpy as np

from vision.locate.landmarks import POSE, Landmarks
from vision.locate.trajectory import _limb_offset


def _person(shift_px: tuple[float, float], visibility: float = 0.95) -> Landmarks:
    xy = np.zeros((33, 2))
    for side, x in (("left", 100.0), ("right", 160.0)):
        xy[POSE[f"{side}_knee"]] = (x, 300.0)
        for name, at in (("ankle", (x, 400.0)), ("heel", (x - 10, 410.0)), ("foot_index", (x + 30, 415.0))):
            xy[POSE[f"{side}_{name}"]] = at
    return Landmarks(xy + shift_px, np.full(33, visibility))


def test_the_foot_nearest_the_tracked_region_is_followed_relative_to_its_knee():
    patient, other = _person((0.0, 0.0)), _person((400.0, 0.0))
    right_foot = np.array([160 + 20 / 3, 408.33])
    offset = _limb_offset([other, patient], "ankle", right_foot, reach_px=80.0)
    assert offset is not None
    np.testing.assert_allclose(offset, right_foot - [160.0, 300.0], atol=0.01)
    # Moving the patient (shifting on the table, the filmer panning) moves knee and foot alike.
    shift = np.array([25.0, -12.0])
    moved = _limb_offset([_person(tuple(shift))], "ankle", right_foot + shift, reach_px=80.0)
    np.testing.assert_allclose(moved, offset, atol=1e-9)


def test_no_limb_near_the_region_or_none_clearly_seen_gives_none():
    assert _limb_offset([_person((400.0, 0.0))], "ankle", np.array([160.0, 408.0]), reach_px=80.0) is None
    faint = _person((0.0, 0.0), visibility=0.3)
    assert _limb_offset([faint], "ankle", np.array([160.0, 408.0]), reach_px=80.0) is None
