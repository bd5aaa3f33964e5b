"""The bench's CPU by thread: each thread's work is put on its own name."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tools.thread_cpu import _label, available, cpu_by_thread, summary

pytestmark = pytest.mark.skipif(not available(), reason="per-thread CPU is read from Linux's /proc")


def _burn(cpu_s: float) -> None:
    """Busy until this thread has used ``cpu_s`` of CPU (however busy the machine is)."""
    end = time.thread_time() + cpu_s
    while time.thread_time() < end:
        sum(range(1000))


def test_each_thread_s_cpu_is_counted_under_its_own_name_and_the_sampler_s_is_left_out():
    burnt, held = threading.Event(), threading.Event()
    # The burner stays alive until the measurement has ended: a thread's CPU is read while it lives.
    burner = threading.Thread(target=lambda: (_burn(0.3), burnt.set(), held.wait()), name="burner")

    pool = ThreadPoolExecutor(1, thread_name_prefix="pool")  # its thread, too, lives on

    def work() -> None:
        burner.start()
        pool.submit(_burn, 0.2).result()
        burnt.wait()

    try:
        spent, wall_s = cpu_by_thread(work, interval_s=0.02)
    finally:
        held.set()
        burner.join()
        pool.shutdown()
    assert 0.25 <= spent["burner"] <= 0.45
    assert 0.15 <= spent["pool"] <= 0.35  # the pool's thread, "pool_0", under its prefix
    assert spent["MainThread"] < 0.15  # it only waited
    assert "thread-cpu sampler" not in spent and wall_s > 0
    assert summary(spent, wall_s).startswith("burner 0.")


def test_native_threads_are_named_as_the_kernel_names_them_libavcodec_s_together():
    assert _label("av:h264:df2", None) == "av:h264:df"
    assert _label("python", None) == "native pools"
    assert _label("python", "camera_0") == "camera"
    assert _label("drishti", None) == "drishti"


def test_the_cores_kept_busy_add_up_to_the_cpu_spent_and_one_thread_keeps_at_most_one_busy():
    from tools.thread_cpu import busy_cores, process_cpu_s

    cpu0 = process_cpu_s()
    busy = busy_cores(lambda: _burn(0.4), interval_s=0.05)
    spent = process_cpu_s() - cpu0
    total = sum(cores * (t1 - t0) for t0, t1, cores in busy)
    assert len(busy) >= 4 and busy[0][0] == 0.0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(busy))  # one after another, no gaps
    assert abs(total - spent) < 0.05  # every CPU second is in some interval
    # One burning thread (and a sampler that mostly sleeps) cannot keep more than one core busy;
    # CPU time is counted in clock ticks, so one interval may read a tick high.
    ticks = sorted(cores for *_, cores in busy)
    assert ticks[len(ticks) // 2] <= 1.1
