"""Accuracy on generated clips with known truth: a subset of ``make eval`` and the committed
samples. Thresholds are the targets of the tracking issue (#5), not numbers from a run.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.paths import SAMPLES
from tools.clips import write_clip
from tools.evaluate import eval_set, evaluate
from vision.pipeline import analyze_video

# One clip per site and framing with 6+ beats (c10: 60 beats under 5 px of shake, whose
# fast-moving features keep failing), and one of each look-alike.
SUBSET = ("c05-jaw-medium", "c06-wrist-medium", "c10-wrist-wide", "c15-knee-close", "c16-ankle-medium",
          "c14-wrist-close", "c31-knee-medium", "n00-still-shake-ankle", "n03-slow-knee",
          "n06-tremor-only-wrist", "n08-flicker-ankle", "n10-jerk-wrist")  # fmt: skip
# Episodes of 3–5 beats in close-up and wide framings.
SHORT = ("c00-ankle-close", "c22-wrist-wide", "c33-jaw-wide", "c35-knee-wide")
# Known gaps (#5): the faint kneecap's 3–4-beat episodes in a wide shot (5–7 px under noise and
# blur; even inside the true region the tracked motion is a fraction of it). The close-up hand
# beating 40 px at 7 Hz (c02) is found on the reproducible encode, but only just: not asserted.
KNOWN_MISSES = ("c11-knee-wide", "c23-knee-wide")


def _clips(names: tuple[str, ...]):
    wanted = dict(eval_set())
    return [(n, wanted[n]) for n in names]


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    return evaluate(tmp_path_factory.mktemp("eval"), _clips(SUBSET), jobs=2)


def test_subset_meets_the_targets(subset):
    rows, summary = subset
    assert summary["clips"] == len(SUBSET) and summary["errors"] == 0
    assert summary["sensitivity"] >= 0.95, [r.name for r in rows if r.truth_clonus and not r.detected]
    assert summary["specificity"] >= 0.95, [r.name for r in rows if not r.truth_clonus and r.detected]
    assert summary["frequency_mae_hz"] <= 0.1
    assert summary["beats_within_1"] >= 0.95, [(r.name, r.truth_beats, r.beats) for r in rows]


def test_onset_within_one_period(subset):
    rows, _ = subset
    for r in rows:
        if r.truth_clonus:
            assert r.onset_err_s is not None and r.onset_err_s <= 1.0 / r.truth_hz, r.name


def test_a_clip_is_generated_the_same_every_time(tmp_path):
    # The accuracy measured on the clips must not depend on the run (x264's rate control varied).
    _, spec = _clips(("c29-jaw-medium",))[0]  # a variable frame rate, noise, shake and blur
    spec = replace(spec, duration_s=2.0)
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    assert write_clip(spec, a) == write_clip(spec, b)
    assert a.read_bytes() == b.read_bytes()


def test_short_episodes_are_found(tmp_path):
    rows, summary = evaluate(tmp_path, _clips(SHORT), jobs=2)
    assert summary["sensitivity"] == 1.0, [r.name for r in rows if not r.detected]


def test_a_region_drawn_by_hand_is_used_and_keeps_the_look_alikes_out(tmp_path):
    # The clinician's region (--roi) around the part: the beating jaw is found in it, and the
    # filmer's tremor over a still wrist and a still knee is not clonus there either. c33: three
    # beats at 8 Hz filmed at 30 fps, whose half rate the stretch raised into a bump.
    names = ("c05-jaw-medium", "c33-jaw-wide", "n06-tremor-only-wrist", "n07-tremor-only-knee")
    rows, summary = evaluate(tmp_path, _clips(names), jobs=2, drawn=True)
    assert [r.name for r in rows] == [f"{n}@drawn" for n in names]
    assert {r.method for r in rows} == {"manual"}
    assert summary["sensitivity"] == 1.0 and summary["specificity"] == 1.0, rows


@pytest.fixture(scope="module")
def known_misses(tmp_path_factory):
    return evaluate(tmp_path_factory.mktemp("misses"), _clips(KNOWN_MISSES), jobs=2)


@pytest.mark.xfail(
    strict=True,
    reason="#5 gap: at QP 30 the encoder drops most of a faint kneecap's 3–4 beats (wide shot)",
)
def test_known_misses_are_found(known_misses):
    _, summary = known_misses
    assert summary["sensitivity"] == 1.0


def test_known_misses_are_not_called_good_recordings(known_misses):
    rows, summary = known_misses
    assert summary["misses_called_good"] == 0, [(r.name, r.verdict) for r in rows]


@pytest.mark.parametrize("name", ["ankle_clonus", "jaw_clonus", "ankle_sustained", "ankle_still_handheld"])
def test_committed_samples_match_their_truth(name):
    truth = json.loads((SAMPLES / f"{name}.truth.json").read_text())["truth"]
    result = analyze_video(SAMPLES / f"{name}.mp4", site=truth["site"]).result
    assert result.clonus_detected is truth["clonus"]
    if truth["clonus"]:
        assert abs(result.frequency_hz - truth["frequency_hz"]) <= 0.1
        assert abs(result.beat_count - truth["beat_count"]) <= 1
        assert result.sustained is truth["sustained"]
