"""Ankle exams on a real photo of lower legs (no face, so the pose model finds no person, or
takes a leg, a shoe and the examiner's hand for a whole person, upside down): the examiner's
hand arrives, stretches the foot 20° and holds it, and the foot beats by about 4 px at
720 × 1280."""

from __future__ import annotations

import json

from service.cli import main
from tools.exam import photo_set, write_exam


def _analyzed(tmp_path, capsys, index: int, *extra: str) -> tuple[dict, dict]:
    name, spec = photo_set()[index]
    path = tmp_path / f"{name}{spec.suffix}"
    meta = path.with_name(path.name + ".truth.json")
    truth = json.loads(meta.read_text())["truth"] if meta.exists() else write_exam(spec, path)
    assert main(["analyze", str(path), "--site", "ankle", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out), truth


def test_landmarks_placed_where_nothing_beats_are_doubted_and_the_beats_found_where_they_are(
    tmp_path, capsys
):
    result, truth = _analyzed(tmp_path, capsys, 0)
    assert result["tracking"]["method"] == "motion"
    assert result["clonus_detected"] is True
    assert abs(result["frequency_hz"] - truth["frequency_hz"]) <= 0.1
    if abs(result["beat_count"] - truth["beat_count"]) > 1:  # the placement was doubted: it says so
        assert result["quality"]["verdict"] != "good"
        assert any("where nothing moves in the clonus band" in i for i in result["quality"]["issues"])
    # With the region drawn on the shoe, the beats are all there.
    drawn, _ = _analyzed(tmp_path, capsys, 0, "--roi", "0.3,0.4,0.3,0.18")
    assert drawn["clonus_detected"] is True and abs(drawn["beat_count"] - truth["beat_count"]) <= 1
    assert abs(drawn["frequency_hz"] - truth["frequency_hz"]) <= 0.05


def test_six_beats_right_after_the_stretch_are_found_where_no_person_is_seen(tmp_path, capsys):
    # Six beats from 0.12 s after a 22° stretch, the examiner's hand on the forefoot; the region
    # is placed where the foot beats (held band motion), not where the hand sweeps past.
    result, truth = _analyzed(tmp_path, capsys, 2)
    assert result["tracking"]["method"] == "motion"
    assert result["clonus_detected"] is True
    assert abs(result["beat_count"] - truth["beat_count"]) <= 1
    assert abs(result["frequency_hz"] - truth["frequency_hz"]) <= 0.05
