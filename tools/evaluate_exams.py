"""The realistic table of ``make eval``: recordings that look like a real exam (``tools.exam``),
scored per recording and per episode.

    python -m tools.evaluate_exams --out data/eval-exams [--only NAME] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tools.evaluate import Scored, _fmt, share
from tools.exam import ExamSpec, exam_set, write_exam


@dataclass
class ExamRow(Scored):
    truth_episodes: int
    episodes: int
    onset_err_s: float | None
    method: str
    verdict: str
    reasons: str
    seconds: float
    duration_s: float
    error: str | None = None
    stretch_errs_s: list[float | None] = field(default_factory=list)  # per true stretch: to the nearest found
    lookalike: str | None = None  # what the recording shows instead of clonus (truth)
    named: str = ""  # the look-alikes the analysis named


def run_exam(name: str, spec: ExamSpec, folder: Path) -> ExamRow:
    """Render one recording (unless the same one is there) and analyze it as the CLI does."""
    from vision.errors import VisionError
    from vision.pipeline import analyze_video

    path = folder / f"{name}{spec.suffix}"
    meta = Path(str(path) + ".truth.json")
    written = json.loads(meta.read_text()) if path.exists() and meta.exists() else {}
    truth = (
        written["truth"]
        if written.get("spec") == json.loads(json.dumps(asdict(spec)))
        else write_exam(spec, path)
    )
    t0 = time.perf_counter()
    base = (name, truth["clonus"])
    n_true = len(truth["episodes"])
    try:
        r = analyze_video(path, site=spec.site).result
    except VisionError as exc:
        return ExamRow(*base, None, truth["frequency_hz"], None, truth["beat_count"], 0, n_true, 0, None, "-",
                       "error", "", time.perf_counter() - t0, spec.duration_s, error=exc.message)  # fmt: skip
    onset = None
    if truth["clonus"] and r.episodes:
        onset = min(abs(e.start_s - truth["start_s"]) for e in r.episodes)
    found = (r.clonus_detected, truth["frequency_hz"], r.frequency_hz, truth["beat_count"], r.beat_count)
    found_s = [e.time_s for e in r.events if e.kind == "stretch"]
    errs = [min((abs(f - s["time_s"]) for f in found_s), default=None) for s in truth["stretches"]]
    return ExamRow(*base, *found, n_true, len(r.episodes), onset, r.tracking.method, r.quality.verdict,
                   "; ".join(r.quality.issues), time.perf_counter() - t0, spec.duration_s, None, errs,
                   truth.get("lookalike"), ",".join(k.kind for k in r.lookalikes))  # fmt: skip


def summarize_exams(rows: Iterable[ExamRow]) -> dict:
    rows = list(rows)
    pos = [r for r in rows if r.truth_clonus]
    neg = [r for r in rows if not r.truth_clonus]
    found = [r for r in pos if r.detected and r.hz is not None]
    err = [abs(r.hz - r.truth_hz) for r in found]
    stretches = [e for r in rows for e in r.stretch_errs_s]
    looks = [r for r in rows if r.lookalike]

    return {
        "recordings": len(rows),
        "clonus_recordings": len(pos),
        "sensitivity": share(pos, lambda r: r.detected is True),
        "specificity": share(neg, lambda r: r.detected is False),
        "misses_called_good": sum(1 for r in pos if not r.detected and r.verdict == "good"),
        "false_alarms_called_good": sum(1 for r in neg if r.detected and r.verdict == "good"),
        "frequency_mae_hz": round(statistics.fmean(err), 4) if err else None,
        "frequency_median_err_hz": round(statistics.median(err), 4) if err else None,
        "beats_within_1": share(pos, lambda r: bool(r.detected) and abs(r.beats - r.truth_beats) <= 1),
        "episodes_right": share(rows, lambda r: r.episodes == r.truth_episodes),
        "stretches": len(stretches),
        "stretch_within_0.1s": share(stretches, lambda e: e is not None and e <= 0.1),
        "lookalikes": len(looks),
        "lookalikes_called_clonus": sum(1 for r in looks if r.detected),
        "lookalikes_named": share(looks, lambda r: bool(r.named)),
        "errors": sum(1 for r in rows if r.error),
    }


def print_exam_rows(rows: list[ExamRow]) -> None:
    head = (
        "recording",
        "truth",
        "found",
        "f_true",
        "f_hz",
        "b_true",
        "beats",
        "ep_true",
        "ep",
        "method",
        "quality",
        "named",
    )
    print("  ".join(f"{h:>8}" if i else f"{h:<22}" for i, h in enumerate(head)))
    for r in rows:
        ok = (r.detected is True) == r.truth_clonus
        cells = (r.name + ("" if ok else " ✗"), r.truth_clonus, r.detected, r.truth_hz, r.hz, r.truth_beats,
                 r.beats, r.truth_episodes, r.episodes, r.method, r.verdict, r.named or "-")  # fmt: skip
        text = [_fmt(c) for c in cells]
        print("  ".join(f"{c:>8}" if i else f"{c:<22}" for i, c in enumerate(text)), r.reasons)


def evaluate_exams(
    folder: Path,
    only: str | None = None,
    jobs: int = 1,
    initializer: Callable[..., object] | None = None,
    initargs: tuple = (),
) -> tuple[list[ExamRow], dict]:
    """Every recording analyzed on ``jobs`` worker processes (``initializer(*initargs)`` run
    in each first, as ``tools.tracker_cost`` sets its variant); the rows and their summary."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = [(n, s) for n, s in exam_set() if not only or only in n]
    names, specs = zip(*cases, strict=True) if cases else ((), ())
    spawn = mp.get_context("spawn") if initializer else None  # a variant set in clean processes
    pool = ProcessPoolExecutor(max(1, jobs), mp_context=spawn, initializer=initializer, initargs=initargs)
    with pool:
        rows = list(pool.map(run_exam, names, specs, [folder] * len(cases)))
    return rows, summarize_exams(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/eval-exams"))
    parser.add_argument("--only", default=None)
    parser.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    args = parser.parse_args(argv)
    rows, summary = evaluate_exams(args.out, args.only, args.jobs)
    print_exam_rows(rows)
    print()
    for k, v in summary.items():
        print(f"{k:>26}: {_fmt(v)}")
    (args.out / "report.json").write_text(
        json.dumps({"summary": summary, "rows": [asdict(r) for r in rows]}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
