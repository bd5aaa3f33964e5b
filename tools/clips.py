"""Synthesize exam videos with known ground truth (``python -m tools.clips``).

The moving part of a scene (``tools.scenes``: a rendered foot, hand or kneecap, or the
lower jaw of a real person's photo) moves with a clonus-like waveform; optional hand-held
camera shake (slow drift, roll and the filmer's 8–12 Hz tremor), sensor noise, low light,
blur, LED flicker, variable frame rate, framing from the part alone to the whole scene and
portrait rotation metadata. The truth (JSON) is written beside each clip.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from tools.scenes import FRAMINGS, SITES, framing_matrix, scene
from tools.waveform import ClonusSpec, clonus_displacement, clonus_truth, sample_times
from vision.video.writer import VideoWriter


@dataclass
class ClipSpec:
    site: str = "ankle"
    clonus: ClonusSpec = field(default_factory=ClonusSpec)
    duration_s: float = 4.0
    fps: float = 30.0
    fps_after: float | None = None  # rate change mid-clip (phones in low light)
    jitter: float = 0.0  # frame-time jitter (fraction of a frame)
    width: int = 480
    height: int = 360
    framing: str = "medium"  # close (the part alone), medium, wide (whole body/scene)
    person: int = 0  # varies the scene: skin tone, photo, details
    amplitude: float = 1.0  # × the site's typical peak-to-peak (ankle 8°, jaw 10 % of its height …)
    shake_px: float = 0.0  # hand-held drift amplitude (output pixels)
    shake_deg: float = 0.0  # hand-held roll amplitude
    tremor_px: float = 0.0  # the filmer's 8–12 Hz tremor amplitude
    noise_sd: float = 2.0
    brightness: float = 1.0  # < 1 for low light
    blur_px: float = 0.0  # defocus
    flicker: float = 0.0  # relative brightness oscillation (LED)
    flicker_hz: float = 10.0
    rotation_ccw: int = 0  # display rotation stored in the container (portrait stored as landscape)
    codec: str = "h264"
    crf: int = 20
    seed: int = 0
    slow_movement_hz: float | None = None  # a voluntary < 3 Hz movement instead of clonus
    face: str | None = None  # a person's head in view of a limb exam (de-identification tests)

    @property
    def label(self) -> str:
        if self.slow_movement_hz:
            return f"slow {self.slow_movement_hz:.1f} Hz"
        if self.clonus.beats < 3:
            return "jerk" if self.clonus.beats else ("flicker" if self.flicker else "still")
        return f"{self.clonus.frequency_hz:.1f} Hz × {self.clonus.beats}"


def hand_held(
    t: float, phases: np.ndarray, tremor_hz: float, drift_px: float, tremor_px: float
) -> tuple[float, float]:
    """A hand-held phone's offset (px) at time ``t``: slow drift plus the filmer's tremor."""
    w = 2 * np.pi * t
    dx = drift_px * (np.sin(0.3 * w + phases[0]) + 0.5 * np.sin(0.7 * w + phases[1]))
    dy = drift_px * (np.sin(0.25 * w + phases[2]) + 0.5 * np.sin(0.9 * w + phases[3]))
    dx += tremor_px * np.sin(2 * np.pi * tremor_hz * t)
    dy += tremor_px * np.cos(2 * np.pi * tremor_hz * 1.07 * t)
    return float(dx), float(dy)


def _shake(spec: ClipSpec, t: float, phases: np.ndarray, tremor_hz: float) -> tuple[float, float, float]:
    """Camera offset (px) and roll (deg) at time ``t``: slow drift plus hand tremor."""
    dx, dy = hand_held(t, phases, tremor_hz, spec.shake_px, spec.tremor_px)
    roll = spec.shake_deg * np.sin(2 * np.pi * 0.4 * t + phases[4])
    return dx, dy, float(roll)


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """2×3 affine ``a ∘ b``."""
    return np.hstack([a[:, :2] @ b[:, :2], (a[:, :2] @ b[:, 2] + a[:, 2])[:, None]]).astype(np.float32)


def _part_motion(spec: ClipSpec, times: np.ndarray, default: float) -> np.ndarray:
    amp = spec.amplitude * default
    if spec.slow_movement_hz:
        return 0.5 * amp * np.sin(2 * np.pi * spec.slow_movement_hz * times)
    return amp * clonus_displacement(spec.clonus, times) / max(spec.clonus.amplitude, 1e-9)


def render(spec: ClipSpec, path: Path) -> dict:
    """Write the clip; return its ground truth."""
    rng = np.random.default_rng(spec.seed)
    sc = scene(spec.site, spec.person, spec.face)
    w, h = spec.width, spec.height
    frame_m = framing_matrix(sc, spec.framing, w, h)
    switch = spec.duration_s / 2 if spec.fps_after else None
    times = sample_times(spec.duration_s, spec.fps, jitter=spec.jitter, fps_after=spec.fps_after,
                         switch_s=switch, seed=spec.seed)  # fmt: skip
    motion = _part_motion(spec, times, sc.default_amplitude)
    phases = rng.uniform(0, 2 * np.pi, 5)
    tremor_hz = rng.uniform(8, 12)
    portrait = spec.rotation_ccw % 180 != 0
    size = (w, h)
    stored = (h, w) if portrait else (w, h)
    with VideoWriter(path, width=stored[0], height=stored[1], fps=spec.fps, codec=spec.codec, crf=spec.crf,
                     display_rotation_ccw=spec.rotation_ccw, reproducible=True) as writer:  # fmt: skip
        for t, value in zip(times, motion, strict=True):
            dx, dy, roll = _shake(spec, float(t), phases, tremor_hz)
            cam = cv2.getRotationMatrix2D((w / 2, h / 2), roll, 1.0)
            cam[:, 2] += (dx, dy)
            view = _compose(cam, frame_m)
            moved_view = _compose(view, sc.matrix(float(value)))
            flags = {"flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_REFLECT}
            frame = cv2.warpAffine(sc.image, view, size, **flags)
            moved = cv2.warpAffine(sc.image, moved_view, size, **flags)
            alpha = cv2.warpAffine(sc.mask, moved_view, size, flags=cv2.INTER_LINEAR)[..., None]
            frame += alpha * (moved - frame)
            if spec.blur_px:
                frame = cv2.GaussianBlur(frame, (0, 0), spec.blur_px)
            gain = spec.brightness * (1 + spec.flicker * np.sin(2 * np.pi * spec.flicker_hz * t))
            frame *= gain
            if spec.noise_sd:
                frame += spec.noise_sd * rng.standard_normal(frame.shape, dtype=np.float32)
            image = np.clip(frame, 0, 255).astype(np.uint8)
            if spec.rotation_ccw:
                image = np.ascontiguousarray(np.rot90(image, k=-(spec.rotation_ccw // 90)))
            writer.write(image, float(t))
    truth = clonus_truth(spec.clonus).to_dict()
    if spec.slow_movement_hz or spec.clonus.beats < 3:
        truth.update(clonus=False, frequency_hz=None, beat_count=0, start_s=None, end_s=None,
                     sustained=None, beat_times_s=[])  # fmt: skip
    truth.pop("periods_s", None)
    s = float(frame_m[0, 0])
    # Where the part is while it beats (the stretch moves it from its rest position).
    beating = (times >= (truth["start_s"] or 0)) & (times <= (truth["end_s"] or times[-1]))
    mid = float(np.median(motion[beating])) if beating.any() else 0.0
    x0, y0, x1, y1 = sc.part_box_px
    box = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], np.float32)
    corners = box @ _compose(frame_m, sc.matrix(mid)).T
    rx0, ry0 = np.clip(corners.min(axis=0) / [w, h], 0, 1)
    rx1, ry1 = np.clip(corners.max(axis=0) / [w, h], 0, 1)
    roi = {"x": float(rx0), "y": float(ry0), "w": float(rx1 - rx0), "h": float(ry1 - ry0)}
    amplitude_px = round(s * sc.displacement_px(spec.amplitude * sc.default_amplitude), 2)
    truth.update(site=spec.site, framing=spec.framing, roi=roi, amplitude_px=amplitude_px)
    if sc.reference_length_px:  # the face's height, for the jaw
        truth["reference_length_px"] = round(s * sc.reference_length_px, 1)
    if sc.motion == "rotate":  # ankle, wrist: the part turns about the joint by this much
        truth["amplitude_deg"] = round(spec.amplitude * sc.default_amplitude, 3)
    return truth


def write_clip(spec: ClipSpec, path: Path) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    truth = render(spec, path)
    meta = {"truth": truth, "spec": asdict(spec)}
    path.with_suffix(".truth.json").write_text(json.dumps(meta, indent=2))
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--frequency-hz", type=float, default=6.0)
    parser.add_argument("--beats", type=int, default=12)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--site", choices=SITES, default="ankle")
    parser.add_argument("--framing", choices=FRAMINGS, default="medium")
    parser.add_argument("--size", default="480x360", help="WxH of the stored frames")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    spec = ClipSpec(clonus=ClonusSpec(frequency_hz=args.frequency_hz, beats=args.beats, onset_s=1.0),
                    site=args.site, framing=args.framing, width=width, height=height, fps=args.fps,
                    duration_s=1.0 + args.beats / args.frequency_hz + 1.5)  # fmt: skip
    print(json.dumps(write_clip(spec, args.out), indent=2))


if __name__ == "__main__":
    main()
