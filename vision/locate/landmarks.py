"""MediaPipe Tasks landmarkers (pose, face) behind one small interface.

Landmarks only locate and follow the body part; the motion itself is measured with optical
flow. Create landmarkers inside the process that uses them (never before a fork) and close
them (``with`` does it), or borrow the process's own (``shared_landmarker``): the C library is
not thread-safe.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vision.closing import Closing

# BlazePose indices.
POSE = {
    "nose": 0, "left_shoulder": 11, "right_shoulder": 12, "left_elbow": 13, "right_elbow": 14,
    "left_wrist": 15, "right_wrist": 16, "left_index": 19, "right_index": 20, "left_hip": 23,
    "right_hip": 24, "left_knee": 25, "right_knee": 26, "left_ankle": 27, "right_ankle": 28,
    "left_heel": 29, "right_heel": 30, "left_foot_index": 31, "right_foot_index": 32,
}  # fmt: skip
# Face mesh indices.
FACE = {"chin": 152, "forehead": 10, "nose_tip": 1, "left_eye": 468, "right_eye": 473}
LOWER_JAW = (17, 152, 148, 176, 149, 150, 136, 377, 400, 378, 379, 365)  # lower lip to chin
EYES = (33, 133, 159, 145, 362, 263, 386, 374)
# Hand landmarker indices: the wrist and the knuckles at the base of each finger (the palm).
HAND = {"wrist": 0, "index_mcp": 5, "middle_mcp": 9, "ring_mcp": 13, "pinky_mcp": 17}
KNUCKLES = (5, 9, 13, 17)
# MediaPipe's vision package imports its drawing helpers, and they import matplotlib's pyplot and
# 3-D axes: most of the second that importing MediaPipe costs a fresh process, for helpers this
# project never calls; its audio tasks load PortAudio (sounddevice). They are
# loaded on first use instead (the standard library's LazyLoader).
_HELPERS_UNUSED_HERE = frozenset({"mediapipe.tasks.python.vision.drawing_utils",
                                  "mediapipe.tasks.python.vision.drawing_styles",
                                  "mediapipe.tasks.python.audio"})  # fmt: skip


class _LoadedOnFirstUse(importlib.abc.MetaPathFinder):
    """Finds those MediaPipe modules as usual, but executes them on first attribute access."""

    def find_spec(self, name: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        if name not in _HELPERS_UNUSED_HERE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _defer_unused_helpers() -> None:
    if not any(isinstance(f, _LoadedOnFirstUse) for f in sys.meta_path):
        sys.meta_path.insert(0, _LoadedOnFirstUse())


@dataclass(frozen=True)
class Landmarks:
    """Landmarks in pixels of the image given: (n, 2) positions and (n,) visibility 0–1."""

    xy_px: np.ndarray
    visibility: np.ndarray

    def point(self, index: int) -> np.ndarray:
        return self.xy_px[index]


class _Landmarker(Closing):
    kind = ""
    found = ""  # the result's field that holds the landmarks found

    def __init__(self, model_path: str | Path, *, video: bool = True) -> None:
        _defer_unused_helpers()
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions
        from mediapipe.tasks.python import vision as mp_vision

        self._mp = mp
        mode = mp_vision.RunningMode.VIDEO if video else mp_vision.RunningMode.IMAGE
        self._video = video
        self._last_ms = -1
        self._task = self._create(mp_vision, BaseOptions(model_asset_path=str(model_path)), mode)

    def _create(self, mp_vision, base, mode):  # pragma: no cover - overridden
        raise NotImplementedError

    def _run(self, image_rgb: np.ndarray, time_s: float | None):
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(image_rgb))
        if not self._video:
            return self._task.detect(image)
        # VIDEO mode needs strictly increasing integer milliseconds.
        ms = max(int(round((time_s or 0.0) * 1000)), self._last_ms + 1)
        self._last_ms = ms
        return self._task.detect_for_video(image, ms)

    def detect(self, image_rgb: np.ndarray, time_s: float | None = None) -> list[Landmarks]:
        """The landmarks of each body (person, face, hand) found, in pixels of ``image_rgb``."""
        result = self._run(image_rgb, time_s)
        h, w = image_rgb.shape[:2]
        return [_to_landmarks(p, w, h) for p in getattr(result, self.found)]

    def close(self) -> None:
        if self._task is not None:
            self._task.close()
            self._task = None


def largest_face(faces: list[Landmarks] | tuple[Landmarks, ...]) -> Landmarks:
    """The tallest face mesh: the patient's in a jaw exam (the face closest to the camera)."""
    return max(faces, key=lambda face: float(np.ptp(face.xy_px[:, 1])))


def _to_landmarks(points, width: int, height: int) -> Landmarks:
    xy = np.array([[p.x * width, p.y * height] for p in points], dtype=float)
    vis = np.array([getattr(p, "visibility", None) or 1.0 for p in points], dtype=float)
    return Landmarks(xy, vis)


class PoseLandmarker(_Landmarker):
    """Finds the most prominent person's 33 pose landmarks."""

    kind = "pose"
    found = "pose_landmarks"

    def _create(self, mp_vision, base, mode):
        options = mp_vision.PoseLandmarkerOptions(
            base_options=base, running_mode=mode, num_poses=2,
            min_pose_detection_confidence=0.5, min_tracking_confidence=0.5,
        )  # fmt: skip
        return mp_vision.PoseLandmarker.create_from_options(options)


class FaceLandmarker(_Landmarker):
    """Finds the 478 face-mesh landmarks."""

    kind = "face"
    found = "face_landmarks"

    def _create(self, mp_vision, base, mode):
        options = mp_vision.FaceLandmarkerOptions(base_options=base, running_mode=mode, num_faces=2)
        return mp_vision.FaceLandmarker.create_from_options(options)


class HandLandmarker(_Landmarker):
    """Finds hands' 21 landmarks: a hand and forearm in view with no person for the pose model
    (which finds a person from the face and torso)."""

    kind = "hand"
    found = "hand_landmarks"

    def _create(self, mp_vision, base, mode):
        options = mp_vision.HandLandmarkerOptions(base_options=base, running_mode=mode, num_hands=2)
        return mp_vision.HandLandmarker.create_from_options(options)


class FaceDetector(_Landmarker):
    """Finds faces as boxes (BlazeFace full range: frontal, turned, small; for de-identification)."""

    kind = "face-detector"
    min_confidence = 0.3  # a doubtful face is obscured too: a blurred cheek costs nothing

    def _create(self, mp_vision, base, mode):
        options = mp_vision.FaceDetectorOptions(base_options=base, running_mode=mode,
                                                min_detection_confidence=self.min_confidence)  # fmt: skip
        return mp_vision.FaceDetector.create_from_options(options)

    def detect_boxes(self, image_rgb: np.ndarray, time_s: float | None = None) -> list[tuple[float, ...]]:
        """Boxes (x0, y0, x1, y1) in pixels of the image given."""
        boxes = (d.bounding_box for d in self._run(image_rgb, time_s).detections)
        return [(b.origin_x, b.origin_y, b.origin_x + b.width, b.origin_y + b.height) for b in boxes]


_SHARED: dict[tuple[type, str, int], _Landmarker] = {}
_SHARED_LOCK = threading.Lock()


@contextmanager
def shared_landmarker(kind: type[_Landmarker], model_path: str | Path) -> Iterator[_Landmarker]:
    """An image-mode landmarker kept for the life of the process, one user at a time.

    Creating one costs more than detecting on the few frames an analysis looks at, and a
    service worker runs analysis after analysis. Kept per process: a forked child makes its own.
    """
    key = (kind, str(model_path), os.getpid())
    with _SHARED_LOCK:
        landmarker = _SHARED.get(key)
        if landmarker is None:
            # Created first: that imports MediaPipe, whose own exit hooks must run after ours.
            landmarker = _SHARED[key] = kind(model_path, video=False)
            if len(_SHARED) == 1:
                _at_exit(_close_shared)
        yield landmarker


def _at_exit(fn) -> None:
    """Run ``fn`` at exit before thread pools shut down: MediaPipe closes its tasks through one
    (and, left to the interpreter's teardown, fails with a traceback)."""
    register = getattr(threading, "_register_atexit", atexit.register)
    register(fn)


_forked = False


def _note_fork() -> None:
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_note_fork)


def _close_shared() -> None:
    # In a forked child (a process pool's worker) MediaPipe's closing waits for threads that
    # stayed in the parent, forever: leave them (the child ends with os._exit anyway).
    if _forked:
        return
    with _SHARED_LOCK:
        for key, landmarker in list(_SHARED.items()):
            landmarker.close()
            del _SHARED[key]
