"""Recordings that look like a real exam (``tools.exam``): the lower leg alone in view (no
face, so no pose), the examiner's hand arriving and holding a 15–30° stretch, the beats on the
hold, the filmer panning; and the same exam without clonus."""

from __future__ import annotations

import numpy as np
import pytest

from tools.exam import ExamSpec, Stretch, lookalike_set, write_exam
from vision.pipeline import analyze_video

pytestmark = pytest.mark.slow

_STRETCH = Stretch(at_s=2.0, size=22.0, beats=10, frequency_hz=6.3, beat_size=3.0, latency_s=0.1, seed=3)


def _exam(tmp_path, name: str, **kw) -> tuple[dict, object]:
    spec = ExamSpec(**{"stretches": (_STRETCH,), "duration_s": 6.0, "framing": "medium", "seed": 5, **kw})
    path = tmp_path / f"{name}.mp4"
    truth = write_exam(spec, path)
    return truth, analyze_video(path, site="ankle")


@pytest.mark.parametrize("pan", [0.0, 0.3], ids=["still", "panned"])
def test_clonus_on_a_held_stretch_of_the_lower_leg_alone(tmp_path, pan):
    truth, analysis = _exam(tmp_path, "exam", pan=pan, pan_s=0.5)
    r = analysis.result
    assert r.tracking.method == "motion"  # no person for the pose model: found from the motion
    assert r.clonus_detected is True and r.quality.verdict == "good"
    assert r.frequency_hz == pytest.approx(truth["frequency_hz"], abs=0.1)
    assert abs(r.beat_count - truth["beat_count"]) <= 1
    assert r.episodes[0].start_s == pytest.approx(truth["start_s"], abs=0.1)
    # The examiner's stretch is found where it began, and the episode follows it.
    stretches = [e.time_s for e in r.events if e.kind == "stretch"]
    assert min(abs(t - _STRETCH.at_s) for t in stretches) <= 0.1
    assert r.episodes[0].trigger_s == pytest.approx(_STRETCH.at_s, abs=0.1)
    path = r.tracking.path  # the region's path is in the result
    assert path and path[0].time_s == pytest.approx(0.0, abs=0.05)


@pytest.mark.parametrize("pan", [0.0, 0.3], ids=["still", "panned"])
def test_the_region_moves_with_the_pan_not_with_the_examiners_hand(tmp_path, pan):
    _, analysis = _exam(tmp_path, "exam", pan=pan, pan_s=0.5)
    path = analysis.result.tracking.path
    moved = (path[-1].x + path[-1].w / 2) - (path[0].x + path[0].w / 2)
    assert moved == pytest.approx(-pan, abs=0.05)


def test_the_overlay_marks_the_stretch(tmp_path):
    from vision.render.overlay import _EVENT, _Scene

    _, analysis = _exam(tmp_path, "marked")
    stretch = next(e for e in analysis.result.events if e.kind == "stretch")
    scene = _Scene(analysis, 320, 180)
    blank = np.zeros((180, 320, 3), np.uint8)

    def marked(t: float) -> int:
        return int(np.all(scene.draw(blank.copy(), t) == _EVENT, axis=2).sum())

    assert marked(stretch.time_s + 0.1) > 50  # named on the frame and ticked on the panel
    assert marked(stretch.time_s - 4.5) == 0  # before it is in the panel's window


def test_the_stretch_and_hold_without_beats_is_not_clonus(tmp_path):
    nothing = Stretch(at_s=2.0, size=25.0, beats=0, hold_s=2.5, seed=4)
    _, analysis = _exam(tmp_path, "none", stretches=(nothing,))
    assert analysis.result.clonus_detected is False


@pytest.mark.parametrize(
    ("name", "kind"), [("l00-tapping-wrist", "voluntary"), ("l06-tremor-ankle", "tremor")]
)
def test_look_alikes_are_not_clonus_and_say_why(tmp_path, name, kind):
    spec = dict(lookalike_set())[name]
    path = tmp_path / f"{name}.mp4"
    write_exam(spec, path)
    r = analyze_video(path, site=spec.site).result
    assert r.clonus_detected is False and r.quality.verdict == "review"
    assert [k.kind for k in r.lookalikes] == [kind]
    assert any(r.lookalikes[0].reason in issue for issue in r.quality.issues)


def test_a_test_pattern_has_no_body_part_and_says_so(tmp_path):
    """FFmpeg's testsrc2 (moving colour bars, a counter): nothing a clinician filmed."""
    import av

    path = tmp_path / "testsrc2.mp4"
    graph = av.filter.Graph()
    source, sink = graph.add("testsrc2", "size=160x120:rate=30"), graph.add("buffersink")
    source.link_to(sink)
    graph.configure()
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for _ in range(180):
            frame = sink.pull().reformat(format="yuv420p")
            frame.pts = None
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    r = analyze_video(path, site="auto").result
    assert r.clonus_detected is False and r.tracking.method == "motion"
    assert r.quality.verdict == "review"
    assert any("no body part was recognized" in issue for issue in r.quality.issues)
