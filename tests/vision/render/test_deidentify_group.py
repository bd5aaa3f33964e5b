"""Issue 29: every face in view is obscured, checked on real photographs made into recordings
(insightface's t1.jpg, six people: frontal, turned, tilted, seated and standing; ultralytics'
bus.jpg, a street: the patient and a bystander in dark glasses), with the faces marked by hand
and an independent detector (OpenCV's Haar cascade)."""

from __future__ import annotations

import pytest

from tools.evaluate_deid import DEID_RECORDINGS_FACE_PX, Row, evaluate, recordings
from vision.render.report import DEID_WORDS


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[Row]:
    recs = recordings(DEID_RECORDINGS_FACE_PX, street_px=(30,))
    return evaluate(tmp_path_factory.mktemp("deid"), recs)


def test_every_face_of_a_group_is_obscured_in_every_frame(rows):
    """Six faces about 32 px wide (a wide shot of a room), panned and entering from the side."""
    group = [r for r in rows if r.recording.startswith("group")]
    assert len(group) == 2
    for row in group:
        assert row.faces_frames > 150, row  # the faces were in view
        assert row.obscured == row.faces_frames, row
        assert row.haar_in_overlay == 0, row


def test_a_bystander_in_dark_glasses_is_obscured_in_every_frame(rows):
    """The reported case: a 7-s portrait recording of a street photograph, the patient's foot
    beating, the patient and a bystander in sunglasses (faces about 30 px wide) in full view."""
    (street,) = [r for r in rows if r.recording.startswith("street")]
    assert street.faces_frames == 2 * 7 * 30, street  # both faces, every frame
    assert street.obscured == street.faces_frames, street
    assert street.haar_in_overlay == 0, street


def test_the_report_says_what_de_identification_covers():
    assert "clothing, tattoos" in DEID_WORDS[True] and "every face" in DEID_WORDS[True]
    assert "NOT de-identified" in DEID_WORDS[False]
