"""The part's displacement read from landmarks, frame by frame over a stretch of the recording:
a second signal beside the optical flow, measured independently of it (and coarser: landmarks
jitter by pixels from frame to frame)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from vision.locate.landmarks import (
    EYES,
    HAND,
    KNUCKLES,
    LOWER_JAW,
    FaceLandmarker,
    HandLandmarker,
    Landmarks,
    PoseLandmarker,
    largest_face,
)
from vision.locate.seen import limbs
from vision.video.decode import Frame

# The methods of placement whose landmark model can follow the part (a region found from its
# motion, or drawn by hand, has no landmarks to read).
LANDMARK_METHODS = ("pose", "face", "hand")
_MODELS = {"pose": (PoseLandmarker, "pose_landmarker_full"), "face": (FaceLandmarker, "face_landmarker"),
           "hand": (HandLandmarker, "hand_landmarker_full")}  # fmt: skip
_SEEN = 0.5  # visibility from which a pose landmark counts


@dataclass(frozen=True)
class LandmarkTrack:
    """The part relative to the joint above it (the jaw: relative to the eyes), so that the
    patient's and the filmer's movements cancel; in pixels of the source video."""

    source: str  # the landmark model: "pose", "face" or "hand"
    time_s: np.ndarray
    xy_px: np.ndarray  # (n, 2); NaN where the part was not found
    valid: np.ndarray  # (n,)

    @property
    def rate_hz(self) -> float:
        span = float(self.time_s[-1] - self.time_s[0]) if len(self.time_s) > 1 else 0.0
        return (len(self.time_s) - 1) / span if span > 0 else 0.0


def _jaw_offset(faces: list[Landmarks]) -> np.ndarray | None:
    if not faces:
        return None
    face = largest_face(faces)  # the patient's, as the jaw region was placed
    return face.xy_px[list(LOWER_JAW)].mean(axis=0) - face.xy_px[list(EYES)].mean(axis=0)


def _limb_offset(
    people: list[Landmarks], site: str, near_px: np.ndarray, reach_px: float
) -> np.ndarray | None:
    """The part nearest ``near_px`` (the tracked region's centre) among every person's left and
    right, minus the joint above it; None where none is seen within ``reach_px``."""
    seen = (
        (person.xy_px[idx].mean(axis=0), person.xy_px[joint])
        for person in people
        for _, idx, joint in limbs(site)
        if min(person.visibility[idx].min(), person.visibility[joint]) > _SEEN
    )
    return _nearest_offset(seen, near_px, reach_px)


def _hand_offset(hands: list[Landmarks], near_px: np.ndarray, reach_px: float) -> np.ndarray | None:
    """The knuckles of the hand nearest ``near_px``, minus its wrist (the hand turning about the
    wrist); None where no hand is within ``reach_px``."""
    seen = ((hand.xy_px[list(KNUCKLES)].mean(axis=0), hand.xy_px[HAND["wrist"]]) for hand in hands)
    return _nearest_offset(seen, near_px, reach_px)


def _nearest_offset(
    seen: Iterable[tuple[np.ndarray, np.ndarray]], near_px: np.ndarray, reach_px: float
) -> np.ndarray | None:
    """Of the (part, joint) pairs seen, the part nearest ``near_px`` within ``reach_px``, minus
    its joint (the first of equals)."""
    best, best_d = None, reach_px
    for part, joint in seen:
        d = float(np.hypot(*(part - near_px)))
        if d < best_d:
            best, best_d = part - joint, d
    return best


def landmark_track(
    frames: Iterable[Frame],
    *,
    site: str,
    source: str,
    region_px: np.ndarray,
    scale: float,
) -> LandmarkTrack:
    """Landmarks on each frame given (colour, upright, tracking size), in MediaPipe's VIDEO mode
    with a landmarker of its own (no state carried over from another recording), and the
    part's offset from them. ``region_px`` (one x0, y0, x1, y1 per frame given, source pixels)
    says which limb is the part where several are in view."""
    from models.registry import model_path

    kind, name = _MODELS[source]
    times, offsets = [], []
    with kind(model_path(name), video=True) as landmarker:
        for frame, box in zip(frames, region_px / scale, strict=False):
            rgb = frame.image if frame.image.ndim == 3 else np.dstack([frame.image] * 3)
            found = landmarker.detect(rgb, frame.time_s)
            centre, reach = (box[:2] + box[2:]) / 2, float(np.hypot(*(box[2:] - box[:2])))
            if source == "face":
                offset = _jaw_offset(found)
            elif source == "hand":
                offset = _hand_offset(found, centre, reach)
            else:
                offset = _limb_offset(found, site, centre, reach)
            times.append(frame.time_s)
            offsets.append(np.full(2, np.nan) if offset is None else offset * scale)
    xy = np.array(offsets, float).reshape(-1, 2)
    return LandmarkTrack(source, np.asarray(times, float), xy, np.isfinite(xy).all(axis=1))
