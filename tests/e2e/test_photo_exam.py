"""Ankle exams on a real photo of lower legs (no face, so the pose model finds no person, or
takes a leg, a shoe and the examiner's hand for a whole person, upside down): the examiner's
hand arrives, stretches the foot 20° and holds it, and the foot beats by about 4 px at
720 × 1280. Wrist exams on a real photo's hand and forearm, no face in view."""

from __future__ import annotations

import json

from service.cli import main
from tools.exam import photo_set, write_exam
from tools.scenes import framing_matrix, group_wrist


def _analyzed(tmp_path, capsys, index: int | str, *extra: str) -> tuple[dict, dict]:
    name, spec = photo_set()[index] if isinstance(index, int) else _named(index)
    path = tmp_path / f"{name}{spec.suffix}"
    meta = path.with_name(path.name + ".truth.json")
    truth = json.loads(meta.read_text())["truth"] if meta.exists() else write_exam(spec, path)
    assert main(["analyze", str(path), "--site", spec.site, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out), truth


def _named(suffix: str):
    return next((name, spec) for name, spec in photo_set() if name.endswith(suffix))


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


def test_a_hand_and_forearm_alone_are_found_by_the_hand_landmarker_and_its_beats_measured(tmp_path, capsys):
    # A real photo's hand holding cards, no face in view (the pose model finds no person), the
    # examiner's fingers on the cards: the hand landmarker places the part, its beats are
    # measured by the flow, and the hand's landmarks read the same episode again.
    result, truth = _analyzed(tmp_path, capsys, "photo-hand")
    assert result["tracking"]["method"] == "hand"
    assert result["clonus_detected"] is True and result["quality"]["verdict"] == "good"
    assert abs(result["beat_count"] - truth["beat_count"]) <= 1
    assert abs(result["frequency_hz"] - truth["frequency_hz"]) <= 0.05
    assert result["amplitude"]["reference"] == "hand length (wrist to index finger)"
    assert result["second_signal"]["source"] == "hand"
    # The region holds the hand: its wrist (the pivot) and the middle of the part.
    _, spec = _named("photo-hand")
    sc = group_wrist()
    to_frame = framing_matrix(sc, spec.framing, spec.width, spec.height)
    x0, y0, x1, y1 = sc.part_box_px
    roi = result["tracking"]["roi"]
    for x, y in (sc.pivot_px, ((x0 + x1) / 2, (y0 + y1) / 2)):
        fx, fy = to_frame @ [x, y, 1.0] / [spec.width, spec.height]
        assert roi["x"] <= fx <= roi["x"] + roi["w"] and roi["y"] <= fy <= roi["y"] + roi["h"], (fx, fy, roi)


def test_a_hand_held_still_after_the_stretch_is_not_clonus(tmp_path, capsys):
    result, _ = _analyzed(tmp_path, capsys, "photo-hand-no-clonus")
    assert result["tracking"]["method"] == "hand"
    assert result["clonus_detected"] is False
