"""Landmarks place a part only where a body is seen through the recording: a limb whose part
and the joint above it are clearly seen in at least half of the sampled frames."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import pytest

from vision.locate.landmarks import POSE, Landmarks
from vision.locate.region import landmark_placement
from vision.locate.seen import Seen


def _person(visibility: float = 0.95) -> Landmarks:
    xy = np.tile([[320.0, 240.0]], (33, 1)) + np.arange(33)[:, None] * [1.0, 2.0]
    return Landmarks(xy, np.full(33, visibility))


def _frames(
    people_per_frame: list[list[Landmarks]], hands_per_frame: list[list[Landmarks]] | None = None
) -> list[Future]:
    out = []
    for i, people in enumerate(people_per_frame):
        f: Future = Future()
        f.set_result(Seen(people, [], (640, 480), hands_per_frame[i] if hands_per_frame else []))
        out.append(f)
    return out


def _hand(wrist_xy: tuple[float, float], jitter_px: float = 0.0, seed: int = 0) -> Landmarks:
    """A hand pointing up from its wrist: 21 points, the index knuckle 60 px above the wrist."""
    rng = np.random.default_rng(seed)
    offsets = np.array([[0, 0]] + [[-30 + 15 * (k // 4), -40 - 10 * (k % 4)] for k in range(20)], float)
    offsets[5] = [-15.0, -60.0]
    offsets[9] = [0.0, -62.0]
    return Landmarks(np.add(wrist_xy, offsets) + rng.normal(0, jitter_px, (21, 2)), np.ones(21))


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


def test_a_hand_alone_is_placed_by_the_hand_landmarks_where_it_beats():
    """The wrist site with no person in view: each hand seen in most frames is a candidate
    (the same hand from frame to frame while its wrist stays within a palm's length); the one
    that beats is the part; a hand seen once (a passer-by) is not; the hand length is the
    wrist to the index knuckle."""
    patient = [_hand((200, 300), 3.0, i) for i in range(6)]
    examiner = [_hand((480, 260), 3.0, 10 + i) for i in range(6)]
    hands = [[patient[i], examiner[i]] for i in range(5)] + [[examiner[5]]]
    energy = np.ones((48, 64))
    energy[20:32, 10:22] = 40.0  # the patient's hand beats; the examiner's holds still
    placed = landmark_placement(_frames([[]] * 6, hands), "wrist", energy)
    assert placed is not None and (placed.method, placed.site) == ("hand", "wrist")
    cx, cy = (placed.roi.x + placed.roi.w / 2) * 640, (placed.roi.y + placed.roi.h / 2) * 480
    assert abs(cx - 200) < 40 and abs(cy - 260) < 40, placed.roi
    assert placed.length_px == pytest.approx(np.hypot(15, 60), abs=4.0)
    assert placed.length_of == "hand length (wrist to index finger)"
    energy[:] = 1.0
    energy[16:28, 40:52] = 40.0  # now the examiner's hand is the one that moves
    assert landmark_placement(_frames([[]] * 6, hands), "wrist", energy).roi.x > 0.5
    # Seen in one frame of six: nothing placed; for another site, hands are not looked at.
    assert landmark_placement(_frames([[]] * 6, [[patient[0]]] + [[]] * 5), "wrist", energy) is None
    assert landmark_placement(_frames([[]] * 6, hands), "ankle", energy) is None
