"""What a cheaper part tracker would buy and what it would cost (issue #26's speed targets).

The found part is tracked only once the whole recording is decoded (the exam may come after
the set-up), so a warm analysis cannot go below decoding alone plus tracking alone. The only
way under that floor is a cheaper tracker. Each variant here is run on the realistic exam set
(``make eval``'s table) and timed as ``make bench``'s phase row does, in processes of its own:

- built: the part's flow as the analysis runs it (21-px window, four levels, forward–backward);
- small window: the camera's window (15 px, three levels), still checked backward;
- forward only: the built window, the backward check dropped;
- both: the small window, forward only.

    python -m tools.tracker_cost [--out data/eval-exams] [--bench data/bench] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from tools.evaluate import _fmt
from tools.evaluate_exams import evaluate_exams

if TYPE_CHECKING:
    from tools.bench import Timing

VARIANTS = ("built", "small window", "forward only", "both")
_SHOWN = ("sensitivity", "specificity", "misses_called_good", "false_alarms_called_good",
          "beats_within_1", "episodes_right", "stretch_within_0.1s", "lookalikes_called_clonus")  # fmt: skip


def use_variant(name: str) -> None:
    """Set this process's part tracker to ``name`` (one of ``VARIANTS``)."""
    from vision.motion import tracking
    from vision.motion.camera import _LK_CAMERA
    from vision.motion.flow import _LK

    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}")
    tracking._PART_LK = _LK_CAMERA if name in ("small window", "both") else _LK
    tracking._PART_BACK_CHECK = name in ("built", "small window")


def _phases(name: str, clip: str, repeat: int) -> dict[str, Timing]:
    from tools.bench import _warm_phases

    use_variant(name)
    return _warm_phases(clip, repeat)


def measure(name: str, folder: Path, clip: Path, jobs: int, repeat: int) -> dict:
    """One variant: the exam set's summary and the warm phases (× the rgb24 decode)."""
    _, summary = evaluate_exams(folder, jobs=jobs, initializer=use_variant, initargs=(name,))
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        phases = pool.submit(_phases, name, str(clip), repeat).result()
    rgb = phases["rgb24"].wall_s
    speed = {"tracking_x": phases["tracking"].wall_s / rgb, "analysis_x": phases["analysis"].wall_s / rgb}
    return {"variant": name, **speed, **summary}


def print_table(results: list[dict]) -> None:
    head = ("variant", "tracking ×", "analysis ×", *_SHOWN)
    print("  ".join(f"{h:>12}" if i else f"{h:<14}" for i, h in enumerate(head)))
    for r in results:
        cells = [r["variant"], r["tracking_x"], r["analysis_x"], *(r[k] for k in _SHOWN)]
        print("  ".join(f"{_fmt(c):>12}" if i else f"{c:<14}" for i, c in enumerate(cells)))


def main(argv: list[str] | None = None) -> int:
    from tools.bench import make_clip

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/eval-exams"), help="exam recordings (kept)")
    parser.add_argument("--bench", type=Path, default=Path("data/bench"), help="the 10-s bench clip (kept)")
    parser.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    parser.add_argument("--repeat", type=int, default=3, help="alternated timing rounds (median)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.bench.mkdir(parents=True, exist_ok=True)
    clip = make_clip(args.bench, 10.0)
    results = [measure(name, args.out, clip, args.jobs, args.repeat) for name in VARIANTS]
    print_table(results)
    (args.out / "tracker_cost.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
