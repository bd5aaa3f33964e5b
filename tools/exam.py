"""Recordings that look like a real exam, with ground truth per episode (``python -m tools.exam``).

A real recording is not a part beating in place. The filmer holds the phone while the
examiner's hand arrives on the part, stretches it sharply (15–30° of ankle dorsiflexion in a
fraction of a second) and holds it; the beats ride on the held stretch and the hand moves
with the part; then the stretch is released. Before it, set-up: the patient shifts, the part
is adjusted by hand, the filmer pans and zooms. There may be a second stretch and episode,
and another limb in view. The camera sees only the limb (no face: the pose model finds no
person). Codecs and containers as phones and browsers write them.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from tools.clips import _compose, hand_held
from tools.scenes import (
    TONES,
    Scene,
    _composite,
    _fill,
    _skin,
    framing_matrix,
    group_wrist,
    scene,
    street_ankle,
)
from tools.waveform import ClonusSpec, _smoothstep, clonus_displacement, clonus_truth, sample_times
from vision.video.writer import VideoWriter

# The examiner's hand on each site's part, canvas pixels of ``tools.scenes`` (none for the jaw:
# the tap on the chin is brief). Under the forefoot and over the toes; over the fingers; on the
# kneecap from above.
_HAND = {
    "ankle": [[[950, 912], [1150, 905], [1175, 985], [955, 1010]],
              [[1130, 905], [1175, 830], [1215, 840], [1180, 960]]],
    "wrist": [[[1175, 505], [1330, 490], [1345, 705], [1185, 695]]],
    "knee": [[[690, 585], [950, 590], [935, 705], [705, 700]]],
}  # fmt: skip
# Where the hand comes from (canvas pixels from its place on the part).
_HAND_FROM = {"ankle": (500.0, 400.0), "wrist": (600.0, -100.0), "knee": (0.0, -600.0)}


@dataclass(frozen=True)
class Stretch:
    """One stretch by the examiner and what follows it while it is held."""

    at_s: float  # the stretch starts
    size: float  # degrees (ankle, wrist) or a fraction of the part's height (knee, jaw)
    hold_s: float = 3.0  # held after the stretch ends (at least as long as the beats)
    rise_s: float = 0.2
    beats: int = 0
    frequency_hz: float = 6.0
    beat_size: float = 3.0  # peak-to-peak of the steady beats, in the stretch's unit
    sustained: bool = False
    latency_s: float = 0.05  # from the end of the stretch to the first beat
    seed: int = 0

    @property
    def clonus(self) -> ClonusSpec:
        return ClonusSpec(frequency_hz=self.frequency_hz, beats=self.beats, amplitude=self.beat_size,
                          onset_s=self.at_s + self.rise_s + self.latency_s, sustained=self.sustained,
                          stretch_step=0.0, seed=self.seed)  # fmt: skip

    @property
    def release_s(self) -> float:
        beats_s = self.beats / self.frequency_hz + 0.4 if self.beats else 0.0
        return self.at_s + self.rise_s + max(self.hold_s, self.latency_s + beats_s)


@dataclass(frozen=True)
class Voluntary:
    """A rhythm nobody triggered (tapping, opening and closing, speech, a tremor), or a few
    irregular beats: cycles of ``size`` peak to peak whose periods and sizes vary by ``*_cv``.
    From rest (one-sided: the finger lifts and comes back) or about the rest (a tremor)."""

    at_s: float
    dur_s: float
    frequency_hz: float
    size: float  # the site's unit, like a stretch's
    period_cv: float = 0.04
    size_cv: float = 0.05
    from_rest: bool = True
    kind: str = "voluntary"  # what the truth calls it

    def value(self, t: np.ndarray, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out, start = np.zeros(len(t)), self.at_s
        while start < self.at_s + self.dur_s:
            period = max(0.3, 1 + self.period_cv * float(rng.standard_normal())) / self.frequency_hz
            size = self.size * max(0.2, 1 + self.size_cv * float(rng.standard_normal()))
            inside = (t >= start) & (t < start + period)
            phase = 2 * np.pi * (t[inside] - start) / period
            out[inside] = size * (0.5 * (1 - np.cos(phase)) if self.from_rest else 0.5 * np.sin(phase))
            start += period
        return out


@dataclass(frozen=True)
class ExamSpec:
    site: str = "ankle"
    stretches: tuple[Stretch, ...] = (Stretch(at_s=3.0, size=20.0, beats=12),)
    duration_s: float = 8.0
    fps: float = 30.0
    width: int = 640
    height: int = 360
    framing: str = "medium"
    person: int = 0
    hand: bool = True  # the examiner's hand on the part
    other_limb: bool = False  # another leg or arm in view, still
    adjustments: int = 0  # voluntary adjustments of the part during set-up
    shift_px: float = 0.0  # the patient shifts the limb (canvas pixels)
    pan: float = 0.0  # the filmer pans by this fraction of the frame's width
    pan_s: float = 1.0
    zoom: float = 0.0  # the filmer zooms by this fraction (± 0.25)
    zoom_s: float = 1.5
    drift_px: float = 2.0  # hand-held drift
    tremor_px: float = 0.4  # the filmer's 8–12 Hz tremor
    noise_sd: float = 2.0
    brightness: float = 1.0
    blur_px: float = 0.0
    motion_blur: bool = False  # the part blurred over half a frame's exposure
    rotation_ccw: int = 0
    codec: str = "h264"
    crf: int = 23
    seed: int = 0
    suffix: str = ".mp4"
    rhythms: tuple[Voluntary, ...] = ()  # look-alikes
    flicker: float = 0.0  # mains lighting's brightness swing (fraction), at flicker_hz
    flicker_hz: float = 100.0  # sampled at the sensor's regular frame clock: it aliases
    # A real photo's part: its foot ("legs", "whole": tools.scenes.street_ankle) or hand ("hand":
    # tools.scenes.group_wrist).
    photo: str | None = None

    @property
    def clonus(self) -> bool:
        return any(s.beats >= 3 for s in self.stretches)


@dataclass(frozen=True)
class _Bump:
    at_s: float
    dur_s: float
    size: float


def _bump(t: np.ndarray, b: _Bump) -> np.ndarray:
    x = np.clip((t - b.at_s) / b.dur_s, 0, 1)
    return b.size * 0.5 * (1 - np.cos(2 * np.pi * x))


def _adjustments(spec: ExamSpec, rng: np.random.Generator) -> list[_Bump]:
    """Slow voluntary movements of the part before the first stretch (< 2 Hz)."""
    first = min((s.at_s for s in spec.stretches), default=spec.duration_s)
    out = []
    for _ in range(spec.adjustments):
        dur = float(rng.uniform(0.6, 1.6))
        if first - 1.5 - dur > 0.3:
            size = float(rng.uniform(0.3, 0.6)) * spec.stretches[0].size * rng.choice([-1, 1])
            out.append(_Bump(float(rng.uniform(0.3, first - 1.5 - dur)), dur, size))
    return out


def part_value(spec: ExamSpec, times: np.ndarray, bumps: list[_Bump]) -> np.ndarray:
    """The part's displacement (the site's unit): each stretch held and released, the beats
    on top, the set-up's adjustments before."""
    v = np.zeros(len(times))
    for s in spec.stretches:
        up = _smoothstep((times - s.at_s) / s.rise_s)
        down = _smoothstep((times - s.release_s) / 0.35)
        v += s.size * up * (1 - down)
        if s.beats:
            v += clonus_displacement(s.clonus, times)
    for b in bumps:
        v += _bump(times, b)
    for k, r in enumerate(spec.rhythms):
        v += r.value(times, spec.seed * 10 + k)
    return v


def hand_on(spec: ExamSpec, times: np.ndarray) -> np.ndarray:
    """0 away … 1 on the part: it arrives a second before each stretch, leaves after release."""
    on = np.zeros(len(times))
    for s in spec.stretches:
        arrive = _smoothstep((times - (s.at_s - 1.2)) / 0.7)
        leave = _smoothstep((times - (s.release_s + 0.3)) / 0.6)
        on = np.maximum(on, arrive * (1 - leave))
    return on


def _camera(spec: ExamSpec, t: float, phases: np.ndarray, tremor_hz: float) -> np.ndarray:
    """The filmer's view at ``t``: drift and tremor, a pan and a zoom about the frame's centre."""
    w, h = spec.width, spec.height
    pan = spec.pan * w * float(_smoothstep(np.array((t - spec.pan_s) / 2.0)))
    zoom = 1.0 + spec.zoom * float(_smoothstep(np.array((t - spec.zoom_s) / 1.5)))
    dx, dy = hand_held(t, phases, tremor_hz, spec.drift_px, spec.tremor_px)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, zoom)
    m[:, 2] += (dx - pan, dy)
    return m.astype(np.float32)


@dataclass
class _Layers:
    """What is drawn over the room: the limb, the moving part, the examiner's hand."""

    sc: Scene
    hand_image: np.ndarray | None
    hand_mask: np.ndarray | None
    other: np.ndarray  # 2×3 canvas transform of the other limb

    @staticmethod
    def of(spec: ExamSpec) -> _Layers:
        if spec.photo == "hand":
            sc = group_wrist()
        else:
            sc = street_ankle(spec.photo == "legs") if spec.photo else scene(spec.site, spec.person)
        hand_image = hand_mask = None
        polygons = sc.hand_px or _HAND.get(spec.site)
        if spec.hand and polygons:
            h, w = sc.image.shape[:2]
            hand_mask = cv2.GaussianBlur(_fill((h, w), [np.array(p, float) for p in polygons]), (0, 0), 2)
            hand_image = _skin(h, w, spec.seed + 7, TONES[(spec.person + 2) % len(TONES)]) * 0.95
        other = (
            np.float32([[1, 0, -520], [0, 1, 30]])
            if spec.site != "knee"
            else np.float32([[1, 0, 0], [0, 1, -330]])
        )
        return _Layers(sc, hand_image, hand_mask, other)


def _warp(image: np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _draw(
    spec: ExamSpec, lay: _Layers, view: np.ndarray, limb: np.ndarray, value: float, on: float
) -> np.ndarray:
    """One frame (float RGB): the room, the other limb, the limb, the part and the hand."""
    sc, size = lay.sc, (spec.width, spec.height)
    if sc.background is None:  # a photo (the jaw): the part over the still photo
        frame = _warp(sc.image, view, size)
    else:
        frame = _warp(sc.background, view, size)
        for m in ([_compose(limb, lay.other)] if spec.other_limb else []) + [limb]:
            vm = _compose(view, m)
            frame = _composite(frame, _warp(sc.image, vm, size), cv2.warpAffine(sc.body_mask, vm, size))
    part = _compose(view, _compose(limb, sc.matrix(value)))
    frame = _composite(frame, _warp(sc.image, part, size), cv2.warpAffine(sc.mask, part, size))
    if lay.hand_image is not None and on > 0.01:
        fx, fy = _HAND_FROM[spec.site]
        away = np.float32([[1, 0, fx * (1 - on)], [0, 1, fy * (1 - on)]])
        hm = _compose(part, away)
        frame = _composite(frame, _warp(lay.hand_image, hm, size), cv2.warpAffine(lay.hand_mask, hm, size))
    return frame


def render(spec: ExamSpec, path: Path) -> dict:
    """Write the recording; return its ground truth."""
    rng = np.random.default_rng(spec.seed)
    lay = _Layers.of(spec)
    frame_m = framing_matrix(lay.sc, spec.framing, spec.width, spec.height)
    times = sample_times(spec.duration_s, spec.fps, jitter=0.03, seed=spec.seed)
    bumps = _adjustments(spec, rng)
    values = part_value(spec, times, bumps)
    on = hand_on(spec, times)
    shift_at = float(rng.uniform(0.5, max(0.6, spec.stretches[0].at_s - 1.5))) if spec.stretches else 1.0
    flicker = 1 + spec.flicker * np.sin(2 * np.pi * spec.flicker_hz * np.arange(len(times)) / spec.fps)
    shift = spec.shift_px * _smoothstep((times - shift_at) / 0.8)
    phases, tremor_hz = rng.uniform(0, 2 * np.pi, 4), float(rng.uniform(8, 12))
    dt = 0.5 / spec.fps
    stored = (spec.height, spec.width) if spec.rotation_ccw % 180 else (spec.width, spec.height)
    with VideoWriter(path, width=stored[0], height=stored[1], fps=spec.fps, codec=spec.codec, crf=spec.crf,
                     display_rotation_ccw=spec.rotation_ccw, reproducible=True) as writer:  # fmt: skip
        for i, t in enumerate(times):
            view = _compose(_camera(spec, float(t), phases, tremor_hz), frame_m)
            limb = np.float32([[1, 0, shift[i]], [0, 1, 0.4 * shift[i]]])
            if spec.motion_blur:  # the part's position over the exposure, averaged
                sub = part_value(spec, np.array([t - dt, t, t + dt]) - dt / 2, bumps)
                frame = sum(_draw(spec, lay, view, limb, float(v), float(on[i])) for v in sub) / 3.0
            else:
                frame = _draw(spec, lay, view, limb, float(values[i]), float(on[i]))
            if spec.blur_px:
                frame = cv2.GaussianBlur(frame, (0, 0), spec.blur_px)
            frame = frame * (spec.brightness * flicker[i]) + spec.noise_sd * rng.standard_normal(
                frame.shape, dtype=np.float32
            )
            image = np.clip(frame, 0, 255).astype(np.uint8)
            if spec.rotation_ccw:
                image = np.ascontiguousarray(np.rot90(image, k=-(spec.rotation_ccw // 90)))
            writer.write(image, float(t))
    return truth(spec, float(frame_m[0, 0]))


def truth(spec: ExamSpec, scale: float) -> dict:
    """Per episode: onset, end, beats, frequency; the stretches (time, size); the headline
    fields from the episode with the most beats."""
    episodes = []
    for s in spec.stretches:
        if s.beats >= 3:
            t = clonus_truth(s.clonus).to_dict()
            t.pop("periods_s")
            episodes.append(t)
    main = max(episodes, key=lambda e: e["beat_count"], default=None)
    unit = "deg" if spec.site in ("ankle", "wrist") else "fraction"
    return {
        "clonus": main is not None,
        "frequency_hz": main["frequency_hz"] if main else None,
        "beat_count": main["beat_count"] if main else 0,
        "sustained": main["sustained"] if main else None,
        "start_s": main["start_s"] if main else None,
        "end_s": main["end_s"] if main else None,
        "episodes": episodes,
        "stretches": [
            {"time_s": s.at_s, "size": s.size, "unit": unit, "release_s": s.release_s} for s in spec.stretches
        ],
        "site": spec.site,
        "framing": spec.framing,
        "scale": round(scale, 4),
        "lookalike": next((r.kind for r in spec.rhythms), "flicker" if spec.flicker else None),
    }


def write_exam(spec: ExamSpec, path: Path) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = render(spec, path)
    meta = {"truth": t, "spec": asdict(spec)}
    Path(str(path) + ".truth.json").write_text(json.dumps(meta, indent=2))
    return t


@dataclass(frozen=True)
class _Site:
    stretch: tuple[float, float]  # range of stretch sizes
    beat: tuple[float, float]  # range of beat peak-to-peak sizes
    freq: tuple[float, float]


# Clinical sizes: dorsiflexion 15–30° with beats of a few degrees; wrist extension likewise;
# the patella pushed down by a third of its height; the jaw a little open, beating.
_SITES = {
    "ankle": _Site((15.0, 30.0), (2.0, 5.0), (5.0, 8.0)),
    "wrist": _Site((15.0, 30.0), (3.0, 6.0), (5.0, 8.0)),
    "knee": _Site((0.25, 0.4), (0.06, 0.12), (4.0, 7.0)),
    "jaw": _Site((0.05, 0.1), (0.06, 0.1), (5.0, 9.0)),
}
_SIZES = ((640, 360), (854, 480), (1280, 720))


def exam_set(seed: int = 24) -> list[tuple[str, ExamSpec]]:
    """The realistic set: mostly ankles filmed as the limb alone, every hard case at least
    twice, all four sites; then exams without clonus."""
    rng = np.random.default_rng(seed)
    cases: list[tuple[str, dict]] = [
        ("stretch-hold", {}),
        ("stretch-hold", {"framing": "close"}),
        ("late-onset", {"latency_s": 0.12, "beats": 6}),
        ("hand-pan", {"pan": 0.33, "pan_in_episode": True}),
        ("zoom-in", {"zoom": 0.25}),
        ("zoom-out", {"zoom": -0.2, "pan": -0.2}),
        ("shift-other-leg", {"shift_px": 60.0, "other_limb": True}),
        ("other-leg", {"other_limb": True, "framing": "wide"}),
        ("long-setup", {"setup_s": 30.0, "adjustments": 4, "shift_px": 40.0}),
        ("two-episodes", {"two": True}),
        ("two-episodes", {"two": True, "setup_s": 12.0, "adjustments": 2}),
        ("hevc-portrait-60", {"codec": "hevc", "suffix": ".mov", "rotation_ccw": 90, "fps": 60.0}),
        ("vp9-blur", {"codec": "vp9", "suffix": ".webm", "motion_blur": True}),
        ("low-light", {"brightness": 0.4, "noise_sd": 5.0, "crf": 28}),
        ("sustained", {"beats": 40, "sustained": True}),
        ("wrist", {"site": "wrist"}),
        ("wrist", {"site": "wrist", "pan": 0.25}),
        ("knee", {"site": "knee"}),
        ("knee", {"site": "knee", "zoom": 0.2}),
        ("jaw", {"site": "jaw", "framing": "close"}),
        ("jaw", {"site": "jaw", "fps": 60.0}),
    ]
    nothing = [
        ("no-clonus-stretch", {"beats": 0}),
        ("no-clonus-2-beats", {"beats": 2}),
        ("no-clonus-long", {"beats": 0, "setup_s": 25.0, "adjustments": 4, "shift_px": 50.0, "pan": 0.3}),
        ("no-clonus-wrist", {"site": "wrist", "beats": 0}),
    ]
    out = []
    for i, (kind, opts) in enumerate(cases + nothing):
        out.append((f"x{i:02d}-{kind}", _exam(i, dict(opts), rng)))
    return out + photo_set() + lookalike_set()


def photo_set() -> list[tuple[str, ExamSpec]]:
    """Exams on real photos at the sizes a phone records them (portrait 720 × 1280): ankle exams
    on a street photo's foot, turned about its ankle, beats of about 4 px, mostly the lower legs
    alone (no face: the pose model finds no person), another person's legs beside them; and
    wrist exams on a card player's hand, the hand and forearm alone in view."""
    legs = ExamSpec(photo="legs", width=720, height=1280, crf=20, drift_px=2.5, tremor_px=0.5)
    hand = replace(legs, site="wrist", photo="hand", framing="close")

    def beats(at_s: float, n: int, f_hz: float, deg: float = 1.0, size: float = 20.0, **kw) -> Stretch:
        return Stretch(at_s=at_s, size=size, beats=n, frequency_hz=f_hz, beat_size=deg, rise_s=0.2,
                       hold_s=2.0, seed=int(at_s * 10) + n, **kw)  # fmt: skip

    cases = [
        ("legs", replace(legs, stretches=(beats(3.0, 24, 6.1),), duration_s=9.5, seed=700)),
        (
            "legs-hevc-60",
            replace(
                legs,
                stretches=(beats(2.5, 14, 6.96, 1.2),),
                duration_s=7.0,
                fps=60.0,
                codec="hevc",
                suffix=".mov",
                rotation_ccw=90,
                pan=0.2,
                zoom=0.15,
                seed=701,
            ),
        ),
        (
            "legs-late",
            replace(
                legs, stretches=(beats(3.0, 6, 5.8, 1.2, 22.0, latency_s=0.12),), duration_s=7.0, seed=702
            ),
        ),
        (
            "legs-two",
            replace(
                legs,
                stretches=(beats(12.0, 10, 5.5), beats(18.5, 8, 5.6)),
                duration_s=23.0,
                adjustments=2,
                shift_px=40.0,
                seed=703,
            ),
        ),
        (
            "whole",
            replace(
                legs,
                photo="whole",
                framing="wide",
                stretches=(beats(3.0, 12, 6.5, 4.5),),
                duration_s=7.5,
                seed=704,
            ),
        ),
        ("legs-no-clonus", replace(legs, stretches=(beats(3.0, 0, 6.0),), duration_s=8.0, seed=705)),
        # A hand holding cards, the hand and forearm alone in view (no face), another person's
        # arm beside them; the examiner's fingers on the cards extend the wrist 20° and hold it.
        ("hand", replace(hand, stretches=(beats(2.5, 14, 5.4, 2.0),), duration_s=7.0, seed=706)),
        ("hand-no-clonus", replace(hand, stretches=(beats(2.5, 0, 5.4),), duration_s=7.0, seed=707)),
    ]
    return [(f"p{i:02d}-photo-{kind}", spec) for i, (kind, spec) in enumerate(cases)]


def lookalike_set() -> list[tuple[str, ExamSpec]]:
    """What people upload that beats in the band and is not clonus (../shared/clinical.md):
    voluntary tapping and opening and closing (large, 2–5 Hz, no stretch before), speech
    (irregular, 4–5 Hz), tremors from the first frame, a few irregular beats after a stretch,
    mains flicker aliased by the frame rate. Sizes in the site's unit (degrees at the ankle
    and wrist, a share of the part's height at the knee and jaw)."""
    quiet = dict(hand=False, stretches=(), tremor_px=0.3)
    held = (Stretch(at_s=2.5, size=20.0, hold_s=2.5),)  # the examiner's stretch, nothing after it

    def beats(*args, **kw) -> tuple[Voluntary, ...]:
        return (Voluntary(*args, **kw),)

    tremor = dict(from_rest=False, kind="tremor")
    cases = [
        ("tapping-wrist", dict(site="wrist", rhythms=beats(1.5, 5.0, 3.5, 30.0))),
        ("hand-opening", dict(site="wrist", framing="close", rhythms=beats(1.2, 5.0, 2.8, 40.0))),
        ("toe-tapping", dict(site="ankle", rhythms=beats(1.8, 5.0, 3.0, 20.0))),
        ("foot-tapping", dict(site="ankle", framing="close", fps=60.0, rhythms=beats(1.0, 5.0, 4.5, 18.0))),
        ("speech", dict(site="jaw", rhythms=beats(1.0, 6.0, 4.5, 0.12, 0.3, 0.4, kind="speech"))),
        ("tremor-wrist", dict(site="wrist", rhythms=beats(0.0, 9.0, 5.0, 4.0, **tremor))),
        ("tremor-ankle", dict(site="ankle", rhythms=beats(0.0, 9.0, 6.5, 3.0, **tremor))),
        ("tremor-knee", dict(site="knee", rhythms=beats(0.0, 9.0, 8.0, 0.06, **tremor))),
        ("pseudoclonus", dict(site="ankle", hand=True, stretches=held,
                              rhythms=beats(2.75, 0.6, 5.0, 4.0, 0.35, 0.3, kind="pseudoclonus"))),
        ("flicker-100hz-30fps", dict(site="ankle", hand=True, stretches=held, flicker=0.08)),
        ("flicker-100hz-24fps", dict(site="knee", fps=24.0, flicker=0.1)),
    ]  # fmt: skip
    out = []
    for j, (kind, opts) in enumerate(cases):
        w, h = _SIZES[j % len(_SIZES)] if opts["site"] != "jaw" else (640, 480)
        base = ExamSpec(duration_s=9.0, width=w, height=h, person=j % 4, seed=500 + j, **quiet)
        spec = replace(base, **opts)
        out.append((f"l{j:02d}-{kind}", spec))
    return out


def _exam(i: int, opts: dict, rng: np.random.Generator) -> ExamSpec:
    site = opts.pop("site", "ankle")
    rule = _SITES[site]
    setup = opts.pop("setup_s", float(rng.uniform(2.0, 5.0)))
    beats = opts.pop("beats", int(rng.choice([5, 8, 12, 16, 24])))
    two, in_episode = opts.pop("two", False), opts.pop("pan_in_episode", False)

    def stretch(at_s: float, n: int, k: int) -> Stretch:
        return Stretch(at_s=round(at_s, 2), size=float(rng.uniform(*rule.stretch)), beats=n,
                       frequency_hz=round(float(rng.uniform(*rule.freq)), 2),
                       beat_size=float(rng.uniform(*rule.beat)), sustained=opts.pop("sustained", False),
                       latency_s=opts.pop("latency_s", float(rng.uniform(0.0, 0.08))),
                       rise_s=float(rng.uniform(0.15, 0.3)), hold_s=float(rng.uniform(1.5, 3.0)),
                       seed=100 * i + k)  # fmt: skip

    first = stretch(setup, beats, 0)
    stretches = (first,)
    if two:
        second = stretch(first.release_s + float(rng.uniform(2.0, 4.0)), int(rng.choice([4, 6, 10])), 1)
        stretches = (first, second)
    end = stretches[-1].release_s + float(rng.uniform(1.5, 3.0))
    w, h = _SIZES[i % len(_SIZES)] if site != "jaw" else (640, 480)
    pan_s = first.at_s + 0.4 if in_episode else float(rng.uniform(0.5, 1.5))
    base = ExamSpec(site=site, stretches=stretches, duration_s=round(end, 2), width=w, height=h,
                    person=i % 4, drift_px=float(rng.uniform(1.0, 4.0)), hand=site != "jaw", seed=i,
                    tremor_px=float(rng.uniform(0.2, 0.8)), pan_s=pan_s,
                    zoom_s=float(rng.uniform(0.5, max(0.6, setup - 2.0))))  # fmt: skip
    spec = replace(base, **opts)
    if spec.rotation_ccw and spec.width > spec.height:
        spec = replace(spec, width=spec.height, height=spec.width)
    return spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a folder")
    parser.add_argument("--only", default=None, help="only clips whose name contains this")
    args = parser.parse_args()
    for name, spec in exam_set():
        if args.only and args.only not in name:
            continue
        t = write_exam(spec, args.out / f"{name}{spec.suffix}")
        print(name, json.dumps({k: t[k] for k in ("clonus", "frequency_hz", "beat_count", "start_s")}))


if __name__ == "__main__":
    main()
