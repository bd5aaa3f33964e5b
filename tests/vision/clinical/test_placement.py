"""Landmarks place a part only where a body is seen through the recording: a limb whose part
and the joint above it are clearly seen in at least half of the sampled frames."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np

from vision.locate.landmarks import POSE, Landmarks
from vision.locate.region import Seen, landmark_placement


def _person(visibility: float = 0.95) -> Landmarks:
    xy = np.tile([[320.0, 240.0]], (33, 1)) + np.arange(33)[:, None] * [1.0, 2.0]
    return Landmarks(xy, np.full(33, visibility))


def _frames(people_per_frame: list[list[Landmarks]]) -> list[Future]:
    out = []
    for people in people_per_frame:
        f: Future = Future()
        f.set_result(Seen(people, [], (640, 480)))
        out.append(f)
    return out


ENERGY = np.ones((48, 64))


def test_a_limb_seen_in_most_frames_is_placed():
    placed = landmark_placement(_frames([[_person()]] * 5 + [[]]), "ankle", ENERGY)
    assert placed is not None and placed.method == "pose" and placed.site == "ankle"


def test_a_pose_seen_in_one_frame_of_six_places_nothing():
    """A passer-by, or a cartoon the pose model takes for a person for a moment."""
    assert landmark_placement(_frames([[_person()]] + [[]] * 5), "ankle", ENERGY) is None


def test_a_foot_without_its_knee_or_with_low_visibility_places_nothing():
    hidden_knee = _person()
    hidden_knee.visibility[[POSE["left_knee"], POSE["right_knee"]]] = 0.1
    assert landmark_placement(_frames([[hidden_knee]] * 6), "ankle", ENERGY) is None
    assert landmark_placement(_frames([[_person(0.3)]] * 6), "ankle", ENERGY) is None


def test_landmarks_where_nothing_beats_while_something_beats_elsewhere_are_doubted():
    from vision.locate.region import Placement, _beats_elsewhere
    from vision.schema import Roi

    energy = np.ones((96, 54))
    energy[60:70, 40:50] = 500.0  # something beats, low right
    pose = Placement("ankle", "pose", Roi(x=0.1, y=0.05, w=0.3, h=0.2), 50.0, "foot length")
    blob = Roi(x=0.72, y=0.6, w=0.2, h=0.12)
    assert "where nothing moves" in _beats_elsewhere(energy, pose, blob)
    # The landmarks' region beats too, or holds the blob, or nothing beats anywhere: trusted.
    energy_on = energy.copy()
    energy_on[10:25, 8:20] = 50.0
    assert _beats_elsewhere(energy_on, pose, blob) is None
    assert _beats_elsewhere(energy, Placement("ankle", "pose", Roi(x=0.6, y=0.5, w=0.4, h=0.3), None, None),
                            blob) is None  # fmt: skip
    assert _beats_elsewhere(np.ones((96, 54)), pose, blob) is None
