"""Video input: true timestamps, rotation applied, every kind of bad file a specific error."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from tests.conftest import audio_only_file
from vision.errors import (
    CorruptVideoError,
    FrameTooLargeError,
    FrameTooSmallError,
    NoFramesError,
    NotAVideoError,
    NoVideoStreamError,
    VideoError,
    VideoGapError,
    VideoTooLongError,
    VideoTooShortError,
)
from vision.video.decode import _area_scaled, iter_frames
from vision.video.probe import VideoLimits, probe
from vision.video.writer import VideoWriter

PORTRAIT = np.zeros((128, 64, 3), np.uint8)
PORTRAIT[:8, :8] = 255  # a marker at the top-left of the upright picture


@pytest.mark.parametrize("rotation_ccw", [0, 90, 180, 270])
def test_rotation_is_applied_so_frames_come_out_upright(tmp_path, rotation_ccw):
    stored = np.ascontiguousarray(np.rot90(PORTRAIT, k=-(rotation_ccw // 90)))
    path = tmp_path / "rot.mp4"
    with VideoWriter(
        path, width=stored.shape[1], height=stored.shape[0], display_rotation_ccw=rotation_ccw
    ) as w:
        for _ in range(40):
            w.write(stored)
    info = probe(path)
    assert (info.width, info.height) == (64, 128)
    assert info.rotation == (-rotation_ccw) % 360
    frame = next(iter(iter_frames(path, info)))
    assert frame.image.shape == (128, 64, 3)
    assert frame.image[:8, :8].mean() > 200 and frame.image[-8:, -8:].mean() < 30


def test_variable_frame_rate_timestamps_come_through(clip_factory):
    times = [i / 30 for i in range(30)] + [1 + i / 15 for i in range(20)]
    path = clip_factory(times_s=times)
    info = probe(path)
    assert info.variable_frame_rate
    assert info.frame_count == len(times)
    got = [f.time_s for f in iter_frames(path, info, fmt="gray")]
    np.testing.assert_allclose(got, times, atol=1e-4)
    assert info.measured_fps == pytest.approx((len(times) - 1) / times[-1], rel=1e-3)


def test_constant_rate_is_not_flagged_vfr(clip_factory):
    info = probe(clip_factory(frames=60, fps=30))
    assert not info.variable_frame_rate
    assert info.measured_fps == pytest.approx(30, rel=1e-3)
    assert info.duration_s == pytest.approx(2.0, abs=1e-3)


@pytest.mark.parametrize(
    "codec,suffix",
    [("h264", ".mp4"), ("hevc", ".mp4"), ("h264", ".mov"), ("vp8", ".webm"), ("vp9", ".webm")],
)
def test_phone_and_browser_codecs_decode(clip_factory, codec, suffix):
    path = clip_factory(suffix=suffix, codec=codec, frames=36)
    info = probe(path)
    assert info.codec == codec
    assert len(list(iter_frames(path, info))) == 36


def test_scaled_gray_frames(clip_factory):
    path = clip_factory(frames=40, size=(320, 240))
    info = probe(path)
    frame = next(iter(iter_frames(path, info, fmt="gray", max_side_px=160)))
    assert frame.image.shape == (120, 160)


def test_memory_does_not_depend_on_length(clip_factory):
    # A generator: frames are produced one at a time, nothing is accumulated.
    path = clip_factory(frames=90)
    frames = iter_frames(path, probe(path))
    first = next(frames)
    assert first.index == 0 and next(frames).index == 1


def test_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("patient notes, definitely not a video\n" * 50)
    with pytest.raises(NotAVideoError):
        probe(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(NotAVideoError, match="empty"):
        probe(path)


def test_audio_only_has_no_video_stream(tmp_path):
    with pytest.raises(NoVideoStreamError):
        probe(audio_only_file(tmp_path / "voice.m4a"))


def test_truncated_file(clip_factory):
    path = clip_factory(frames=90, size=(160, 120))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptVideoError):
        info = probe(path)
        list(iter_frames(path, info))


def test_truncated_before_index(clip_factory):
    path = clip_factory(frames=60, size=(160, 120))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises((CorruptVideoError, NoFramesError)):
        probe(path)


def test_corrupt_data_never_crashes(clip_factory):
    path = clip_factory(frames=90, size=(160, 120))
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    start = len(data) // 4
    data[start : start + 4000] = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    try:
        info = probe(path)
        frames = list(iter_frames(path, info))
    except VideoError:
        return  # a specific error is a correct answer
    assert frames  # or the decoder concealed the damage and frames still come out


def test_too_short(clip_factory):
    with pytest.raises(VideoTooShortError, match="at least 1 s"):
        probe(clip_factory(frames=12))


def test_too_long(clip_factory):
    with pytest.raises(VideoTooLongError):
        probe(clip_factory(frames=90), VideoLimits(max_duration_s=2.0))


def test_frame_too_large(clip_factory):
    with pytest.raises(FrameTooLargeError):
        probe(clip_factory(frames=40, size=(320, 240)), VideoLimits(max_frame_pixels=320 * 200))


def test_frames_too_small_to_find_a_part(clip_factory):
    with pytest.raises(FrameTooSmallError, match=r"28×20 are too small.*64 pixels") as info:
        probe(clip_factory(frames=60, size=(28, 20)))
    assert info.value.code == "frame-too-small"
    probe(clip_factory(frames=60, size=(96, 64)))  # the minimum itself is taken


def test_errors_carry_codes_and_plain_messages(tmp_path):
    path = tmp_path / "x.mov"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(VideoError) as info:
        probe(path)
    assert info.value.code in {"not-a-video", "corrupt-video"}
    assert "Traceback" not in info.value.message


def test_selected_frames_only(clip_factory):
    path = clip_factory(frames=60)
    info = probe(path)
    every = list(iter_frames(path, info))
    chosen = list(iter_frames(path, info, indices={0, 17, 42}))
    assert [f.index for f in chosen] == [0, 17, 42]
    for f in chosen:
        assert f.time_s == every[f.index].time_s
        np.testing.assert_array_equal(f.image, every[f.index].image)


def test_gray_read_from_the_luma_plane_matches_swscale(clip_factory):
    path = clip_factory(frames=40)
    info = probe(path)
    ours = next(iter_frames(path, info, fmt="gray", max_side_px=64)).image
    with av.open(str(path)) as c:
        frame = next(c.decode(c.streams.video[0]))
        ref = frame.to_ndarray(format="gray", width=ours.shape[1], height=ours.shape[0])
    assert ours.shape == ref.shape
    assert np.abs(ours.astype(int) - ref.astype(int)).mean() < 2.0  # same levels (full range)


def test_frame_spool_gives_back_every_frame_in_order(clip_factory):
    from vision.video.spool import FrameSpool

    path = clip_factory(frames=40)
    info = probe(path)
    frames = list(iter_frames(path, info, fmt="gray", max_side_px=80))
    with FrameSpool() as spool:
        for f in frames:
            spool.append(f)
        for _ in range(2):  # read back as often as needed
            back = list(spool.frames())
            assert [b.time_s for b in back] == [f.time_s for f in frames]
            assert all(np.array_equal(b.image, f.image) for b, f in zip(back, frames, strict=True))
        # A stretch of it, every third frame (the landmarks' second measure of an episode).
        some = list(spool.frames(5, 20, 3))
        assert [b.index for b in some] == [f.index for f in frames[5:20:3]]
        assert all(np.array_equal(b.image, f.image) for b, f in zip(some, frames[5:20:3], strict=True))
        with pytest.raises(ValueError):
            spool.append(type(frames[0])(99, 9.9, np.zeros((3, 3), np.uint8)))


@pytest.mark.parametrize("stored, size", [((1920, 1080), (640, 360)), ((3200, 1800), (640, 360)),
                                          ((1280, 720), (640, 360)), ((1000, 700), (640, 448))])  # fmt: skip
def test_frames_are_scaled_down_to_the_same_pixels_as_an_area_resize(stored, size):
    # The odd whole factors (3, 5) take a faster path; every size gives OpenCV's area average.
    rng = np.random.default_rng(7)
    image = cv2.GaussianBlur(rng.integers(0, 256, stored[::-1], dtype=np.uint8), (0, 0), 0.8)
    fast = _area_scaled(image, size)
    assert fast.shape == size[::-1] and fast.flags.c_contiguous
    assert np.array_equal(fast, cv2.resize(image, size, interpolation=cv2.INTER_AREA))


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_a_still_image_is_not_a_video(tmp_path, suffix):
    """Issue 27, item 12: a photo was accepted as a one-frame video and refused as too short."""
    path = tmp_path / f"photo{suffix}"
    assert cv2.imwrite(str(path), np.full((120, 160, 3), 90, np.uint8))
    with pytest.raises(NotAVideoError, match="still image"):
        probe(path)


def test_a_recording_with_a_hole_in_it_is_refused_with_the_reason(clip_factory):
    """Issue 27, item 11: a 100-s gap between two frames crashed the analysis (a filter at
    0.6 Hz); now the video is refused, naming the gap."""
    times = [i / 30 for i in range(45)] + [101.5 + i / 30 for i in range(45)]
    path = clip_factory(times_s=times, size=(96, 64))
    with pytest.raises(VideoGapError, match=r"gap of 100\.\d s after 1\.5 s"):
        probe(path)


def test_dropped_frames_are_not_a_hole(clip_factory):
    times = [i / 30 for i in range(45)] + [1.5 + 1.0 + i / 30 for i in range(45)]  # one second lost
    assert probe(clip_factory(times_s=times, size=(96, 64))).frame_count == 90


@pytest.mark.parametrize("suffix, codec", [(".mp4", "libx264"), (".webm", "libvpx-vp9")])
def test_a_stretch_read_again_by_seeking_gives_the_same_frames_and_times(tmp_path, suffix, codec):
    """The landmarks' second reading of an episode decodes that stretch only, from the keyframe
    before it: the same frames, at the same times, as the pass over the whole recording."""
    from vision.video.decode import iter_decoded, iter_window

    path = tmp_path / f"gop{suffix}"
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=30)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.gop_size = 10  # a keyframe every third of a second
        for i in range(90):
            img = np.full((64, 96, 3), 40, np.uint8)
            img[20:40, i % 70 : i % 70 + 20] = 220
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    info = probe(path)
    whole = [(t, f.pts, f.to_ndarray(format="gray")) for _, t, f in iter_decoded(path, info)]
    first_pts = whole[0][1]
    again = [(t, f.to_ndarray(format="gray")) for t, f in iter_window(path, info, first_pts, 1.45, 2.05)]
    expected = [(t, img) for t, _, img in whole if 1.45 - 1e-3 <= t <= 2.05 + 1e-3]
    assert [t for t, _ in again] == pytest.approx([t for t, _ in expected], abs=1e-6) and len(again) == 18
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(again, expected, strict=True))
