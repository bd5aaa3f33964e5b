"""Tracking on synthetic frames with known motion: the camera model, the energy map, the angle."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from scipy import signal

from vision.locate.energy import band_energy_map, roi_from_energy
from vision.motion.camera import _BG_TOP_UP_FRAMES, _camera_ahead
from vision.motion.geometry import _depth_in_hull, similarity_fit
from vision.motion.tracking import track_region
from vision.schema import Roi
from vision.video.decode import Frame, shrunk

W, H, FPS = 320, 240, 30.0


def _texture(seed: int, shape=(H * 2, W * 2)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.uniform(0, 255, shape).astype(np.float32), (0, 0), 2.0)
    return cv2.normalize(tex, None, 40, 215, cv2.NORM_MINMAX)


def _scene(times, *, part_deg=None, part_px=None, cam_px=None, roll_deg=None, seed=0):
    """Frames of a textured background with a strong horizontal edge, and a textured disc
    (the part) at (200, 110) that turns by ``part_deg(t)`` or moves by ``part_px(t)``; the
    camera shifts by ``cam_px(t)`` and rolls by ``roll_deg(t)`` about the frame centre."""
    bg = _texture(seed)
    bg[H - 40 : H - 30] = 250  # a bright bar: a strong edge the camera's tremor moves
    disc_tex = _texture(seed + 1)
    cx, cy, r = 200 + W // 2, 110 + H // 2, 36  # world pixels; the view shows the middle
    mask = np.zeros_like(bg)
    cv2.circle(mask, (cx, cy), r, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.0)
    frames = []
    for i, t in enumerate(times):
        part = np.float32([[1, 0, 0], [0, 1, 0]])
        if part_deg is not None:
            part = cv2.getRotationMatrix2D((cx, cy), part_deg(t), 1.0)
        if part_px is not None:
            part[0, 2] += part_px(t)
        moved = cv2.warpAffine(disc_tex, part, bg.shape[::-1], flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(mask, part, bg.shape[::-1], flags=cv2.INTER_LINEAR)
        world = bg * (1 - alpha) + moved * alpha
        cam = cv2.getRotationMatrix2D((W, H), roll_deg(t) if roll_deg else 0.0, 1.0)
        dx, dy = cam_px(t) if cam_px else (0.0, 0.0)
        cam[:, 2] += (dx - W // 2, dy - H // 2)  # view the middle of the world
        img = cv2.warpAffine(world, cam, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        frames.append(Frame(i, float(t), np.clip(img, 0, 255).astype(np.uint8)))
    return frames


def _in_band(time_s, xy, lo=3.0, hi=12.0):
    sos = signal.butter(2, (lo, hi), btype="bandpass", fs=1 / np.median(np.diff(time_s)), output="sos")
    return signal.sosfiltfilt(sos, xy - xy.mean(axis=0), axis=0)


TIMES = np.arange(int(3 * FPS)) / FPS
TREMOR = lambda t: (0.8 * np.sin(2 * np.pi * 10 * t), 0.8 * np.cos(2 * np.pi * 10.7 * t))  # noqa: E731
ROLL = lambda t: 0.5 * np.sin(2 * np.pi * 0.4 * t)  # noqa: E731
PART_ROI = Roi(x=(200 - 45) / W, y=(110 - 45) / H, w=90 / W, h=90 / H)


def test_similarity_fit_recovers_the_camera_and_ignores_another_mover():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 600, (120, 2))
    true = cv2.getRotationMatrix2D((300, 200), 1.5, 1.01)
    true[:, 2] += (2.5, -1.2)
    dst = src @ true[:, :2].T + true[:, 2] + rng.normal(0, 0.05, src.shape)
    dst[:30] += (6.0, 4.0)  # a quarter of the points belong to something else that moves
    fitted, weight = similarity_fit(src, dst)
    assert np.abs(fitted - true).max() < 0.02
    assert np.all(weight[:30] == 0) and np.all(weight[30:] > 0)
    assert np.array_equal(similarity_fit(src, dst)[0], fitted)  # deterministic


def test_camera_tremor_and_roll_do_not_move_a_still_part():
    trace = track_region(_scene(TIMES, cam_px=TREMOR, roll_deg=ROLL), PART_ROI)
    assert np.abs(_in_band(trace.time_s, trace.xy_px)).max() < 0.15  # px; the tremor is 0.8 px
    assert np.abs(_in_band(trace.time_s, trace.camera_xy_px)).max() > 0.5  # it was seen


def test_a_beating_part_is_measured_through_camera_tremor():
    beat = lambda t: 2.0 * np.sin(2 * np.pi * 5.0 * t)  # noqa: E731
    trace = track_region(_scene(TIMES, part_px=beat, cam_px=TREMOR, roll_deg=ROLL), PART_ROI)
    x = _in_band(trace.time_s, trace.xy_px)[:, 0]
    truth = _in_band(TIMES, np.stack([beat(TIMES), 0 * TIMES], axis=1))[:, 0]
    inner = slice(10, -10)
    assert np.abs(x[inner] - truth[inner]).max() < 0.25


def test_a_turning_part_gives_its_angle():
    turn = lambda t: 4.0 * np.sin(2 * np.pi * 4.0 * t)  # noqa: E731  8° peak to peak
    trace = track_region(_scene(TIMES, part_deg=turn, cam_px=TREMOR), PART_ROI)
    angle = _in_band(trace.time_s, trace.angle_deg[:, None])[:, 0]
    assert np.ptp(angle[15:-15]) == pytest.approx(8.0, rel=0.15)


def test_energy_map_finds_a_small_short_beat_not_the_edges_the_camera_moves():
    times = np.arange(int(4 * FPS)) / FPS
    # Three beats of 1 px in four seconds, under a 0.8-px tremor of the whole camera.
    beat = lambda t: np.where((t > 1.5) & (t < 2.1), 1.0 * np.sin(2 * np.pi * 5.0 * (t - 1.5)), 0.0)  # noqa: E731
    frames = _scene(times, part_px=beat, cam_px=TREMOR)
    small = np.stack([shrunk(f.image, 96) for f in frames])  # as the analysis makes the map's frames
    roi, ratio = roi_from_energy(band_energy_map(small, times, (3.0, 12.0)))
    cx, cy = (roi.x + roi.w / 2) * W, (roi.y + roi.h / 2) * H
    assert abs(cx - 200) < 40 and abs(cy - 110) < 40, roi
    assert ratio > 3


@pytest.mark.parametrize("seed", [502, 503])
def test_energy_map_finds_the_kneecap_when_the_phone_wanders_as_well_as_shakes(tmp_path, seed):
    # A wide shot of a leg along the wall's foot, filmed hand-held: the phone wanders by 5 px
    # while the filmer's tremor shakes it by 1 px. The sharp edges the wandering carries across
    # pixels show the tremor with a changing strength; the region must still be the kneecap,
    # not a strip along the edges.
    from tools.clips import ClipSpec, write_clip
    from tools.waveform import ClonusSpec
    from vision.video.decode import iter_frames
    from vision.video.probe import probe
    from vision.video.single_pass import MAP_MAX_SIDE_PX, TRACK_MAX_SIDE_PX

    spec = ClipSpec(site="knee", framing="wide", person=2, duration_s=3.5, fps=30.0, width=854, height=480,
                    clonus=ClonusSpec(frequency_hz=6.0, beats=5, onset_s=1.2, seed=seed),
                    shake_px=5.0, tremor_px=1.0, noise_sd=3.0, crf=30, seed=seed)  # fmt: skip
    truth = write_clip(spec, tmp_path / "knee.mp4")
    info = probe(tmp_path / "knee.mp4")
    frames = list(iter_frames(tmp_path / "knee.mp4", info, fmt="gray", max_side_px=TRACK_MAX_SIDE_PX))
    small = np.stack([shrunk(f.image, MAP_MAX_SIDE_PX) for f in frames])
    roi, _ = roi_from_energy(band_energy_map(small, np.array([f.time_s for f in frames]), (3.0, 12.0)))
    box = truth["roi"]
    cx, cy = box["x"] + box["w"] / 2, box["y"] + box["h"] / 2
    assert roi.x <= cx <= roi.x + roi.w and roi.y <= cy <= roi.y + roi.h, (roi, box)
    assert roi.w < 0.4, roi  # the kneecap's surroundings, not the leg's length


def test_fading_beats_are_measured_after_the_moving_features_are_lost():
    # Ten features on the part beat, then are lost; the features that replace them on the part
    # see only the last, fading beats, so their steps alone cannot mark them as the part's.
    # The still features of the skin around it must not stand in for them.
    from vision.motion.tracking import _moving_steps, _Step

    rng = np.random.default_rng(0)
    t = np.arange(120) / 30.0
    x = np.sin(2 * np.pi * 6.0 * t) * np.where(t < 2.0, 4.0, 4.0 * np.exp(-(t - 2.0) / 0.6))
    steps = np.diff(x, prepend=0.0)
    part = np.array([200.0, 150.0]) + rng.normal(0, 6, (10, 2))
    skin = np.array([200.0, 150.0]) + rng.uniform(-120, 120, (80, 2))
    skin = skin[np.hypot(*(skin - [200, 150]).T) > 40]
    log = []
    for n in range(len(t)):
        ids = np.arange(10) if t[n] < 2.0 else np.arange(10, 20)  # the part's features, replaced
        here = np.concatenate([part, skin])
        step = np.zeros((len(here), 2))
        step[:10, 1] = steps[n] + rng.normal(0, 0.02, 10)
        step[10:] = rng.normal(0, 0.02, (len(skin), 2))
        log.append(_Step(np.concatenate([ids, 100 + np.arange(len(skin))]), here, step))
    moving, _, _ = _moving_steps(log, 15)
    y = np.cumsum([m[1] for m in moving])
    late = t >= 2.0
    assert np.ptp(y[late]) > 0.5 * np.ptp(x[late])  # the fading beats are still there


def test_depth_inside_the_hull_is_the_distance_to_its_outline():
    # What the rotation's "well inside the part" test measures, for all points at once; the same
    # as OpenCV's point-in-polygon distance, and 0 for points on a line (no inside).
    rng = np.random.default_rng(5)
    for n in (3, 7, 40, 150):
        pts = rng.uniform(0, 200, (n, 2))
        hull = cv2.convexHull(pts.astype(np.float32))
        ref = [cv2.pointPolygonTest(hull, (float(x), float(y)), True) for x, y in pts]
        assert np.allclose(_depth_in_hull(pts), ref, atol=1e-3)
    assert np.array_equal(_depth_in_hull(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])), np.zeros(3))


def test_the_camera_is_followed_on_its_own_thread_in_frame_order_ahead_of_the_part():
    steps: list[tuple[str, int, bool]] = []
    handed_out: list[int] = []

    class Recorder:
        mask = None

        def step(self, gray: np.ndarray, top_up: bool, mask: np.ndarray | None) -> np.ndarray:
            steps.append((threading.current_thread().name, int(gray[0, 0]), top_up))
            return np.eye(2, 3)

    images = [np.full((4, 4), i, np.uint8) for i in range(40)]
    frames = ((Frame(i, i / FPS, im), im, 1.0) for i, im in enumerate(images))
    with ThreadPoolExecutor(1, thread_name_prefix="camera") as pool:
        for frame, _gray, _mean, job in _camera_ahead(frames, Recorder(), pool, ahead=2):
            assert job.result().shape == (2, 3)
            handed_out.append(frame.index)
            if frame.index < 37:  # the next two frames' steps are already queued or done
                pool.submit(lambda: None).result()  # wait for the queue ahead of this
                assert len(steps) >= frame.index + 3
    assert handed_out == list(range(40))
    assert [index for _, index, _ in steps] == list(range(40))
    assert all(name.startswith("camera") for name, _, _ in steps)
    assert [i for _, i, top_up in steps if top_up] == list(range(0, 40, _BG_TOP_UP_FRAMES))


def test_the_camera_finds_its_corners_where_the_region_was_when_its_step_was_asked_for(monkeypatch):
    # The camera's step runs on its own thread, up to two frames ahead of the part, while the
    # part's tracking moves the region (and so where the camera's new corners may be found).
    # A camera thread that falls behind must not find them elsewhere: the trace is the same
    # however the threads are timed.
    import time

    import vision.motion.camera as camera

    times = np.arange(int(3 * FPS)) / FPS
    beat = lambda t: 1.5 * np.sin(2 * np.pi * 6.0 * t)  # noqa: E731
    scene = lambda: _scene(times, part_px=beat, cam_px=_pan)  # noqa: E731
    prompt = track_region(scene(), PART_ROI)
    real = camera._Camera.step

    def late(self, *args, **kwargs):
        time.sleep(0.01)  # the part's tracking moves on meanwhile
        return real(self, *args, **kwargs)

    monkeypatch.setattr(camera._Camera, "step", late)
    slow = track_region(scene(), PART_ROI)
    assert np.array_equal(prompt.camera_xy_px, slow.camera_xy_px)
    assert np.array_equal(prompt.xy_px, slow.xy_px)
    assert np.array_equal(prompt.region_px, slow.region_px)


def _pan(t, start_s=1.0, dur_s=1.0, dx_px=-100.0):
    x = np.clip((t - start_s) / dur_s, 0, 1)
    return dx_px * x * x * (3 - 2 * x), 0.0


def test_the_region_follows_the_part_through_the_filmers_pan():
    """A pan of a third of the frame carries the part from x = 200 to 100: the region goes with
    it, features are found where the part is now, and its beats are measured after the pan."""
    times = np.arange(int(4 * FPS)) / FPS
    beat = lambda t: 1.5 * np.sin(2 * np.pi * 6.0 * t)  # noqa: E731
    trace = track_region(_scene(times, part_px=beat, cam_px=_pan), PART_ROI)
    x0, y0, x1, y1 = trace.region_px[-1]
    assert abs((x0 + x1) / 2 - 100) < 12 and abs((y0 + y1) / 2 - 110) < 12
    assert trace.region_px[0][0] == pytest.approx(155, abs=2)  # it started where it was put
    late = times > 2.5
    x = _in_band(trace.time_s, trace.xy_px)[:, 0]
    assert np.ptp(x[late]) == pytest.approx(3.0, rel=0.2)
    assert trace.valid.all()


def test_a_part_covered_for_a_moment_is_untracked_not_measured_as_motion():
    """The examiner's hand passes over the part for five frames: those frames are marked
    untracked, and the measured motion does not jump."""
    frames = _scene(TIMES)
    cover = _texture(9, (100, 100)).astype(np.uint8)
    for f in frames[40:45]:
        f.image[60:160, 150:250] = cover
    trace = track_region(frames, PART_ROI)
    assert not trace.valid[40]
    assert trace.valid[:40].all() and trace.valid[50:].all()
    steady = trace.valid
    assert np.abs(np.diff(trace.xy_px[steady], axis=0)).max() < 0.5  # px: no step from the cover


def test_a_hand_sweeping_through_the_region_does_not_hide_the_beats_after_it():
    # The examiner's hand sweeps through the region (8-px steps for a second), then the part's
    # features beat by 1 px for two seconds, among still skin. Judged over the whole recording,
    # the hand's steps made the part's features look still, and the skin stood in for them.
    from vision.motion.tracking import _moving_steps, _Step

    rng = np.random.default_rng(3)
    t = np.arange(150) / 30.0
    beats = np.where((t >= 2.0) & (t < 4.0), np.sin(2 * np.pi * 6.0 * (t - 2.0)), 0.0)
    part_steps = np.diff(beats, prepend=0.0)
    part = np.array([200.0, 200.0]) + rng.normal(0, 6, (12, 2))
    skin = np.array([200.0, 200.0]) + rng.uniform(-120, 120, (80, 2))
    hand0 = np.array([40.0, 40.0]) + rng.normal(0, 8, (15, 2))
    log = []
    for n in range(len(t)):
        ids, here, step = [100 + np.arange(80)], [skin], [rng.normal(0, 0.02, (80, 2))]
        ids.append(np.arange(12))
        here.append(part)
        step.append(np.column_stack([rng.normal(0, 0.02, 12), part_steps[n] + rng.normal(0, 0.02, 12)]))
        if t[n] < 1.0:
            ids.append(200 + np.arange(15))
            here.append(hand0 + np.array([8.0 * n, 0.0]))
            step.append(np.tile([8.0, 0.0], (15, 1)))
        log.append(_Step(np.concatenate(ids), np.concatenate(here), np.concatenate(step)))
    moving, _, _ = _moving_steps(log, 15)
    y = np.cumsum([m[1] for m in moving])
    on = (t >= 2.2) & (t < 3.8)
    assert np.ptp(y[on]) == pytest.approx(np.ptp(beats[on]), rel=0.15)


@pytest.mark.parametrize(
    ("away_s", "back_s"), [(3.0, 4.2), (4.75, 9.0)], ids=["sweeping-past", "leaving-at-the-last-frame"]
)
def test_energy_map_finds_a_short_beat_not_a_hand_sweeping_past(away_s, back_s):
    # A small patch beats by 1 px at 6 Hz for 1.2 s; a larger patch (the examiner's hand)
    # sweeps 40 px across the frame in 0.3 s and back a second later, or leaves as the
    # recording ends (a movement cut by the last frame is not held). The region must be the
    # beating patch.
    times = np.arange(int(5 * FPS)) / FPS
    bg, patch, hand = _texture(7, (H, W)), _texture(8, (40, 40)), _texture(9, (70, 70))
    frames = []
    for t in times:
        img = bg.copy()
        dy = np.sin(2 * np.pi * 6.0 * (t - 1.0)) if 1.0 <= t < 2.2 else 0.0
        m = np.float32([[1, 0, 0], [0, 1, dy]])
        img[90:130, 180:220] = cv2.warpAffine(patch, m, (40, 40), borderMode=cv2.BORDER_REFLECT)
        x0 = 40 + 40 * (np.clip((t - away_s) / 0.3, 0, 1) - np.clip((t - back_s) / 0.3, 0, 1))
        img[150:220, int(x0) : int(x0) + 70] = hand
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    small = np.stack([shrunk(f, 96) for f in frames])
    roi, _ = roi_from_energy(band_energy_map(small, times, (3.0, 12.0)))
    cx, cy = (roi.x + roi.w / 2) * W, (roi.y + roi.h / 2) * H
    assert abs(cx - 200) < 30 and abs(cy - 110) < 30, roi


def _long_beating_stack(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """A textured patch that beats by 1 px at 6 Hz from 15 s to 20 s (across the map's first
    chunk boundary), under a camera that wanders slowly; 96-px frames."""
    times = np.arange(int(seconds * FPS)) / FPS
    bg, patch = _texture(3, (120, 160)), _texture(4, (16, 16))
    frames = np.empty((len(times), 54, 96), np.uint8)
    for i, t in enumerate(times):
        img = bg.copy()
        dy = np.sin(2 * np.pi * 6.0 * t) if 15.0 <= t < 20.0 else 0.0
        m = np.float32([[1, 0, 0], [0, 1, dy]])
        img[40:56, 100:116] = cv2.warpAffine(patch, m, (16, 16), borderMode=cv2.BORDER_REFLECT)
        x, y = 20 + 3 * np.sin(0.3 * t), 20 + 2 * np.cos(0.2 * t)
        view = cv2.warpAffine(img, np.float32([[1, 0, -x], [0, 1, -y]]), (96, 54), flags=cv2.INTER_LINEAR)
        frames[i] = np.clip(view, 0, 255).astype(np.uint8)
    return frames, times


def test_energy_map_worked_in_chunks_is_the_map_of_the_whole_and_its_memory_is_flat(monkeypatch):
    import tracemalloc

    import vision.locate.energy as energy

    frames, times = _long_beating_stack(80.0)
    frames, times, long_frames, long_times = frames[:1200], times[:1200], frames, times  # 40 s: three chunks
    chunked = band_energy_map(frames, times, (3.0, 12.0))
    monkeypatch.setattr(energy, "_CHUNK_FRAMES", 10_000)
    whole = band_energy_map(frames, times, (3.0, 12.0))
    assert np.abs(chunked - whole).max() <= 1e-3 * whole.max()
    roi, _ = roi_from_energy(chunked)
    assert roi.x * 96 <= 108 - 20 <= (roi.x + roi.w) * 96  # the patch, in the middle frame's place
    monkeypatch.undo()

    def peak_mb(n: int) -> float:
        tracemalloc.start()
        band_energy_map(long_frames[:n], long_times[:n], (3.0, 12.0))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak / 1e6

    # Beyond the stack itself (5 kB a frame), twice the recording costs little more (the
    # whole stack in float32 at once would cost 20 kB a frame more, and its filtering more again).
    assert peak_mb(2400) < 1.25 * peak_mb(1200)


def test_local_energy_worked_in_stretches_is_the_energy_of_the_whole(monkeypatch):
    import vision.motion.tracking as tracking

    rng = np.random.default_rng(5)
    log, alive, next_id = [], [], 0
    for _ in range(1300):  # features found and lost at random, some living one or two steps
        alive = [f for f in alive if rng.random() > 0.05]
        while len(alive) < 40:
            alive.append(next_id)
            next_id += 1
        ids = np.array(alive, np.int64)
        log.append(
            tracking._Step(
                ids, rng.normal(0, 50, (len(ids), 2)), rng.normal(0, 1, (len(ids), 2)) * (ids % 3)[:, None]
            )
        )
    stretched = tracking._local_energy(log, 15)
    monkeypatch.setattr(tracking, "_ENERGY_CHUNK_STEPS", 100_000)
    whole = tracking._local_energy(log, 15)
    assert len(stretched) == len(whole) == len(log)
    assert all(np.allclose(a, b, rtol=1e-9, atol=1e-12) for a, b in zip(stretched, whole, strict=True))
    assert sum(int((e == 0).sum()) for e in whole) > 0  # short lives and still features are there
