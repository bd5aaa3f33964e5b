"""The small example clips committed under ``samples/clips`` (``make samples``), with truth.

They serve the README quick start, the API examples and the tests; the whole set stays
under 3 MB.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tools.clips import ClipSpec, write_clip
from tools.waveform import ClonusSpec

SAMPLES: dict[str, ClipSpec] = {
    # Ankle close-up, phone held in portrait: 12 beats at 6 Hz after the stretch.
    "ankle_clonus": ClipSpec(site="ankle", framing="close", width=360, height=640, rotation_ccw=90,
                             duration_s=4.5, shake_px=2.0, tremor_px=0.4, crf=26,
                             clonus=ClonusSpec(frequency_hz=6.0, beats=12, onset_s=1.2, seed=3)),
    # Jaw jerk: 7 beats at 7 Hz, a real person's face.
    "jaw_clonus": ClipSpec(site="jaw", framing="medium", person=0, width=480, height=360, duration_s=3.5,
                           crf=26, clonus=ClonusSpec(frequency_hz=7.0, beats=7, onset_s=1.0, seed=4)),
    # Sustained ankle clonus, 5 Hz for 25 beats, hand-held with tremor, 60 fps dropping to 30.
    "ankle_sustained": ClipSpec(site="ankle", framing="medium", person=2, width=480, height=360,
                                duration_s=7.5, fps=60.0, fps_after=30.0, shake_px=3.0, tremor_px=0.6,
                                crf=28, clonus=ClonusSpec(frequency_hz=5.0, beats=25, onset_s=1.0,
                                                          sustained=True, seed=5)),
    # Look-alike: a still foot filmed hand-held (drift and the filmer's tremor): not clonus.
    "ankle_still_handheld": ClipSpec(site="ankle", framing="close", width=480, height=360, duration_s=4.0,
                                     shake_px=4.0, tremor_px=0.8, crf=26, clonus=ClonusSpec(beats=0)),
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    out = Path((argv or sys.argv[1:] or ["samples/clips"])[0])
    for name, spec in SAMPLES.items():
        truth = write_clip(spec, out / f"{name}.mp4")
        print(f"{name}.mp4: clonus={truth['clonus']} beats={truth['beat_count']} f={truth['frequency_hz']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
