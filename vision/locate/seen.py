"""The landmarks found on a few frames spread over the recording, while it is decoded: people,
faces and (for a hand and forearm alone) hands; and which limbs they show whole.

No SciPy here: the first frame's landmarks are looked for as soon as it is decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vision.locate.landmarks import (
    POSE,
    FaceLandmarker,
    HandLandmarker,
    Landmarks,
    PoseLandmarker,
    shared_landmarker,
)

# Landmarks that place each site's moving part.
SITE_POINTS = {
    "ankle": {"left": ("left_ankle", "left_heel", "left_foot_index"),
              "right": ("right_ankle", "right_heel", "right_foot_index")},
    "knee": {"left": ("left_knee",), "right": ("right_knee",)},
    "wrist": {"left": ("left_wrist", "left_index"), "right": ("right_wrist", "right_index")},
}  # fmt: skip
# The joint above each site's part: a limb is seen whole, not a hand or foot alone.
UPSTREAM = {"ankle": "knee", "knee": "hip", "wrist": "elbow"}
# The sites each landmark model finds ("auto": both).
POSE_SITES = ("auto", "ankle", "knee", "wrist")
FACE_SITES = ("auto", "jaw")


@dataclass(frozen=True)
class Seen:
    """The landmarks found on one sampled frame: people (pose) and faces, as the site needs,
    in pixels of that frame (``size``: w, h)."""

    people: list[Landmarks]
    faces: list[Landmarks]
    size: tuple[int, int]
    hands: list[Landmarks] = field(default_factory=list)  # where the site's limb is not in view


def detect_landmarks(image_rgb: np.ndarray, site: str) -> Seen:
    """Landmarks on one frame, with the process's shared landmarkers (the first call imports
    MediaPipe and creates them)."""
    from models.registry import model_path

    people: list[Landmarks] = []
    faces: list[Landmarks] = []
    if site in POSE_SITES:
        with shared_landmarker(PoseLandmarker, model_path("pose_landmarker_full")) as lm:
            people = lm.detect(image_rgb)
    if site in FACE_SITES:
        with shared_landmarker(FaceLandmarker, model_path("face_landmarker")) as lm:
            faces = lm.detect(image_rgb)
    size = (image_rgb.shape[1], image_rgb.shape[0])
    hands: list[Landmarks] = []
    if site == "wrist" and not any(
        limb_seen(p, idx, up, size) for p in people for _, idx, up in limbs("wrist")
    ):
        # A hand and forearm alone: no person for the pose model, a hand for the hand's.
        with shared_landmarker(HandLandmarker, model_path("hand_landmarker_full")) as lm:
            hands = lm.detect(image_rgb)
    return Seen(people, faces, size, hands)


def inside(points_px: np.ndarray, width: int, height: int) -> bool:
    return bool(np.all((points_px >= 0) & (points_px < [width, height])))


def limbs(site: str) -> list[tuple[str, list[int], int]]:
    """Each side's limb for ``site``: the side, its part's pose landmarks, the joint above."""
    joint = UPSTREAM[site]
    return [
        (side, [POSE[k] for k in names], POSE[f"{side}_{joint}"]) for side, names in SITE_POINTS[site].items()
    ]


def limb_seen(person: Landmarks, idx: list[int], upstream: int, size: tuple[int, int]) -> bool:
    """The part (``idx``) and the joint above it clearly seen, the part inside the frame."""
    return min(person.visibility[idx].mean(), person.visibility[upstream]) > 0.5 and inside(
        person.xy_px[idx], *size
    )
