"""Accuracy report (``make eval``): a seeded, varied set of clips with known truth, analyzed
through the same entry point as the CLI; a row per clip and a summary.

    python -m tools.evaluate --out data/eval [--limit N] [--jobs 2] [--no-drawn]

A second pass analyzes every clip in the region a clinician would draw (``--roi``), where
the analysis neither finds the part nor can fall back on the region it found.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tools.clips import ClipSpec, write_clip
from tools.scenes import FRAMINGS, SITES
from tools.waveform import ClonusSpec
from vision.schema import Roi

SIZES = ((480, 360), (640, 360), (640, 480), (854, 480))  # stored frames; portrait via rotation


def eval_set(seed: int = 2026, clonus_clips: int = 36) -> list[tuple[str, ClipSpec]]:
    """Clonus clips over every site, framing and artifact, then the look-alikes."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, ClipSpec]] = []
    beats_choices = (3, 4, 5, 6, 8, 10, 12, 20, 30, 45, 60)
    for i in range(clonus_clips):
        site, framing = SITES[i % 4], FRAMINGS[(i // 4) % 3]
        fps = (24.0, 30.0, 30.0, 60.0)[i % 4 if i % 3 else (i + 1) % 4]
        top = min(12.0, fps / 3.0)  # at least 3 frames a cycle, else unmeasurable
        freq = float(rng.uniform(3.0, top))
        beats = int(beats_choices[i % len(beats_choices)])
        onset = float(rng.uniform(0.6, 1.6))
        sustained = beats >= 10 and bool(rng.integers(2))
        w, h = SIZES[int(rng.integers(len(SIZES)))]
        spec = ClipSpec(
            site=site,
            framing=framing,
            person=int(rng.integers(4)),
            clonus=ClonusSpec(
                frequency_hz=round(freq, 2),
                beats=beats,
                onset_s=round(onset, 2),
                sustained=sustained,
                fast_phase=float(rng.uniform(0.3, 0.5)),
                seed=int(rng.integers(1 << 16)),
            ),
            fps=fps,
            fps_after=(fps * 2 / 3 if i % 5 == 2 else None),
            jitter=float(rng.choice([0.0, 0.05, 0.15])),
            width=w,
            height=h,
            amplitude=float(rng.uniform(0.5, 1.4)),
            shake_px=float(rng.choice([0.0, 2.0, 5.0])),
            shake_deg=float(rng.choice([0.0, 0.3])),
            tremor_px=float(rng.choice([0.0, 0.0, 0.5, 1.0])),
            noise_sd=float(rng.choice([1.0, 3.0, 6.0])),
            brightness=float(rng.choice([1.0, 1.0, 0.35])),
            blur_px=float(rng.choice([0.0, 0.0, 1.2])),
            rotation_ccw=int(rng.choice([0, 0, 90, 270])),
            crf=int(rng.choice([20, 26, 30])),
            seed=i,
        )
        tail_s = float(rng.uniform(0.8, 2.0))
        spec = replace(spec, duration_s=round(onset + _clonus_s(spec.clonus) + tail_s, 2))
        out.append((f"c{i:02d}-{site}-{framing}", spec))
    looks = [
        ("still-shake", {"shake_px": 4.0, "shake_deg": 0.4, "tremor_px": 0.8}),
        ("still-shake", {"shake_px": 8.0, "tremor_px": 0.3, "brightness": 0.4, "noise_sd": 5.0}),
        ("still-shake", {"shake_px": 3.0, "tremor_px": 1.5, "fps_after": 20.0}),
        ("slow", {"slow_movement_hz": 1.0}),
        ("slow", {"slow_movement_hz": 2.2, "shake_px": 2.0}),
        ("slow", {"slow_movement_hz": 0.5, "amplitude": 2.0}),
        ("tremor-only", {"tremor_px": 1.5}),
        ("tremor-only", {"tremor_px": 2.5, "shake_px": 1.0}),
        ("flicker", {"flicker": 0.15, "flicker_hz": 8.0}),
        ("flicker", {"flicker": 0.3, "flicker_hz": 10.0, "brightness": 0.5}),
        ("jerk", {"clonus": ClonusSpec(beats=1, onset_s=1.5)}),
        ("jerk", {"clonus": ClonusSpec(beats=2, onset_s=1.2, frequency_hz=5.0)}),
    ]
    for j, (kind, extra) in enumerate(looks):
        w, h = SIZES[j % len(SIZES)]
        base = ClipSpec(site=SITES[j % 4], framing=FRAMINGS[j % 3], person=j % 4, duration_s=5.0,
                        clonus=ClonusSpec(beats=0), width=w, height=h, fps=(30.0, 24.0, 60.0)[j % 3],
                        seed=100 + j)  # fmt: skip
        out.append((f"n{j:02d}-{kind}-{base.site}", replace(base, **extra)))
    return out


def _clonus_s(c: ClonusSpec) -> float:
    return c.beats / c.frequency_hz * 1.05


@dataclass
class Scored:
    """What every table scores: the clonus verdict, the frequency and the beats."""

    name: str
    truth_clonus: bool
    detected: bool | None
    truth_hz: float | None
    hz: float | None
    truth_beats: int
    beats: int


@dataclass
class Row(Scored):
    truth_sustained: bool | None
    sustained: bool | None
    onset_err_s: float | None
    method: str
    verdict: str
    seconds: float
    duration_s: float
    error: str | None = None


def drawn_region(truth: dict) -> Roi:
    """The region a clinician would draw: the part's box with a tenth of its size around it."""
    box = truth["roi"]
    x0, y0 = max(0.0, box["x"] - 0.1 * box["w"]), max(0.0, box["y"] - 0.1 * box["h"])
    x1, y1 = min(1.0, box["x"] + 1.1 * box["w"]), min(1.0, box["y"] + 1.1 * box["h"])
    return Roi(x=x0, y=y0, w=x1 - x0, h=y1 - y0)


def run_one(name: str, spec: ClipSpec, folder: Path, drawn: bool = False) -> Row:
    """Analyze one clip (written unless already there); with ``drawn``, in the region a
    clinician would draw around the part instead of the one the analysis finds."""
    from vision.errors import VisionError
    from vision.pipeline import analyze_video

    path = folder / f"{name}.mp4"
    meta = path.with_suffix(".truth.json")
    written = json.loads(meta.read_text()) if drawn and path.exists() and meta.exists() else {}
    truth = written["truth"] if written.get("spec") == asdict(spec) else write_clip(spec, path)
    name = f"{name}@drawn" if drawn else name
    t0 = time.perf_counter()
    try:
        roi = drawn_region(truth) if drawn else None
        r = analyze_video(path, site=spec.site, roi=roi).result
    except VisionError as exc:
        return Row(name, truth["clonus"], None, truth["frequency_hz"], None, truth["beat_count"], 0,
                   truth["sustained"], None, None, "-", "error", time.perf_counter() - t0,
                   spec.duration_s, error=exc.message)  # fmt: skip
    seconds = time.perf_counter() - t0
    onset = None
    if truth["clonus"] and r.episodes:
        onset = min(abs(e.start_s - truth["start_s"]) for e in r.episodes)
    return Row(name, truth["clonus"], r.clonus_detected, truth["frequency_hz"], r.frequency_hz,
               truth["beat_count"], r.beat_count, truth["sustained"], r.sustained, onset,
               r.tracking.method, r.quality.verdict, seconds, spec.duration_s)  # fmt: skip


def summarize(rows: Iterable[Row]) -> dict:
    rows = list(rows)
    pos = [r for r in rows if r.truth_clonus]
    neg = [r for r in rows if not r.truth_clonus]
    tp = [r for r in pos if r.detected]
    freq_err = [abs(r.hz - r.truth_hz) for r in tp if r.hz is not None]
    onset = [r.onset_err_s for r in tp if r.onset_err_s is not None]

    return {
        "clips": len(rows),
        "clonus_clips": len(pos),
        "lookalike_clips": len(neg),
        "sensitivity": share(pos, lambda r: r.detected is True),
        "specificity": share(neg, lambda r: r.detected is False),
        "frequency_mae_hz": round(statistics.fmean(freq_err), 4) if freq_err else None,
        "frequency_worst_hz": round(max(freq_err), 4) if freq_err else None,
        "beats_within_1": share(pos, lambda r: r.detected and abs(r.beats - r.truth_beats) <= 1),
        "sustained_accuracy": share(pos, lambda r: r.sustained == r.truth_sustained),
        # A miss the analysis calls a good recording is false reassurance; one it marks for review
        # (or fails) sends the clinician back to the video.
        "misses_called_good": sum(1 for r in pos if not r.detected and r.verdict == "good"),
        "lookalikes_for_review": share(neg, lambda r: r.verdict != "good"),
        "onset_error_median_s": round(statistics.median(onset), 4) if onset else None,
        "onset_error_mean_s": round(statistics.fmean(onset), 4) if onset else None,
        "seconds_per_clip": round(statistics.fmean(r.seconds for r in rows), 3) if rows else None,
        "seconds_per_video_second": round(sum(r.seconds for r in rows) / sum(r.duration_s for r in rows), 3)
        if rows
        else None,
        "errors": sum(1 for r in rows if r.error),
    }


def share(xs: list, ok: Callable[[Any], bool]) -> float | None:
    """The share of ``xs`` for which ``ok`` holds (None for none)."""
    return round(sum(1 for x in xs if ok(x)) / len(xs), 4) if xs else None


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.2f}" if math.isfinite(v) else "nan"
    return str(v)


def print_rows(rows: list[Row], out=sys.stdout) -> None:
    head = ("clip", "truth", "found", "f_true", "f_hz", "b_true", "beats", "onset_err", "method", "quality")
    head += ("s",)
    print("  ".join(f"{h:>10}" if i else f"{h:<24}" for i, h in enumerate(head)), file=out)
    for r in rows:
        ok = (r.detected is True) == r.truth_clonus
        cells = (r.name + ("" if ok else " ✗"), r.truth_clonus, r.detected, r.truth_hz, r.hz, r.truth_beats,
                 r.beats, r.onset_err_s, r.method, r.verdict, r.seconds)  # fmt: skip
        print("  ".join(f"{_fmt(c):>10}" if i else f"{_fmt(c):<24}" for i, c in enumerate(cells)), file=out)


def evaluate(
    folder: Path, clips: list[tuple[str, ClipSpec]], jobs: int = 1, drawn: bool = False
) -> tuple[list[Row], dict]:
    folder.mkdir(parents=True, exist_ok=True)
    args = (*zip(*clips, strict=True), [folder] * len(clips), [drawn] * len(clips))
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            rows = list(pool.map(run_one, *args))
    else:
        rows = list(map(run_one, *args))
    return rows, summarize(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Accuracy of the analyzer on generated clips")
    parser.add_argument("--out", type=Path, default=Path("data/eval"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N clips")
    parser.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-drawn", dest="drawn", action="store_false",
                        help="skip the second pass in a region drawn by hand (--roi)")  # fmt: skip
    args = parser.parse_args(argv)
    clips = eval_set(args.seed)[: args.limit]
    rows, summary = evaluate(args.out, clips, args.jobs)
    print_rows(rows)
    print()
    for k, v in summary.items():
        print(f"{k:>26}: {_fmt(v)}")
    report = {"summary": summary, "rows": [asdict(r) for r in rows]}
    if args.drawn:
        drawn_rows, drawn_summary = evaluate(args.out, clips, args.jobs, drawn=True)
        print("\nIn the region a clinician would draw (--roi: the part's box and a tenth around it):")
        print_rows([r for r in drawn_rows if (r.detected is True) != r.truth_clonus])
        for k in ("sensitivity", "specificity", "frequency_mae_hz", "beats_within_1", "misses_called_good"):
            print(f"{k:>26}: {_fmt(drawn_summary[k])}")
        report["drawn_region_summary"] = drawn_summary
        report["drawn_region_rows"] = [asdict(r) for r in drawn_rows]
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
