"""An ankle exam on a real photo of lower legs (no face), where the pose model takes a leg, a
shoe and the examiner's hand for a whole person, upside down, with its ankles on the thigh:
the analysis must not say "no clonus" with the verdict good."""

from __future__ import annotations

import json

from service.cli import main
from tools.exam import photo_set, write_exam


def test_landmarks_placed_where_nothing_beats_are_doubted_not_trusted(tmp_path, capsys):
    name, spec = photo_set()[0]
    path = tmp_path / f"{name}{spec.suffix}"
    truth = write_exam(spec, path)
    assert main(["analyze", str(path), "--site", "ankle", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    found = result["clonus_detected"] and abs(result["beat_count"] - truth["beat_count"]) <= 1
    if not found:  # today the motion region misses the shoe: then it must say why, for review
        assert result["quality"]["verdict"] != "good"
        assert any("where nothing moves in the clonus band" in i for i in result["quality"]["issues"])
    # With the region on the shoe, the beats are all there: the placement is what fails.
    assert main(["analyze", str(path), "--site", "ankle", "--roi", "0.3,0.4,0.3,0.18", "--json"]) == 0
    drawn = json.loads(capsys.readouterr().out)
    assert drawn["clonus_detected"] is True and abs(drawn["beat_count"] - truth["beat_count"]) <= 1
    assert abs(drawn["frequency_hz"] - truth["frequency_hz"]) <= 0.05
