"""CPU seconds by thread while something runs (Linux: ``/proc/self/task``), for ``make bench``.

Which thread bounds the wall time (one busy all along is the critical path) and where a fresh
process's extra CPU goes are what the per-phase totals cannot tell. Threads are named as Python
names them (a pool's ``camera_0`` counted as ``camera``) or, for native threads, as the kernel
does (libavcodec's ``av:h264:df0``); unnamed native threads (OpenCV's and TFLite's pools) count
as ``native pools``. A thread that ends between two samples loses its last interval: what the
samples miss is reported as ``unattributed``. ``busy_cores`` gives the whole process's cores kept
busy, interval by interval: where a run idles.
"""

from __future__ import annotations

import itertools
import os
import re
import resource
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

_TASKS = Path("/proc/self/task")
_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
_SAMPLER = "thread-cpu sampler"


def process_cpu_s() -> float:
    """CPU seconds this process has used so far, every thread's (user and system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _label(native: str, python: str | None) -> str:
    if python is not None:
        return re.sub(r"_\d+$", "", python)
    if native.startswith("av:"):
        return re.sub(r"\d+$", "", native)  # libavcodec's frame threads, together
    return "native pools" if native in ("python", "python3") else native


def _sample() -> dict[int, tuple[str, float]]:
    """Each live thread's label and CPU seconds so far (user and system)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[int, tuple[str, float]] = {}
    for task in _TASKS.iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        tid, native = int(task.name), stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()  # utime and stime are the 14th and 15th
        out[tid] = (_label(native, names.get(tid)), (int(fields[11]) + int(fields[12])) * _TICK_S)
    return out


def available() -> bool:
    return _TASKS.is_dir()


def _while_sampling(fn: Callable[[], object], interval_s: float, take: Callable[[], object]) -> float:
    """Run ``fn`` while a sampler thread calls ``take`` every ``interval_s``; the wall seconds
    ``fn`` took. The sampler has ended when this returns."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(interval_s):
            take()

    sampler = threading.Thread(target=watch, name=_SAMPLER, daemon=True)
    t0 = time.perf_counter()
    sampler.start()
    fn()
    wall_s = time.perf_counter() - t0
    done.set()
    sampler.join()
    return wall_s


def cpu_by_thread(fn: Callable[[], object], interval_s: float = 0.05) -> tuple[Counter[str], float]:
    """CPU seconds each thread label burned while ``fn`` ran, and the wall seconds it took.
    The sampler's own CPU is left out of both the labels and ``unattributed``."""
    before = _sample()
    seen: dict[int, tuple[str, float]] = {}
    cpu0 = process_cpu_s()
    wall_s = _while_sampling(fn, interval_s, lambda: seen.update(_sample()))
    seen.update(_sample())
    total_s = process_cpu_s() - cpu0
    spent: Counter[str] = Counter()
    for tid, (label, cpu_s) in seen.items():
        spent[label] += cpu_s - before.get(tid, (label, 0.0))[1]
    sampler_s = spent.pop(_SAMPLER, 0.0)
    missed_s = total_s - sampler_s - sum(spent.values())
    if missed_s >= 0.01:
        spent["unattributed"] = missed_s
    return spent, wall_s


def busy_cores(fn: Callable[[], object], interval_s: float = 0.1) -> list[tuple[float, float, float]]:
    """How many cores this process kept busy while ``fn`` ran, interval by interval: for each,
    its start and end (seconds from the first) and its CPU seconds ÷ its wall seconds (every
    ``interval_s``; the last is shorter). The sampler's own reads are in the figures."""
    marks = [(time.perf_counter(), process_cpu_s())]
    _while_sampling(fn, interval_s, lambda: marks.append((time.perf_counter(), process_cpu_s())))
    marks.append((time.perf_counter(), process_cpu_s()))
    start = marks[0][0]
    pairs = itertools.pairwise(marks)
    return [(t0 - start, t1 - start, (c1 - c0) / (t1 - t0)) for (t0, c0), (t1, c1) in pairs if t1 > t0]


def summary(spent: Counter[str], wall_s: float, top: int = 8) -> str:
    """``main 1.94 s (60 % of the wall time), camera 0.80 s, ...``, largest first."""
    parts = []
    for label, cpu_s in spent.most_common(top):
        if cpu_s < 0.01:
            break
        busy = f" ({100 * cpu_s / wall_s:.0f} % of the wall time)" if label == "MainThread" else ""
        parts.append(f"{'main' if label == 'MainThread' else label} {cpu_s:.2f} s{busy}")
    return ", ".join(parts)
