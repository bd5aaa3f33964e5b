"""Synthesize exam videos with known ground truth (``python -m samples.clips``).

A region of a public-domain photo (the "part") rotates about a pivot with a clonus-like
waveform, over the rest of the photo; optional hand-held camera shake (slow drift plus the
filmer's 8–12 Hz tremor), sensor noise, low light, LED flicker, variable frame rate and
portrait rotation metadata. The truth (JSON) is written beside each clip.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from samples.waveform import ClonusSpec, clonus_displacement, clonus_truth, sample_times
from vision.video_writer import VideoWriter


@dataclass
class ClipSpec:
    site: str = "ankle"
    clonus: ClonusSpec = field(default_factory=ClonusSpec)
    duration_s: float = 4.0
    fps: float = 30.0
    fps_after: float | None = None  # rate change mid-clip (phones in low light)
    width: int = 480
    height: int = 360
    amplitude_deg: float = 8.0  # peak-to-peak rotation of the part
    part: tuple[float, float, float, float] = (0.55, 0.45, 0.25, 0.35)  # x, y, w, h (0–1)
    shake_px: float = 0.0  # hand-held drift amplitude
    tremor_px: float = 0.0  # filmer's 8–12 Hz tremor amplitude
    noise_sd: float = 2.0
    brightness: float = 1.0  # < 1 for low light
    flicker: float = 0.0  # relative brightness oscillation (LED)
    flicker_hz: float = 10.0
    rotation_ccw: int = 0  # display rotation stored in the container
    codec: str = "h264"
    crf: int = 20
    seed: int = 0
    slow_movement_hz: float | None = None  # a voluntary < 3 Hz movement instead of clonus


def _photo(width: int, height: int) -> np.ndarray:
    from skimage import data

    img = data.astronaut()
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def render(spec: ClipSpec, path: Path) -> dict:
    """Write the clip; return its ground truth."""
    rng = np.random.default_rng(spec.seed)
    base = _photo(spec.width, spec.height).astype(np.float32)
    px, py, pw, ph = spec.part
    x0, y0 = int(px * spec.width), int(py * spec.height)
    x1, y1 = int((px + pw) * spec.width), int((py + ph) * spec.height)
    mask = np.zeros((spec.height, spec.width), np.float32)
    mask[y0:y1, x0:x1] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), 2.0)
    pivot = ((x0 + x1) / 2.0, float(y0))  # the ankle: the part swings about its top
    switch = spec.duration_s / 2 if spec.fps_after else None
    times = sample_times(spec.duration_s, spec.fps, fps_after=spec.fps_after, switch_s=switch, seed=spec.seed)
    if spec.slow_movement_hz:
        angle = 0.5 * spec.amplitude_deg * np.sin(2 * np.pi * spec.slow_movement_hz * times)
    else:
        angle = (
            spec.amplitude_deg * clonus_displacement(spec.clonus, times) / max(spec.clonus.amplitude, 1e-9)
        )
    drift_phase = rng.uniform(0, 2 * np.pi, 4)
    tremor_hz = rng.uniform(8, 12)
    out_w, out_h = spec.width, spec.height
    with VideoWriter(path, width=out_w if spec.rotation_ccw % 180 == 0 else out_h,
                     height=out_h if spec.rotation_ccw % 180 == 0 else out_w,
                     fps=spec.fps, codec=spec.codec, crf=spec.crf,
                     display_rotation_ccw=spec.rotation_ccw) as writer:  # fmt: skip
        for t, a in zip(times, angle, strict=True):
            m = cv2.getRotationMatrix2D(pivot, float(a), 1.0)
            moved = cv2.warpAffine(
                base, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
            moved_mask = cv2.warpAffine(mask, m, (out_w, out_h), flags=cv2.INTER_LINEAR)[..., None]
            frame = base * (1 - moved_mask) + moved * moved_mask
            dx = spec.shake_px * (
                np.sin(2 * np.pi * 0.3 * t + drift_phase[0])
                + 0.5 * np.sin(2 * np.pi * 0.7 * t + drift_phase[1])
            )
            dy = spec.shake_px * (
                np.sin(2 * np.pi * 0.25 * t + drift_phase[2])
                + 0.5 * np.sin(2 * np.pi * 0.9 * t + drift_phase[3])
            )
            dx += spec.tremor_px * np.sin(2 * np.pi * tremor_hz * t)
            dy += spec.tremor_px * np.cos(2 * np.pi * tremor_hz * t * 1.07)
            if dx or dy:
                shift = np.float32([[1, 0, dx], [0, 1, dy]])
                frame = cv2.warpAffine(
                    frame,
                    shift,
                    (out_w, out_h),
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT,
                )
            gain = spec.brightness * (1 + spec.flicker * np.sin(2 * np.pi * spec.flicker_hz * t))
            frame = frame * gain + rng.normal(0, spec.noise_sd, frame.shape)
            image = np.clip(frame, 0, 255).astype(np.uint8)
            if spec.rotation_ccw:
                image = np.ascontiguousarray(np.rot90(image, k=-(spec.rotation_ccw // 90)))
            writer.write(image, float(t))
    truth = clonus_truth(spec.clonus).to_dict()
    if spec.slow_movement_hz or spec.clonus.beats < 3:
        truth.update(clonus=False, frequency_hz=None, beat_count=0, start_s=None, end_s=None, sustained=None)
    truth.pop("periods_s", None)
    truth["site"] = spec.site
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
    args = parser.parse_args()
    spec = ClipSpec(clonus=ClonusSpec(frequency_hz=args.frequency_hz, beats=args.beats, onset_s=1.0),
                    fps=args.fps, duration_s=1.0 + args.beats / args.frequency_hz + 1.5)  # fmt: skip
    print(json.dumps(write_clip(spec, args.out), indent=2))


if __name__ == "__main__":
    main()
