"""The analysis job, and the executors that run it: an in-process pool of worker processes
(embedded default) or Celery workers (scale-out). Both run ``run_analysis``.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from datetime import timedelta
from typing import Protocol

from sqlalchemy import or_, select, update

from service.config import Settings, get_settings
from service.db import Analysis, ApiKey, session_factory, utcnow
from service.problems import problem
from service.storage import analysis_dir, video_path

log = logging.getLogger(__name__)
ANALYSIS_SHARE = 0.65  # of the job's progress; the overlay, plots and report take the rest


class JobTimeLimitError(BaseException):
    """The job ran past ``job_time_limit_s``. Not an ``Exception``: no handler for faults in
    the analysis may take it for one (like ``KeyboardInterrupt``)."""


def time_limit_grace_s(limit_s: float) -> float:
    """How long past the limit native code that ignores it may run before its worker is ended."""
    return max(5.0, 0.1 * limit_s)


def _over_time(settings: Settings) -> dict:
    return problem(422, "analysis-time-limit",
                   f"the analysis took longer than {settings.job_time_limit_s:g} s; "
                   "upload a shorter recording of the exam")  # fmt: skip


@contextmanager
def _time_limit(settings: Settings, analysis_id: str) -> Iterator[None]:
    """End the job at ``job_time_limit_s``: Python code gets ``JobTimeLimitError`` (SIGALRM); native
    code that does not return within the grace has its job failed and its worker process
    ended (the pool is rebuilt; Celery replaces the process). Main thread only (signals)."""
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
            _finish(settings, analysis_id, "failed", error=_over_time(settings))
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


def _silent_running(settings: Settings):
    """Jobs running but silent for ``stale_after_s``: their worker is presumed dead."""
    stale = utcnow() - timedelta(seconds=settings.stale_after_s)
    return (Analysis.status == "running") & (Analysis.updated_at < stale)


def _claim(settings: Settings, analysis_id: str) -> Analysis | None:
    """Mark the job running if it is queued (or running but silent: its worker died)."""
    with session_factory(settings.resolved_database_url)() as s:
        claimed = s.execute(
            update(Analysis)
            .where(Analysis.id == analysis_id, Analysis.purged_at.is_(None),
                   or_(Analysis.status == "queued", _silent_running(settings)))
            .values(status="running", attempts=Analysis.attempts + 1, updated_at=utcnow())
        ).rowcount  # fmt: skip
        s.commit()
        return s.get(Analysis, analysis_id) if claimed else None


def run_analysis(analysis_id: str) -> str:
    """Run one analysis job to its end; returns the final status (or "skipped")."""
    settings = get_settings()
    sessions = session_factory(settings.resolved_database_url)
    row = _claim(settings, analysis_id)
    if row is None:
        return "skipped"
    if row.attempts > settings.max_attempts:
        detail = f"the analysis was interrupted {row.attempts - 1} times"
        return _finish(settings, analysis_id, "failed", error=problem(500, "analysis-interrupted", detail))
    last = [0.0, 0]

    def progress(fraction: float) -> None:
        pct = int(5 + 90 * fraction)
        if pct > last[1] and (time.monotonic() - last[0] > 2.0 or pct - last[1] >= 10):
            last[:] = [time.monotonic(), pct]
            with sessions() as s:
                s.execute(update(Analysis).where(Analysis.id == analysis_id)
                          .values(progress=pct, updated_at=utcnow()))  # fmt: skip
                s.commit()

    try:
        _load_analysis()
        t0 = time.perf_counter()
        with _time_limit(settings, analysis_id):
            status, outcome = _analyze(settings, analysis_id, row, progress)
    except JobTimeLimitError:
        status, outcome = "failed", {"error": _over_time(settings)}
    except Exception as exc:  # never a traceback to the client; nothing identifying in the log
        status, outcome = "failed", {"error": _unexpected(settings, analysis_id, exc)}
    seconds = time.perf_counter() - t0 if status == "succeeded" else None
    return _finish(settings, analysis_id, status, seconds=seconds, **outcome)


# What a job imports, native modules included (scipy, OpenCV, PyAV, matplotlib's figures).
_ANALYSIS_MODULES = ("vision.pipeline", "vision.render.artifacts", "matplotlib.figure")


def _load_analysis() -> None:
    """Import the analysis and its review files before the job's clock starts: importing is the
    worker's start-up, not the job's, and a native module whose initialisation the time limit
    interrupts stays broken for every later job of that worker."""
    for name in _ANALYSIS_MODULES:
        importlib.import_module(name)


def _unexpected(settings: Settings, analysis_id: str, exc: Exception) -> dict:
    """The problem for an error the analysis did not expect. The time limit's own, when the
    limit was what raised it: native code it interrupts (a module's initialisation, a
    callback) may turn it into another error, which then names it as its cause."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, JobTimeLimitError):
            return _over_time(settings)
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    log.error("analysis %s failed: %s", analysis_id, type(exc).__name__)
    return problem(500, "analysis-failed", "the analysis failed unexpectedly")


def _analyze(settings: Settings, analysis_id: str, row: Analysis,
             progress: Callable[[float], None]) -> tuple[str, dict]:  # fmt: skip
    """The analysis and its review files: (status, the result or the error)."""
    from vision.errors import VisionError
    from vision.pipeline import analyze_video, parse_roi
    from vision.render.artifacts import write_artifacts

    source = video_path(settings.data_dir, analysis_id)
    try:
        analysis = analyze_video(source, site=row.site, roi=parse_roi(row.roi) if row.roi else None,
                                 limits=settings.video_limits,
                                 progress=lambda f: progress(ANALYSIS_SHARE * f))  # fmt: skip
        result = analysis.result.model_dump(mode="json")
        folder = analysis_dir(settings.data_dir, analysis_id)
        rest = 1 - ANALYSIS_SHARE
        try:
            write_artifacts(source, analysis, folder, deidentify=settings.deidentify,
                            subtitle=f"Analysis {analysis_id}",
                            progress=lambda f: progress(ANALYSIS_SHARE + rest * f))  # fmt: skip
        except Exception as exc:  # the result stands; the review files are missing (404)
            log.error("analysis %s: artifacts failed: %s", analysis_id, type(exc).__name__)
        return "succeeded", {"result": result}
    except VisionError as exc:
        return "failed", {"error": problem(422, exc.code, exc.message)}


def _finish(settings: Settings, analysis_id: str, status: str, *, result: dict | None = None,
            error: dict | None = None, seconds: float | None = None) -> str:  # fmt: skip
    with session_factory(settings.resolved_database_url)() as s:
        row = s.get(Analysis, analysis_id)
        row.status, row.result, row.error, row.analysis_s = status, result, error, seconds
        row.progress = 100 if status == "succeeded" else row.progress
        s.commit()
        callback = row.callback_url
        secret = s.get(ApiKey, row.key_id).webhook_secret
    if callback:
        from service.links import review_links
        from service.webhooks import deliver

        links = review_links(settings, analysis_id, status)
        data = {"id": analysis_id, "status": status, "result": result, "error": error, "links": links}
        payload = {"type": f"analysis.{status}", "timestamp": utcnow().isoformat(), "data": data}
        deliver(callback, secret, payload, attempts=settings.webhook_attempts,
                backoff_s=settings.webhook_backoff_s)  # fmt: skip
    return status


class Executor(Protocol):
    def submit(self, analysis_id: str) -> None: ...
    def pending(self) -> int: ...
    def alive(self) -> bool: ...
    def shutdown(self) -> None: ...


class LocalExecutor:
    """A pool of worker processes in the web server's own machine (the embedded default).

    Workers are recycled by generation: after ``workers × max_tasks_per_child`` jobs a fresh pool
    takes new jobs while the old one finishes those it holds and exits. (CPython 3.11's own
    ``max_tasks_per_child`` does not replace a worker that exits, so its pool stops.)
    A worker that crashes (a MediaPipe fault) breaks only its pool's jobs: the pool is rebuilt
    and each job it held is re-queued (or failed after ``max_attempts``).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._submitted = 0  # to the current pool
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        self._submitted = 0
        return ProcessPoolExecutor(self._settings.workers, mp_context=mp.get_context("spawn"))

    def _recycle_if_due(self) -> None:
        per_child = self._settings.max_tasks_per_child
        if per_child > 0 and self._submitted >= self._settings.workers * per_child:
            self._pool.shutdown(wait=False)  # it finishes the jobs it holds; then its workers exit
            self._pool = self._new_pool()

    def submit(self, analysis_id: str) -> None:
        with self._lock:
            self._recycle_if_due()
            self._pending.add(analysis_id)
            fut = self._pool.submit(run_analysis, analysis_id)
            self._submitted += 1
        fut.add_done_callback(lambda f, i=analysis_id: self._done(i, f))

    def _done(self, analysis_id: str, fut: Future) -> None:
        with self._lock:
            self._pending.discard(analysis_id)
            if not isinstance(fut.exception(), BrokenProcessPool):
                return
            if getattr(self._pool, "_broken", False):
                log.error("a worker process died; rebuilding the pool")
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
        # Each job of the dead pool comes here and is re-queued on its own: a job of a newer
        # generation is still running and must not run twice.
        threading.Thread(target=self._retry, args=(analysis_id,), daemon=True).start()

    def _retry(self, analysis_id: str) -> None:
        if requeue(self._settings, analysis_id):
            self.submit(analysis_id)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def alive(self) -> bool:
        return not getattr(self._pool, "_broken", False)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class CeleryExecutor:
    """Jobs go to Celery workers through Redis (scale-out)."""

    def __init__(self, settings: Settings) -> None:
        from service.celery_app import analyze_task, celery

        celery.conf.broker_url = settings.redis_url  # this app's settings, not the import-time ones
        self._celery, self._task = celery, analyze_task

    def submit(self, analysis_id: str) -> None:
        self._task.delay(analysis_id)

    def pending(self) -> int:
        try:
            with self._celery.connection_for_write() as conn:
                return int(conn.default_channel.client.llen("celery"))
        except Exception:
            return -1

    def alive(self) -> bool:
        try:
            with self._celery.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1)
            return True
        except Exception:
            return False

    def shutdown(self) -> None:
        pass


def make_executor(settings: Settings) -> Executor:
    return CeleryExecutor(settings) if settings.executor == "celery" else LocalExecutor(settings)


def requeue(settings: Settings, analysis_id: str) -> bool:
    """Put back in the queue one job whose worker died; False if it ended meanwhile."""
    with session_factory(settings.resolved_database_url)() as s:
        alive = (Analysis.id == analysis_id) & Analysis.purged_at.is_(None)
        s.execute(update(Analysis).where(alive, Analysis.status == "running").values(status="queued"))
        s.commit()
        return s.scalar(select(Analysis.status).where(alive)) == "queued"


def recover(settings: Settings, executor: Executor, all_running: bool) -> int:
    """Re-queue jobs left running by a dead worker and every queued job; returns how many.

    ``all_running``: the local pool died with its process, so none of its jobs is alive;
    otherwise only jobs silent for ``stale_after_s`` are presumed dead.
    """
    with session_factory(settings.resolved_database_url)() as s:
        cond = (Analysis.status == "running") if all_running else _silent_running(settings)
        s.execute(update(Analysis).where(cond, Analysis.purged_at.is_(None)).values(status="queued"))
        s.commit()
        ids = s.scalars(select(Analysis.id).where(Analysis.status == "queued", Analysis.purged_at.is_(None))
                        .order_by(Analysis.created_at)).all()  # fmt: skip
    for analysis_id in ids:
        executor.submit(analysis_id)
    return len(ids)
