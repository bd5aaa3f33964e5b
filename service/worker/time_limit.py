"""The job's time limit: Python code is interrupted at the limit; native code that ignores it
has its job failed and its worker process ended."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from service.core.config import Settings
from service.core.problems import problem

log = logging.getLogger(__name__)


class JobTimeLimitError(BaseException):
    """The job ran past ``job_time_limit_s``. Not an ``Exception``: no handler for faults in
    the analysis may take it for one (like ``KeyboardInterrupt``)."""


def time_limit_grace_s(limit_s: float) -> float:
    """How long past the limit native code that ignores it may run before its worker is ended."""
    return max(5.0, 0.1 * limit_s)


def over_time(settings: Settings) -> dict:
    return problem(422, "analysis-time-limit",
                   f"the analysis took longer than {settings.job_time_limit_s:g} s; "
                   "upload a shorter recording of the exam")  # fmt: skip


@contextmanager
def time_limit(settings: Settings, analysis_id: str, on_stuck: Callable[[], object]) -> Iterator[None]:
    """End the job at ``job_time_limit_s``: Python code gets ``JobTimeLimitError`` (SIGALRM); native
    code that does not return within the grace has ``on_stuck`` called (it fails the job) and its
    worker process ended (the pool is rebuilt; Celery replaces the process). Main thread only (signals)."""
    limit = settings.job_time_limit_s
    if limit <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    finished = threading.Event()

    def alarm(_signum, _frame):
        raise JobTimeLimitError

    def end_worker() -> None:
        if not finished.wait(limit + time_limit_grace_s(limit)):
            log.error("analysis %s: stuck past its time limit; ending the worker", analysis_id)
            on_stuck()
            os._exit(70)

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    threading.Thread(target=end_worker, daemon=True).start()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        finished.set()
