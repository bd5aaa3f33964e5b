"""The bench's long clip: the same pictures played again, remuxed, its timestamps carried on."""

from __future__ import annotations

import numpy as np

from tools.bench import looped_clip
from vision.video.decode import iter_decoded
from vision.video.probe import probe
from vision.video.writer import VideoWriter


def test_a_clip_looped_twice_holds_its_frames_twice_in_time_order_with_its_rotation(tmp_path):
    path = tmp_path / "bench_2s_160x128.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(path, width=160, height=128, fps=30.0, display_rotation_ccw=90) as writer:
        for i in range(60):
            writer.write(rng.integers(0, 255, (128, 160, 3), dtype=np.uint8), i / 30.0)
    looped = looped_clip(path, 2)
    one, two = probe(path), probe(looped)
    assert looped != path and two.rotation == one.rotation
    times = [t for _, t, _ in iter_decoded(looped, two)]
    assert len(times) == 2 * len([t for _, t, _ in iter_decoded(path, one)])
    assert np.all(np.diff(times) > 0) and times[-1] > 1.9 * (times[len(times) // 2 - 1])
    (tmp_path / "short").mkdir()
    cut = looped_clip(path.rename(tmp_path / "short" / path.name), 2, max_s=3.5)
    assert 3.3 <= probe(cut).duration_s <= 3.5 + 1 / 30


def test_the_phase_row_s_fresh_decode_runs_in_a_process_of_its_own_started_from_the_phases_own(tmp_path):
    # The floor is put in the warm row's units with a fresh process's decode timed in the same
    # rounds; the phases run in a fresh process themselves, which starts it.
    from tools.bench import _decode, _in_fresh_process

    path = tmp_path / "clip.mp4"
    with VideoWriter(path, width=64, height=48, fps=30.0) as writer:
        for i in range(10):
            writer.write(np.full((48, 64, 3), 20 * i, np.uint8), i / 30.0)
    seconds, _, frames = _in_fresh_process(_in_fresh_process, _decode, str(path))
    assert 0 < seconds < 60 and frames == 10
