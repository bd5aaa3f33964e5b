"""Issue 29: every face in view is obscured, checked on a real photograph of six people
(insightface's t1.jpg: frontal, turned, tilted, seated and standing) made into recordings,
with the faces marked by hand and an independent detector (OpenCV's Haar cascade)."""

from __future__ import annotations

import pytest

from tools.evaluate_deid import DEID_RECORDINGS_FACE_PX, Row, evaluate
from vision.render.report import DEID_WORDS


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[Row]:
    return evaluate(tmp_path_factory.mktemp("deid"), DEID_RECORDINGS_FACE_PX)


def test_every_face_of_a_group_is_obscured_in_every_frame(rows):
    """Six faces about 32 px wide (a wide shot of a room), panned and entering from the side."""
    for row in rows:
        assert row.faces_frames > 150, row  # the faces were in view
        assert row.obscured == row.faces_frames, row
        assert row.haar_in_overlay == 0, row


def test_the_report_says_what_de_identification_covers():
    assert "clothing, tattoos" in DEID_WORDS[True] and "every face" in DEID_WORDS[True]
    assert "NOT de-identified" in DEID_WORDS[False]
