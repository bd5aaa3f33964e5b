"""Real photographs of people that PyPI packages ship, with their faces marked, for
de-identification tests and ``make eval``.

``group`` is insightface's ``t1.jpg`` (six people round a card table: frontal, turned, tilted,
standing and seated; 1280 × 886), read out of the pinned sdist. ``street`` is ultralytics'
``bus.jpg`` (a street in Madrid, 810 × 1080: two men in full view in front of a bus, both in
sunglasses, one dark; a third person's legs and arm at either edge), read out of the pinned
wheel. Each is checked by SHA-256; their faces were marked by hand once (hairline to chin, ear
to ear as seen), in the photo's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tools.package_files import Archive, fetch_member

_CACHE = Path("data/real-photos")
Box = tuple[int, int, int, int]  # x0, y0, x1, y1


@dataclass(frozen=True)
class Photo:
    name: str
    archive: Archive
    member: str
    sha256: str
    faces: tuple[Box, ...]
    foot: Box | None = None  # a foot that can be made to beat (the patient's)


GROUP = Photo(
    "group", Archive("insightface==0.7.3", "insightface-0.7.3.tar.gz",
                     "f191f719612ebb37018f41936814500544cd0f86e6fcd676c023f354c668ddf7"),
    "insightface-0.7.3/insightface/data/images/t1.jpg",
    "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489",
    faces=((63, 283, 167, 392), (267, 133, 383, 250), (458, 267, 575, 383), (733, 308, 833, 417),
           (883, 50, 1000, 183), (1133, 250, 1233, 358)),
)  # fmt: skip

STREET = Photo(
    "street", Archive("ultralytics==8.4.190", "ultralytics-8.4.190-py3-none-any.whl",
                      "bd309728efa168af64d39040136828edd2dbcb4aeceb4510bdff4f3ca0ea01b8"),
    "ultralytics/assets/bus.jpg",
    "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63",
    faces=((107, 417, 157, 471), (264, 420, 308, 473)),  # the patient (left), the bystander (dark glasses)
    foot=(170, 850, 245, 900),  # the patient's left shoe, on the pavement
)  # fmt: skip


def fetch(photo: Photo = GROUP, cache: Path = _CACHE) -> Path:
    """The photo's file, from the cache or the package's sdist or wheel (downloaded once, checked)."""
    return fetch_member(photo.archive, photo.member, photo.sha256, cache / Path(photo.member).name)


def load_rgb(photo: Photo = GROUP) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(fetch(photo))), cv2.COLOR_BGR2RGB)


def mean_face_width_px(photo: Photo = GROUP) -> float:
    return float(np.mean([x1 - x0 for x0, _, x1, _ in photo.faces]))
