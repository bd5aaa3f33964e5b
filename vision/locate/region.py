"""Where the body part is: the region landmarks put it in, the limb that oscillates, and the
body length its amplitude is a fraction of."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import replace

import numpy as np

from vision.locate.energy import band_energy, roi_from_energy
from vision.locate.landmarks import FACE, HAND, LOWER_JAW, POSE, Landmarks, largest_face
from vision.locate.placement import Placement
from vision.locate.seen import FACE_SITES, POSE_SITES, SITE_POINTS, Seen, limb_seen, limbs
from vision.motion.geometry import roi_from_points
from vision.schema import (
    Roi,
    concrete_site,
)

log = logging.getLogger(__name__)

# The body length an amplitude is given as a fraction of: (from, to) landmarks and its name.
SITE_LENGTH = {
    "ankle": ("heel", "foot_index", "foot length (heel to toe)"),
    "knee": ("hip", "knee", "thigh length (hip to knee)"),
    "wrist": ("wrist", "index", "hand length (wrist to index finger)"),
}
FACE_LENGTH = (FACE["forehead"], FACE["chin"], "face height (forehead to chin)")


def _energy_in(stack_energy: np.ndarray, roi: Roi) -> float:
    h, w = stack_energy.shape
    x0, y0 = int(roi.x * w), int(roi.y * h)
    x1, y1 = max(x0 + 1, int((roi.x + roi.w) * w)), max(y0 + 1, int((roi.y + roi.h) * h))
    return float(stack_energy[y0:y1, x0:x1].mean())


def _length_px(people: list[Landmarks], ends: tuple[int, int]) -> float | None:
    """The median distance between two landmarks over the frames where both are seen."""
    a, b = ends
    seen = [float(np.hypot(*(p.xy_px[a] - p.xy_px[b]))) for p in people
            if min(p.visibility[a], p.visibility[b]) > 0.5]  # fmt: skip
    return float(np.median(seen)) if seen else None


_SEEN_SHARE = 0.5  # of the sampled frames, in which a body part must be seen


def _seen_throughout(found: list[Seen], idx: list[int], upstream: int) -> list[Landmarks]:
    """The people whose part (``idx``) and the joint above it are clearly seen and inside the
    frame, or none unless that is so in at least ``_SEEN_SHARE`` of the sampled frames. A
    patient's limb stays in view through an exam; a passer-by, or a cartoon that the pose
    model takes for a person for a moment, does not."""
    per_frame = [[p for p in f.people if limb_seen(p, idx, upstream, f.size)] for f in found]
    frames = sum(1 for people in per_frame if people)
    if frames < max(2, _SEEN_SHARE * len(found)):
        return []
    return [p for people in per_frame for p in people]


def landmark_placement(seen: list[Future[Seen]], site: str, energy: np.ndarray) -> Placement | None:
    """Where landmarks put the part, or None when no body part is found."""
    from models.registry import ModelUnavailableError

    if not seen:
        return None
    try:
        found = [job.result() for job in seen]
    except ModelUnavailableError as exc:
        log.warning("landmarks unavailable (%s); locating the part from motion", exc)
        return None
    w, h = found[0].size
    candidates: list[tuple[float, Placement]] = []
    if site in POSE_SITES:
        for name in SITE_POINTS if site == "auto" else (site,):
            for side, idx, upstream in limbs(name):
                on_part = _seen_throughout(found, idx, upstream)
                if not on_part:
                    continue
                roi = roi_from_points(np.concatenate([p.xy_px[idx] for p in on_part]), w, h)
                start, end, length_of = SITE_LENGTH[name]
                ends = (POSE[f"{side}_{start}"], POSE[f"{side}_{end}"])
                located = Placement(name, "pose", roi, _length_px(on_part, ends), length_of)
                candidates.append((_energy_in(energy, roi), located))
    if site == "wrist" and not candidates:
        candidates += _hands_seen(found, energy)
    if site in FACE_SITES:
        # The largest face of each frame (the patient, close to the camera).
        faces = [largest_face(f.faces) for f in found if f.faces]
        if len(faces) >= max(2, _SEEN_SHARE * len(found)):
            pts = np.concatenate([face.xy_px[list(LOWER_JAW)] for face in faces])
            roi = roi_from_points(pts, w, h, pad=0.15)
            located = Placement("jaw", "face", roi, _length_px(faces, FACE_LENGTH[:2]), FACE_LENGTH[2])
            candidates.append((_energy_in(energy, roi), located))
    if not candidates:
        return None
    return max(candidates, key=lambda c: c[0])[1]  # the limb that oscillates


def _hands_seen(found: list[Seen], energy: np.ndarray) -> list[tuple[float, Placement]]:
    """Each hand seen in at least ``_SEEN_SHARE`` of the sampled frames (a hand is the same one
    from frame to frame while its wrist stays within a palm's length), placed from its wrist,
    palm and fingers, with the band energy there."""
    groups: list[list[Landmarks]] = []
    for hand in (hand for f in found for hand in f.hands):
        wrist = hand.xy_px[HAND["wrist"]]
        palm = float(np.hypot(*(hand.xy_px[HAND["middle_mcp"]] - wrist)))
        near = [g for g in groups if np.hypot(*(g[0].xy_px[HAND["wrist"]] - wrist)) < palm]
        if near:
            near[0].append(hand)
        else:
            groups.append([hand])
    w, h = found[0].size
    start, end, length_of = SITE_LENGTH["wrist"]
    out = []
    for group in groups:
        if len(group) < max(2, _SEEN_SHARE * len(found)):
            continue
        roi = roi_from_points(np.concatenate([hand.xy_px for hand in group]), w, h)
        ends = (HAND[start], HAND[f"{end}_mcp"])
        out.append(
            (_energy_in(energy, roi), Placement("wrist", "hand", roi, _length_px(group, ends), length_of))
        )
    return out


def place_part(
    small: np.ndarray,
    time_s: np.ndarray,
    sampled: list[Future[Seen]],
    *,
    site: str,
    band_hz: tuple[float, float],
    scale: float,
) -> Placement:
    """Where to track: the limb that the landmarks place and that oscillates most, else the
    region where motion energy in the band concentrates. ``scale`` turns the landmark frames'
    pixels into the source's (the body length is given in source pixels)."""
    energy, shift = band_energy(small, time_s, band_hz)
    located = landmark_placement(sampled, site, energy)
    region, _ = roi_from_energy(energy)
    doubt = _beats_elsewhere(energy, located, region)
    if located is None or doubt:
        # Found in the middle frame's coordinates; tracking starts at the first frame, and the
        # region moves with the part from there (the filmer may have panned in between).
        h, w = energy.shape
        dx, dy = shift[0] / [w, h]
        region = _shifted(region, float(dx), float(dy))
        return Placement(concrete_site(site), "motion", region, None, None, doubt)
    if not located.length_px:
        return replace(located, length_px=None, length_of=None)
    return replace(located, length_px=located.length_px * scale)


# Band motion energy, as a multiple of the frame's median block (mostly still background): at
# most this where the landmarks put the part, nothing beats there ...
_QUIET = 2.0
# ... while elsewhere a region holds at least this: something beats, and it is not where the
# landmarks put the part (a pose model can take a leg, a shoe and a hand for a whole person,
# upside down, and put its ankles on the thigh).
_STANDS_OUT = 10.0


def _beats_elsewhere(energy: np.ndarray, located: Placement | None, motion: Roi) -> str | None:
    """Why the landmarks' placement is doubted, or None: nothing beats where they put the part,
    while something beats clearly outside it."""
    if located is None:
        return None
    floor = float(np.median(energy)) + 1e-12
    cx, cy = motion.x + motion.w / 2, motion.y + motion.h / 2
    r = located.roi
    inside = r.x <= cx <= r.x + r.w and r.y <= cy <= r.y + r.h
    if inside or _energy_in(energy, r) > _QUIET * floor or _energy_in(energy, motion) < _STANDS_OUT * floor:
        return None
    return (
        f"the {located.method} landmarks put the {located.site} where nothing moves in the clonus band, "
        "while something beats elsewhere: the region was placed where it beats; check on the video that "
        f"it is the patient's {located.site}"
    )


def _shifted(roi: Roi, dx: float, dy: float) -> Roi:
    """``roi`` moved by a fraction of the frame, kept inside it."""
    x = float(np.clip(roi.x + dx, 0.0, 1.0 - roi.w))
    y = float(np.clip(roi.y + dy, 0.0, 1.0 - roi.h))
    return Roi(x=x, y=y, w=roi.w, h=roi.h)
