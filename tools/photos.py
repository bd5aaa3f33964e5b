"""Real photographs of several people that PyPI packages ship, with their faces marked, for
de-identification tests and ``make eval``.

``group`` is insightface's ``t1.jpg`` (six people round a card table: frontal, turned, tilted,
standing and seated; 1280 × 886), read out of the pinned sdist, checked by SHA-256. Its faces
were marked by hand once (forehead to chin, ear to ear as seen), in the photo's pixels.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from models.registry import sha256_file

_CACHE = Path("data/real-photos")
Box = tuple[int, int, int, int]  # x0, y0, x1, y1


@dataclass(frozen=True)
class Photo:
    name: str
    package: str  # name==version on PyPI
    archive: str  # the sdist's file name
    archive_sha256: str
    member: str
    sha256: str
    faces: tuple[Box, ...]


GROUP = Photo(
    "group", "insightface==0.7.3", "insightface-0.7.3.tar.gz",
    "f191f719612ebb37018f41936814500544cd0f86e6fcd676c023f354c668ddf7",
    "insightface-0.7.3/insightface/data/images/t1.jpg",
    "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489",
    faces=((63, 283, 167, 392), (267, 133, 383, 250), (458, 267, 575, 383), (733, 308, 833, 417),
           (883, 50, 1000, 183), (1133, 250, 1233, 358)),
)  # fmt: skip


def fetch(photo: Photo = GROUP, cache: Path = _CACHE) -> Path:
    """The photo's file, from the cache or the package's sdist (downloaded once, checked)."""
    out = cache / Path(photo.member).name
    if out.exists() and sha256_file(out) == photo.sha256:
        return out
    archive = cache / "sdists" / photo.archive
    if not archive.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--dest", str(archive.parent), photo.package], check=True)  # fmt: skip
    if sha256_file(archive) != photo.archive_sha256:
        raise RuntimeError(f"{archive.name}: SHA-256 differs from the pinned one")
    with tarfile.open(archive) as tar:
        data = tar.extractfile(photo.member).read()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    if sha256_file(out) != photo.sha256:
        raise RuntimeError(f"{photo.member}: SHA-256 differs from the pinned one")
    return out


def load_rgb(photo: Photo = GROUP) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(fetch(photo))), cv2.COLOR_BGR2RGB)


def mean_face_width_px(photo: Photo = GROUP) -> float:
    return float(np.mean([x1 - x0 for x0, _, x1, _ in photo.faces]))
