"""How the overlay's face search keeps up: the tiles are searched in turn (all of them once a
sweep), so a small face one look misses is found by a later one and followed back; each face
found is followed from look to look; neighbours in a group are not taken for one another."""

from __future__ import annotations

import itertools

import pytest

from models.registry import model_path
from tools.evaluate_deid import Recording, scene
from tools.photos import GROUP
from vision.render.deidentify import SWEEP_DETECTIONS, FaceFinder, _matched


def _covers(box, face) -> bool:
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    wide_enough = box[2] - box[0] >= 0.9 * (face[2] - face[0])
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3] and wide_enough


@pytest.fixture
def finder():
    with FaceFinder(site="ankle", face_model=model_path("face_landmarker"), pose_model=None,
                    detector_model=model_path("face_detector")) as found:  # fmt: skip
        yield found


def test_faces_a_look_misses_are_followed_back_to_it(finder):
    """Six faces 24 px wide (a group, panned; portrait 720 × 1280): too small for the whole
    frame's search, each found in its tiles' turn. A face the first looks miss is followed back
    once found, so every look of the first second ends with all six covered."""
    frames = itertools.islice(scene(Recording(GROUP, 24, "panned")), 0, 7 * 5, 5)  # 6 looks a second
    final, missed_at_first = {}, 0
    for t, image, faces in frames:
        found = finder.detect(image, t)
        missed_at_first += sum(not any(_covers(b, f) for b in found[-1].boxes) for f in faces)
        final.update({d.time_s: (d, final[d.time_s][1]) for d in found[:-1]})
        final[t] = (found[-1], faces)
    assert missed_at_first >= 2  # the first looks' tiles do not hold every face
    assert len(final) == 7 > SWEEP_DETECTIONS
    for t, (detection, faces) in final.items():
        assert len(faces) == 6
        for face in faces:
            assert any(_covers(b, face) for b in detection.boxes), (t, face, detection.boxes)


def test_neighbours_in_a_group_are_matched_to_themselves():
    """Three faces 30 px wide, 45 px apart, all moving 20 px right between two looks; a fourth
    appears: each is matched to itself, the newcomer to nothing."""
    before = [(x, 100.0, x + 30.0, 130.0) for x in (100.0, 145.0, 190.0)]
    after = [(x + 20, y0, x1 + 20, y1) for x, y0, x1, y1 in before] + [(400.0, 100.0, 430.0, 130.0)]
    assert _matched(before, after) == {0: 0, 1: 1, 2: 2}
    assert _matched(after, before) == {0: 0, 1: 1, 2: 2}
    assert _matched([(0.0, 0.0, 30.0, 30.0)], [(0.0, 0.0, 70.0, 70.0)]) == {}  # not its size
