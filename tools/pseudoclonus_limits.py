"""Can a few beats show that their rate is irregular? (issue #25: pseudoclonus)

Pseudoclonus is a few beats (usually fewer than 6) at an irregular rate; unsustained clonus is a
few beats at a regular one. Both are simulated after a held stretch, as the tracker measures
them (0.15-px noise on 3-px beats, 30 fps with jittered timestamps): clonus with 2 % period
jitter, pseudoclonus with 35 %. For every run the detector finds, the irregularity it judges by
(the larger of its own period variation and that of the peak intervals on the site's band) is
collected, and the share of each kind on either side of a range of thresholds printed.

    python -m tools.pseudoclonus_limits [--runs 120]
"""

from __future__ import annotations

import argparse

import numpy as np

from tools.exam import Voluntary
from tools.waveform import ClonusSpec, _smoothstep, clonus_displacement, sample_times
from vision.clinical.detector import detect_oscillation

ONSET_S = 2.25


def _held(t: np.ndarray) -> np.ndarray:
    return 20.0 * _smoothstep((t - 2.0) / 0.2) * (1 - _smoothstep((t - 6.0) / 0.15))


def irregularities(runs: int) -> dict[str, np.ndarray]:
    """The irregularity measured on each run of 3–5 beats that the detector finds, per kind."""
    out: dict[str, list[float]] = {"clonus": [], "pseudoclonus": []}
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        beats, hz = int(rng.integers(3, 6)), float(rng.uniform(4.5, 7.5))
        t = sample_times(8.0, 30.0, jitter=0.05, seed=seed)
        noise = rng.normal(0, 0.15, len(t))
        clonus = ClonusSpec(frequency_hz=hz, beats=beats, onset_s=ONSET_S, amplitude=3.0, stretch_step=0.0,
                            seed=seed)  # fmt: skip
        pseudo = Voluntary(ONSET_S, beats / hz - 0.01, hz, 3.0, period_cv=0.35, size_cv=0.3)
        for kind, x in (("clonus", clonus_displacement(clonus, t)), ("pseudoclonus", pseudo.value(t, seed))):
            r = detect_oscillation(t, _held(t) + x + noise, site="ankle")
            if r.judged:
                out[kind].append(r.judged[0][0].period_cv)
    return {k: np.array(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=120)
    args = parser.parse_args(argv)
    found = irregularities(args.runs)
    for kind, v in found.items():
        pct = np.round(np.percentile(v, [5, 25, 50, 75, 95]), 3) if len(v) else []
        print(f"{kind:13s} found in {len(v)}/{args.runs}; irregularity 5/25/50/75/95 %: {pct}")
    c, p = found["clonus"], found["pseudoclonus"]
    for limit in (0.08, 0.1, 0.12, 0.15, 0.2):
        rejected, kept = np.mean(c > limit), np.mean(p <= limit)
        print(f"limit {limit:.2f}: clonus rejected {rejected:.2f}, pseudoclonus kept {kept:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
