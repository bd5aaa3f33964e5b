"""Speed and memory (``make bench``): PyAV's rgb24 decoding vs the full analysis, the review files
and a naive baseline.

Each measurement runs in its own fresh process, so its peak RSS is its own. Figures are
printed, never asserted: the machines are shared and noisy, so read the ratios, which are
measured in the same run on the same file.

    python -m tools.bench [--out data/bench] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tools.thread_cpu import available, busy_cores, cpu_by_thread, process_cpu_s, summary

WARM_TARGET_X = 1.6  # a warm worker's analysis, × the rgb24 decode in a fresh process (#26)


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM resets at exec; ru_maxrss would carry the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _decode(path: str) -> tuple[float, float, int]:
    """The floor: PyAV decoding the clip to rgb24 (the pixels any analysis must have), PyAV's
    import included (as the analysis's imports are, in a fresh process)."""
    t0 = time.perf_counter()
    import av

    n = 0
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            frame.to_ndarray(format="rgb24")
            n += 1
    return time.perf_counter() - t0, _peak_rss_mb(), n


def _analyze(path: str) -> tuple[float, float, int]:
    """The analysis, its imports included (what a fresh ``clonus analyze`` waits for)."""
    t0 = time.perf_counter()
    from vision.pipeline import analyze_video

    a = analyze_video(path, site="ankle")
    return time.perf_counter() - t0, _peak_rss_mb(), a.info.frame_count


def _analyze_drawn_warm(path: str) -> tuple[float, float, int]:
    """A warm worker's analysis of a region the clinician drew (where the automatic analysis put
    it): tracked while the video decodes, with nothing to find first."""
    from vision.pipeline import analyze_video

    roi = analyze_video(path, site="ankle").result.tracking.roi
    t0 = time.perf_counter()
    a = analyze_video(path, site="ankle", roi=roi)
    return time.perf_counter() - t0, _peak_rss_mb(), a.info.frame_count


def _analyze_warm(path: str) -> tuple[float, float, int]:
    """A second analysis in the same process: what a service worker pays once it has run a job
    (MediaPipe imported, caches warm)."""
    _analyze(path)
    return _analyze(path)


def _review(path: str) -> tuple[float, float, int]:
    """The review files after an analysis: overlay (faces obscured), plots, report page."""
    import tempfile

    from vision.pipeline import analyze_video
    from vision.render.artifacts import write_artifacts

    analysis = analyze_video(path, site="ankle")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        write_artifacts(path, analysis, folder)
    return time.perf_counter() - t0, _peak_rss_mb(), analysis.info.frame_count


def _baseline(path: str) -> tuple[float, float, int]:
    """Naive: the pose landmarker on every full-resolution frame."""
    from models.registry import model_path
    from vision.locate.landmarks import PoseLandmarker
    from vision.video.decode import iter_frames
    from vision.video.probe import probe

    t0 = time.perf_counter()
    info = probe(path)
    n = 0
    with PoseLandmarker(model_path("pose_landmarker_full"), video=True) as lm:
        for frame in iter_frames(path, info):
            lm.detect(frame.image, frame.time_s)
            n += 1
    return time.perf_counter() - t0, _peak_rss_mb(), n


def _h264_alone(path: str) -> float:
    """Decoding only (no conversion): what any analysis pays before it looks at a pixel."""
    import av

    t0 = time.perf_counter()
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass
    return time.perf_counter() - t0


class Timing(NamedTuple):
    wall_s: float
    cpu_s: float  # every thread's


def _timed(fn) -> Timing:
    t0, c0 = time.perf_counter(), process_cpu_s()
    fn()
    return Timing(time.perf_counter() - t0, process_cpu_s() - c0)


def _warm_phases(path: str, repeat: int) -> dict[str, Timing]:
    """Where a warm worker's time goes, measured in one process, alternated ``repeat`` times
    (medians of wall and CPU seconds): PyAV's rgb24 decode, H.264 decoding alone, the part's
    tracking alone over frames already decoded (region where the analysis placed it), and the
    whole analysis. Decoding alone plus tracking alone is what the found-part path cannot go
    below while its tracking waits for the whole recording (the exam may come after the
    set-up); their CPU seconds are what any schedule of that work must burn.

    ``rgb24 fresh`` is the rgb24 decode in a fresh process (the warm row's divisor), timed in
    the same rounds: the host's speed drifts over minutes, so the floor is put in the warm
    row's units with a decode of the same moments, not with the pairs' of minutes before (its
    CPU seconds are not this process's: not a number)."""
    from vision.pipeline import analyze_video

    roi = analyze_video(path, site="ankle").result.tracking.roi  # warm-up: imports, models
    phases = {
        "rgb24": lambda: _decode(path),
        "h264": lambda: _h264_alone(path),
        "tracking": _tracking_alone(path, roi),
        "analysis": lambda: analyze_video(path, site="ankle"),
    }
    runs: dict[str, list[Timing]] = {name: [] for name in (*phases, "rgb24 fresh")}
    for _ in range(repeat):
        for name, fn in phases.items():
            runs[name].append(_timed(fn))
        runs["rgb24 fresh"].append(Timing(_in_fresh_process(_decode, path)[0], float("nan")))
    return {name: Timing(*np.median(np.asarray(r), axis=0).tolist()) for name, r in runs.items()}


def _two_thread_speedup(rounds: int = 40) -> float:
    """How much two threads of CPU-bound OpenCV work gain over one on this machine (2.0: two
    real cores; near 1.0: one core shared, or a busy host). OpenCV's own threads are off."""
    import threading

    import cv2

    image = np.random.default_rng(0).integers(0, 255, (1080, 1920), np.uint8)
    work = lambda: [cv2.GaussianBlur(image, (31, 31), 5) for _ in range(rounds)]  # noqa: E731
    threads_before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        work()  # warm-up
        t0 = time.perf_counter()
        work(), work()
        one = time.perf_counter() - t0
        pair = [threading.Thread(target=work) for _ in range(2)]
        t0 = time.perf_counter()
        [t.start() for t in pair], [t.join() for t in pair]
        return one / (time.perf_counter() - t0)
    finally:
        cv2.setNumThreads(threads_before)


def _detector_60s() -> tuple[float, float, int]:
    from tools.waveform import ClonusSpec, clonus_displacement
    from vision.clinical.detector import detect_oscillation

    t = np.arange(0, 60, 1 / 30.0)
    x = clonus_displacement(ClonusSpec(frequency_hz=6.0, beats=300, onset_s=2.0, sustained=True), t)
    x = x + np.random.default_rng(0).normal(0, 0.05, len(t))
    xy = np.stack([x, 0 * x], axis=1)
    detect_oscillation(t, xy, np.ones(len(t), bool), site="ankle")  # warm-up (imports, caches)
    t0 = time.perf_counter()
    runs = 20
    for _ in range(runs):
        detect_oscillation(t, xy, np.ones(len(t), bool), site="ankle")
    return (time.perf_counter() - t0) / runs, _peak_rss_mb(), len(t)


def _by_thread(
    path: str, kind: str, measure: Callable[[Callable[[], object]], object] = cpu_by_thread
) -> object:
    """``measure`` (by default the CPU seconds by thread) over one analysis in this fresh
    process: its first (``fresh``, the imports included), its second (``warm``), or the part's
    tracking alone over frames already decoded (``tracking``, after a first analysis placed the
    region)."""
    from vision.pipeline import analyze_video

    analysis = lambda: analyze_video(path, site="ankle")  # noqa: E731
    if kind == "fresh":
        return measure(analysis)
    roi = analysis().result.tracking.roi
    return measure(analysis if kind == "warm" else _tracking_alone(path, roi))


def _tracking_alone(path: str, roi) -> Callable[[], object]:
    """The part's tracking in ``roi`` alone, over the clip's frames decoded beforehand."""
    from vision.motion.tracking import track_region
    from vision.pipeline import _scale
    from vision.video.probe import probe
    from vision.video.single_pass import decoded_frames

    info = probe(path)
    frames = [frame for frame, _ in decoded_frames(Path(path), info)]
    return lambda: track_region(iter(frames), roi, scale=_scale(info))


def _in_fresh_process(fn, *args) -> tuple[float, float, int]:
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def _paired(repeat: int, path: str, fn) -> tuple[tuple, tuple, list[float]]:
    """Decoding and ``fn`` on the same file, alternated ``repeat`` times (fresh processes each),
    so that the shared machine's load falls on both alike: the median run of each, and each
    pair's ratio."""
    pairs = [(_in_fresh_process(_decode, path), _in_fresh_process(fn, path)) for _ in range(repeat)]
    dec = sorted((d for d, _ in pairs), key=lambda r: r[0])[repeat // 2]
    run = sorted((a for _, a in pairs), key=lambda r: r[0])[repeat // 2]
    return dec, run, [a[0] / d[0] for d, a in pairs]


def _spread(ratios: list[float]) -> str:
    return f"{min(ratios):.2f}–{max(ratios):.2f}" if len(ratios) > 1 else f"{ratios[0]:.2f}"


def make_clip(folder: Path, duration_s: float) -> Path:
    """A portrait phone clip, 1080×1920 shown (stored 1920×1080 + rotation), 30 fps, with clonus."""
    from tools.clips import ClipSpec, write_clip
    from tools.waveform import ClonusSpec

    path = folder / f"bench_{int(duration_s)}s_1080x1920.mp4"
    if not path.exists():
        beats = int((duration_s - 2.0) * 6.0)
        spec = ClipSpec(site="ankle", framing="medium", width=1080, height=1920, rotation_ccw=90,
                        duration_s=duration_s, fps=30.0, shake_px=4.0, tremor_px=0.5, crf=23,
                        clonus=ClonusSpec(frequency_hz=6.0, beats=beats, onset_s=1.0,
                                          sustained=True))  # fmt: skip
        write_clip(spec, path)
    return path


def looped_clip(source: Path, times: int, max_s: float | None = None) -> Path:
    """``source`` played ``times`` times in a row, remuxed (no re-encoding: the same pictures, the
    timestamps carried on), the last copy's final packets in decoding order dropped until the
    clip is no longer than ``max_s``: a long clip for the memory figures without rendering it."""
    import av

    path = source.with_name(source.stem.replace("_", f"_x{times}_", 1) + source.suffix)
    if path.exists():
        return path
    with av.open(str(source)) as src, av.open(str(path), "w") as out:
        stream = src.streams.video[0]
        copy = out.add_stream_from_template(stream)
        packets = [p for p in src.demux(stream) if p.dts is not None]
        span = int(stream.duration or max(p.pts for p in packets) + (packets[0].duration or 1))
        last = len(packets)  # of the last copy; no later packet is an earlier one's reference
        while max_s is not None and last > 1:
            end = max(p.pts for p in packets[:last]) + (times - 1) * span
            if end * float(stream.time_base) <= max_s:
                break
            last -= 1
        for k in range(times):
            for p in packets[: last if k == times - 1 else None]:
                if k:  # each copy carried on by one more span (the packets are reused)
                    p.pts, p.dts = p.pts + span, p.dts + span
                p.stream = copy
                out.mux(p)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Speed and memory of the analysis")
    parser.add_argument("--out", type=Path, default=Path("data/bench"))
    parser.add_argument("--skip-baseline", action="store_true", help="skip the slow naive baseline")
    parser.add_argument("--repeat", type=int, default=3, help="decode/analysis pairs per clip (median)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print("generating clips (cached in", args.out, ") ...", file=sys.stderr)
    clips = {10: make_clip(args.out, 10.0), 60: make_clip(args.out, 60.0)}
    clips[120] = looped_clip(clips[60], 2, max_s=119.5)  # the longest the analysis takes is 120 s
    rows = []
    repeat = max(1, args.repeat)
    for length, path in clips.items():
        dec, ana, ratios = _paired(repeat, str(path), _analyze)
        base = None if args.skip_baseline or length != 10 else _in_fresh_process(_baseline, str(path))
        review = _paired(repeat, str(path), _review) if length == 10 else None
        warm = _paired(repeat, str(path), _analyze_warm) if length == 10 else None
        drawn = _paired(repeat, str(path), _analyze_drawn_warm) if length == 10 else None
        rows.append((length, dec, ana, base, review, (warm, drawn), ratios))
    det = _in_fresh_process(_detector_60s)
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        phases = pool.submit(_warm_phases, str(clips[10]), repeat).result()
        speedup = pool.submit(_two_thread_speedup).result()
    kinds = ("fresh", "warm", "tracking") if available() else ()  # read from Linux's /proc
    threads = {kind: _in_fresh_process(_by_thread, str(clips[10]), kind) for kind in kinds}
    busy = _in_fresh_process(_by_thread, str(clips[10]), "warm", busy_cores)
    print(f"median of {repeat} decode/analysis pairs, each in a fresh process; each pair's ratio in brackets")
    print(f"{'clip':<22}{'decode s':>10}{'analysis s':>12}{'baseline s':>12}{'analysis/decode':>26}"
          f"{'baseline/analysis':>19}{'RSS decode':>12}{'RSS analysis':>14}{'RSS baseline':>14}")  # fmt: skip
    for length, dec, ana, base, *_, ratios in rows:
        b_s = f"{base[0]:.2f}" if base else "-"
        b_ratio = f"{base[0] / ana[0]:.2f}" if base else "-"
        b_rss = f"{base[1]:.0f} MB" if base else "-"
        name = f"{length} s 1080x1920 30fps" + (" (60 s twice)" if length == 120 else "")
        ratio = f"{ana[0] / dec[0]:.2f} ({_spread(ratios)})"
        print(f"{name:<22}{dec[0]:>10.2f}{ana[0]:>12.2f}{b_s:>12}{ratio:>26}"
              f"{b_ratio:>19}{f'{dec[1]:.0f} MB':>12}{f'{ana[1]:.0f} MB':>14}{b_rss:>14}")  # fmt: skip
    (review_dec, review, review_ratios), ((warm_dec, warm, warm_ratios), drawn) = rows[0][4], rows[0][5]
    print(f"\nanalysis of the 10-s clip in a warm worker (a second job in the same process, as the service's "
          f"workers run): {warm[0]:.2f} s ({warm[0] / warm_dec[0]:.2f}× decoding it; pairs "
          f"{_spread(warm_ratios)})")  # fmt: skip
    print(f"the same with a drawn region (tracked while decoding): {drawn[1][0]:.2f} s "
          f"({drawn[1][0] / drawn[0][0]:.2f}× decoding it; pairs {_spread(drawn[2])})")  # fmt: skip
    print(f"review files (overlay with faces obscured, plots, report) for the 10-s clip: {review[0]:.2f} s "
          f"({review[0] / review_dec[0]:.2f}× decoding it; pairs {_spread(review_ratios)}), "
          f"peak RSS {review[1]:.0f} MB")  # fmt: skip
    _print_phases(phases, speedup)
    _print_busy(busy, phases)
    _print_threads(threads)
    print(f"detector alone on a 60-s, 30 fps signal: {det[0] * 1000:.1f} ms per call")
    r10 = rows[0][2][1]
    for length, _, ana, *_ in rows[1:]:
        rss = f"{ana[1]:.0f} MB vs {r10:.0f} MB ({ana[1] / r10:.2f}×)"
        print(f"analysis peak RSS, {length} s vs 10 s clip: {rss}")
    return 0


def _print_phases(phases: dict[str, Timing], speedup: float) -> None:
    """The phase row (wall, × the rgb24 decode in the same warm process), the found-part floor
    and the analysis also in the target's units (× the decode in a fresh process, as the warm
    row divides, timed in the same rounds), and the CPU seconds each phase burns."""
    (rgb, rgb_cpu), (h264, h264_cpu) = phases["rgb24"], phases["h264"]
    (tracking, tracking_cpu), (analysis, analysis_cpu) = phases["tracking"], phases["analysis"]
    floor = h264 + tracking
    print(f"where a warm worker's time goes (10-s clip, one process, medians; × the rgb24 decode): "
          f"decoding alone {h264 / rgb:.2f}×, tracking alone {tracking / rgb:.2f}×, "
          f"the two in a row (the found-part path's floor) {floor / rgb:.2f}×, the analysis "
          f"{analysis / rgb:.2f}×; two threads do {speedup:.2f}× the work of one here")  # fmt: skip
    fresh = phases["rgb24 fresh"].wall_s
    verdict = "under" if floor / fresh < WARM_TARGET_X else "not under"
    print(f"× the rgb24 decode in a fresh process timed in the same rounds (the warm row's units): the "
          f"floor {floor / fresh:.2f}×, {verdict} the {WARM_TARGET_X}× warm target (no analysis that "
          f"tracks after it decodes goes below its floor), the analysis {analysis / fresh:.2f}×")  # fmt: skip
    cores = _cores()
    least, least_floor = analysis_cpu / cores / fresh, (h264_cpu + tracking_cpu) / cores / fresh
    print(f"the least wall time any schedule of the same work could take on this machine's {cores} "
          f"cores (its CPU seconds ÷ {cores}), × that fresh decode: the analysis {least:.2f}×, the "
          f"floor's work {least_floor:.2f}× (at or over {WARM_TARGET_X}×: no rescheduling of the "
          f"work reaches the warm target; only less work can); within {WARM_TARGET_X}× the analysis's "
          f"work needs {_needed_cores(phases):.2f} cores busy from start to end, it kept "
          f"{analysis_cpu / analysis:.2f} busy, PyAV's own decode {rgb_cpu / rgb:.2f}")  # fmt: skip
    print(f"CPU seconds (all threads): rgb24 decode {rgb_cpu:.2f} (on {rgb_cpu / rgb:.2f} cores), "
          f"decoding alone {h264_cpu:.2f}, "
          f"tracking alone {tracking_cpu:.2f} (on {tracking_cpu / tracking:.2f} cores), "
          f"the analysis {analysis_cpu:.2f} (on {analysis_cpu / analysis:.2f} cores): "
          f"{analysis_cpu / rgb_cpu:.2f}× the decode's CPU, the floor's work "
          f"{(h264_cpu + tracking_cpu) / rgb_cpu:.2f}×")  # fmt: skip


def _needed_cores(phases: dict[str, Timing]) -> float:
    """The cores the warm analysis's work must keep busy, on average, to finish within the warm
    target (× the fresh decode timed in the same rounds)."""
    return phases["analysis"].cpu_s / (WARM_TARGET_X * phases["rgb24 fresh"].wall_s)


def _print_busy(busy: list[tuple[float, float, float]], phases: dict[str, Timing]) -> None:
    """The cores a warm analysis kept busy, tenth by tenth, beside what the warm target needs
    throughout; and where fewer than three quarters of the machine's were (the start, the
    placement, the end)."""
    cores = sorted(c for *_, c in busy)
    low = 0.75 * _cores()
    quiet = ", ".join(f"{t0:.1f}–{t1:.1f} s {c:.1f}" for t0, t1, c in busy if c < low)
    print(f"cores a warm analysis kept busy, tenth of a second by tenth ({busy[-1][1]:.2f} s): median "
          f"{cores[len(cores) // 2]:.2f}, busiest tenth {cores[-1]:.2f}; the warm target needs "
          f"{_needed_cores(phases):.2f} throughout; under {low:.1f}: {quiet or 'none'}")  # fmt: skip


def _cores() -> int:
    """The cores this process may run on (its affinity, where the system tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _print_threads(threads: dict[str, tuple[Counter[str], float]]) -> None:
    """CPU seconds by thread over one fresh and one warm analysis and the tracking alone: a thread
    busy all along (the main thread while it tracks) is the critical path."""
    for kind, (spent, wall_s) in threads.items():
        what = "the tracking alone" if kind == "tracking" else f"one {kind} analysis"
        print(f"CPU by thread, {what} (10-s clip, {wall_s:.2f} s, {sum(spent.values()):.2f} CPU-s): "
              f"{summary(spent, wall_s)}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
