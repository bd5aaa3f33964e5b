"""The landmark models are prepared offline, verified, and put landmarks where they belong."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from models.registry import (
    ModelUnavailableError,
    _stored_zip,
    configure,
    manifest,
    model_path,
    sha256_file,
)
from tests.conftest import astronaut_rgb, grace_hopper_rgb
from tests.paths import ROOT
from vision.locate.landmarks import (
    FACE,
    HAND,
    POSE,
    FaceDetector,
    FaceLandmarker,
    HandLandmarker,
    PoseLandmarker,
)

MODELS = [
    "face_landmarker",
    "pose_landmarker_full",
    "haar_frontalface",
    "face_detector",
    "hand_landmarker_full",
]


def test_manifest_names_source_checksum_and_offline_recipe():
    models = manifest()
    assert set(models) == set(MODELS)
    for name, entry in models.items():
        # BlazeFace full range has no official Tasks file (only short range, which misses faces
        # beyond about 2 m): it is built from the wheel's model, with the metadata Tasks needs.
        assert name == "face_detector" or entry["official_url"].startswith("https://")
        assert len(entry["sha256"]) == 64
        assert entry["offline"]["wheel"].count("==") == 1


@pytest.mark.parametrize("name", MODELS)
def test_prepared_models_match_their_sha256(name):
    path = model_path(name)
    assert sha256_file(path) == manifest()[name]["sha256"]


def test_face_detector_finds_the_faces_of_real_photos():
    """The built detector works: the face in each public-domain portrait, and at least five of
    the six people of the group photo (the sixth is found on tiles; see test_deidentify_group)."""
    from tools.photos import GROUP, load_rgb

    with FaceDetector(model_path("face_detector"), video=False) as detector:
        for image in (grace_hopper_rgb(), astronaut_rgb()):
            assert len(detector.detect_boxes(image)) == 1
        found = detector.detect_boxes(load_rgb(GROUP))
    centres = [((x0 + x1) / 2, (y0 + y1) / 2) for x0, y0, x1, y1 in GROUP.faces]
    hit = [any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in found) for cx, cy in centres]
    assert sum(hit) >= 5


def test_pose_bundle_is_stored_uncompressed():
    with zipfile.ZipFile(model_path("pose_landmarker_full")) as zf:
        infos = zf.infolist()
    assert sorted(i.filename for i in infos) == [
        "pose_detector.tflite",
        "pose_landmarks_detector.tflite",
    ]
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)


def test_stored_zip_is_byte_identical_every_time():
    members = {"b.bin": b"\x00" * 10, "a.bin": b"abc"}
    assert _stored_zip(members) == _stored_zip(dict(reversed(list(members.items()))))


@pytest.fixture
def empty_store(tmp_path):
    configure(tmp_path)
    yield tmp_path
    configure()


def test_missing_model_is_a_clear_error(empty_store):
    with pytest.raises(ModelUnavailableError, match="make setup"):
        model_path("face_landmarker")


def test_corrupted_model_is_rejected(empty_store):
    (empty_store / manifest()["face_landmarker"]["file"]).write_bytes(b"not a model")
    with pytest.raises(ModelUnavailableError, match="sha256"):
        model_path("face_landmarker")


# Positions measured by hand on the photos (pixels), with the tolerance a person's own
# reading allows.
ASTRONAUT_POSE_PX = {"nose": (222, 127), "left_shoulder": (306, 256), "right_shoulder": (112, 240)}
GRACE_HOPPER_FACE_PX = {"chin": (270, 335), "nose_tip": (267, 247), "forehead": (261, 133)}


def test_pose_landmarks_on_astronaut():
    image = astronaut_rgb()
    with PoseLandmarker(model_path("pose_landmarker_full"), video=False) as lm:
        people = lm.detect(image)
    assert people, "no pose found on the astronaut photo"
    for name, expected in ASTRONAUT_POSE_PX.items():
        got = people[0].point(POSE[name])
        assert np.hypot(*(got - expected)) < 12, (name, got)


def test_hand_landmarks_on_a_card_players_hand():
    """The hand bundle (palm detector and hand landmarks, image metadata mean 0, std 255) finds
    a real photo's hand in a close-up of it, the wrist where it is seen (marked by eye) and the
    knuckles above it, as the hand points up."""
    import cv2

    from tools.photos import GROUP, load_rgb
    from tools.scenes import _CARD_WRIST

    x0, y0 = 100, 380
    crop = cv2.resize(load_rgb(GROUP)[y0:700, x0:360], None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    with HandLandmarker(model_path("hand_landmarker_full"), video=False) as lm:
        hands = lm.detect(crop)
    assert hands and all(hand.xy_px.shape == (21, 2) for hand in hands)
    # The card player's hand (another person's hand may be found at the crop's edge too).
    hand = min(hands, key=lambda h: float(np.hypot(*(h.point(HAND["wrist"]) / 2 + [x0, y0] - _CARD_WRIST))))
    wrist = hand.point(HAND["wrist"]) / 2 + [x0, y0]
    assert np.hypot(*(wrist - _CARD_WRIST)) < 15, wrist
    assert hand.point(HAND["middle_mcp"])[1] / 2 + y0 < wrist[1] - 25


def test_face_landmarks_on_grace_hopper():
    image = grace_hopper_rgb()
    with FaceLandmarker(model_path("face_landmarker"), video=False) as lm:
        faces = lm.detect(image)
    assert len(faces) == 1
    assert faces[0].xy_px.shape == (478, 2)
    for name, expected in GRACE_HOPPER_FACE_PX.items():
        got = faces[0].point(FACE[name])
        assert np.hypot(*(got - expected)) < 8, (name, got)


def test_pose_in_video_mode_tolerates_repeated_timestamps():
    image = astronaut_rgb()
    with PoseLandmarker(model_path("pose_landmarker_full"), video=True) as lm:
        first = lm.detect(image, 0.0)
        second = lm.detect(image, 0.0)  # same time again: must not raise
    assert first and second


def _run_script(script: Path, text: str) -> subprocess.CompletedProcess:
    """Run ``text`` as a script of its own, from the repository's root, in a fresh interpreter."""
    script.write_text(text)
    root = ROOT
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, str(script)], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


_FORKED_POOL = textwrap.dedent("""
    from concurrent.futures import ProcessPoolExecutor
    from vision.pipeline import analyze_video

    def site(path):
        return analyze_video(path, site="auto").result.site

    if __name__ == "__main__":
        clip = "samples/clips/jaw_clonus.mp4"
        print(site(clip))  # the parent now holds its shared face landmarker
        with ProcessPoolExecutor(2) as pool:  # forked workers, each with its own
            print(*pool.map(site, [clip, clip]))
        print("ended")
""")


def test_a_forked_pool_of_analyses_ends_after_the_parent_used_landmarks(tmp_path):
    # A forked worker must not close MediaPipe's tasks at its exit: that waited forever on
    # threads left in the parent, and the pool (make eval, the eval tests) never ended.
    done = _run_script(tmp_path / "pool.py", _FORKED_POOL)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["jaw", "jaw", "jaw", "ended"]


_SHARED_THEN_EXIT = textwrap.dedent("""
    from models.registry import model_path
    from tests.conftest import astronaut_rgb
    from vision.locate.landmarks import FaceLandmarker, shared_landmarker

    with shared_landmarker(FaceLandmarker, model_path("face_landmarker")) as lm:
        print(len(lm.detect(astronaut_rgb())))
""")


def test_a_shared_landmarker_first_used_without_analysis_closes_quietly_at_exit(tmp_path):
    # Used before anything imported MediaPipe (a script, a notebook), its closing ran after
    # MediaPipe's own exit hooks had stopped the executor it closes through: a traceback.
    done = _run_script(tmp_path / "shared.py", _SHARED_THEN_EXIT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1"]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]


_DRAWING_ON_FIRST_USE = textwrap.dedent("""
    import sys
    from models.registry import model_path
    from tests.conftest import astronaut_rgb
    from vision.locate.landmarks import FaceLandmarker

    with FaceLandmarker(model_path("face_landmarker"), video=False) as lm:
        audio = {"sounddevice", "_sounddevice"} & set(sys.modules)  # PortAudio's binding, tried or loaded
        print(len(lm.detect(astronaut_rgb())), "matplotlib" in sys.modules, bool(audio))
    from mediapipe.tasks.python.vision import drawing_utils
    print(drawing_utils.DrawingSpec().thickness > 0, "matplotlib" in sys.modules)
    from mediapipe.tasks.python.audio.core import audio_record
    print(callable(audio_record.AudioRecord), hasattr(audio_record, "sd"))  # its module ran
""")


def test_mediapipe_s_drawing_helpers_and_audio_tasks_are_loaded_only_when_used(tmp_path):
    # They import matplotlib's pyplot (most of a second in a fresh process), and the audio
    # recorder PortAudio; the landmarks need neither, and both still work when something does.
    done = _run_script(tmp_path / "drawing.py", _DRAWING_ON_FIRST_USE)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "False", "False", "True", "True", "True", "True"]


def test_a_model_is_hashed_once_per_version_of_its_file(empty_store, monkeypatch):
    import models.registry as registry

    entry = manifest()["face_landmarker"]
    (empty_store / entry["file"]).write_bytes(model_path_bytes := _prepared("face_landmarker"))
    hashed = []
    real = registry.sha256_file
    monkeypatch.setattr(registry, "sha256_file", lambda p: hashed.append(p) or real(p))
    for _ in range(3):
        model_path("face_landmarker")
    assert len(hashed) == 1
    (empty_store / entry["file"]).write_bytes(model_path_bytes[:-1] + b"\x00" * 2)  # changed on disk
    with pytest.raises(ModelUnavailableError, match="sha256"):
        model_path("face_landmarker")
    assert len(hashed) == 2


def _prepared(name: str) -> bytes:
    return (registry_default_dir() / manifest()[name]["file"]).read_bytes()


def registry_default_dir():
    from models.registry import DEFAULT_CACHE_DIR

    return DEFAULT_CACHE_DIR
