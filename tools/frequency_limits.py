"""How well can any detector know the frequency of a short noisy episode? (issue #4's worst case)

For each case of the detector's accuracy tables, two bounds beside the detector's own error:

- the Cramér–Rao bound: the smallest standard deviation an unbiased estimator of a real
  sinusoid's frequency can reach, given the N samples inside the episode, the fundamental's
  amplitude A and the white noise's SD σ (Kay, Fundamentals of Statistical Signal Processing
  I, §3.7): ``fs / 2π · sqrt(24 σ² / (A² N (N² − 1)))``;
- a perfect beat timer: the median beat-to-beat rate of the exact, noise-free beat times,
  against the truth (the median of the per-cycle rates, which includes the first cycle from
  the stretch and the last one back to rest: quantities no beat time shows).

    python -m tools.frequency_limits [--snr-db 10] [--seeds 1 5 7] [--limit 0.15]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from tools.signal_cases import case_table, noisy_case
from vision.clinical.detector import detect_oscillation


def crlb_sd_hz(t_s: np.ndarray, clean: np.ndarray, noise_sd: float, f_hz: float) -> float:
    """Cramér–Rao bound (SD, Hz) on the frequency of the fundamental of ``clean`` at ``t_s``."""
    n = len(t_s)
    if n < 3 or noise_sd <= 0:
        return 0.0
    fs = (n - 1) / (t_s[-1] - t_s[0])
    amp = 2.0 * abs(np.mean((clean - clean.mean()) * np.exp(-2j * np.pi * f_hz * t_s)))
    return fs / (2 * np.pi) * math.sqrt(24 * noise_sd**2 / (amp**2 * n * (n**2 - 1)))


def case_limits(row: dict) -> dict:
    """The detector's error and the two bounds for one table row."""
    case = noisy_case(**row)
    t, truth = case.t_s, case.truth
    inside = (t >= truth.start_s) & (t <= truth.end_s)
    result = detect_oscillation(t, case.x, site="ankle")
    beat_rate = float(np.median(1.0 / np.diff(truth.beat_times_s)))
    error = abs(result.frequency_hz - truth.frequency_hz) if result.clonus_detected else None
    return {
        "beats": truth.beat_count,
        "truth_hz": truth.frequency_hz,
        "detector_error_hz": error,
        "crlb_sd_hz": crlb_sd_hz(t[inside], case.clean[inside], case.noise_sd, truth.frequency_hz),
        "beat_timer_error_hz": abs(beat_rate - truth.frequency_hz),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--snr-db", type=float, default=10.0)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 5, 7])
    p.add_argument("--limit", type=float, default=0.15, help="worst-case frequency error target, Hz")
    args = p.parse_args(argv)
    for seed in args.seeds:
        rows = [case_limits(r) for r in case_table(120, snr_db=args.snr_db, seed=seed)]
        errors = np.array([r["detector_error_hz"] for r in rows if r["detector_error_hz"] is not None])
        # Chance that even an efficient estimator misses the limit, per case (two-sided normal).
        miss = [math.erfc(args.limit / (math.sqrt(2) * r["crlb_sd_hz"])) for r in rows if r["crlb_sd_hz"] > 0]
        timer = np.array([r["beat_timer_error_hz"] for r in rows])
        print(f"seed {seed}, {args.snr_db:g} dB, {len(rows)} cases")
        print(f"  detector:           median {np.median(errors):.3f} Hz, worst {errors.max():.3f} Hz")
        over = int(np.sum(timer > args.limit))
        print(f"  perfect beat timer: worst {timer.max():.3f} Hz; {over} over {args.limit}")
        print(f"  Cramér–Rao: largest SD {max(r['crlb_sd_hz'] for r in rows):.3f} Hz; "
              f"chance an efficient estimator stays within {args.limit} Hz on every case "
              f"{float(np.prod(1 - np.array(miss))):.2f}")  # fmt: skip
        for r in rows:
            if r["crlb_sd_hz"] > args.limit / 3 or r["beat_timer_error_hz"] > args.limit:
                det = r["detector_error_hz"]
                print(f"    {r['beats']:2d} beats at {r['truth_hz']:5.2f} Hz: "
                      f"Cramér–Rao SD {r['crlb_sd_hz']:.3f}, perfect timer {r['beat_timer_error_hz']:.3f}, "
                      "detector " + ("missed" if det is None else f"{det:.3f}"))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
