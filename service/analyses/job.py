"""The analysis job: claim it, run the analysis and write the review files, finish it and tell
the client. Both executors run ``run_analysis``."""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import or_, select, update

from models.registry import configure as configure_models
from service.core.config import Settings, get_settings
from service.core.db import Analysis, session_for, utcnow
from service.core.problems import problem
from service.core.storage import analysis_dir, erase, video_path
from service.webhooks.outbox import enqueue
from service.worker.recovery import silent_running
from service.worker.time_limit import JobTimeLimitError, over_time, time_limit

log = logging.getLogger(__name__)

ANALYSIS_SHARE = 0.65  # of the job's progress; the overlay, plots and report take the rest


def _claim(settings: Settings, analysis_id: str) -> Analysis | None:
    """Mark the job running if it is queued (or running but silent: its worker died)."""
    with session_for(settings) as s:
        claimed = s.execute(
            update(Analysis)
            .where(Analysis.id == analysis_id, Analysis.purged_at.is_(None),
                   or_(Analysis.status == "queued", silent_running(settings)))
            .values(status="running", attempts=Analysis.attempts + 1, updated_at=utcnow())
        ).rowcount  # fmt: skip
        s.commit()
        return s.get(Analysis, analysis_id) if claimed else None


def _leased(settings: Settings, analysis_id: str) -> bool:
    """Whether the job is running under a live lease (another worker has it)."""
    with session_for(settings) as s:
        live = (Analysis.id == analysis_id) & (Analysis.status == "running") & ~silent_running(settings)
        return s.scalar(select(Analysis.id).where(live)) is not None


def _touch(settings: Settings, analysis_id: str, **values: object) -> None:
    """Renew the running job's lease (its ``updated_at``), with any other fields it reports."""
    with session_for(settings) as s:
        s.execute(update(Analysis).where(Analysis.id == analysis_id, Analysis.status == "running")
                  .values(updated_at=utcnow(), **values))  # fmt: skip
        s.commit()


@contextmanager
def _lease(settings: Settings, analysis_id: str) -> Iterator[None]:
    """Renew the job's lease (its ``updated_at``) every ``lease_renew_s`` while it runs: a job
    whose lease lapses for ``stale_after_s`` is taken for abandoned and queued again."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(settings.lease_renew_s):
            try:
                _touch(settings, analysis_id)
            except Exception as exc:  # the database away for a moment: the next renewal may do
                log.warning("analysis %s: lease not renewed: %s", analysis_id, type(exc).__name__)

    renewer = threading.Thread(target=renew, name="lease", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join(timeout=10)


def job_time_limit(settings: Settings, analysis_id: str) -> AbstractContextManager[None]:
    """The job's time limit; a job stuck in native code past it is failed before its worker ends."""
    return time_limit(settings, analysis_id, on_stuck=lambda: _finish(settings, analysis_id, "failed",
                                                                      error=over_time(settings)))  # fmt: skip


def run_analysis(analysis_id: str) -> str:
    """Run one analysis job to its end; returns the final status (or "skipped")."""
    settings = get_settings()
    configure_models(settings.model_dir, download=settings.model_download)
    row = _claim(settings, analysis_id)
    if row is None:
        return "busy" if _leased(settings, analysis_id) else "skipped"
    if row.attempts > settings.max_attempts:
        detail = f"the analysis was interrupted {row.attempts - 1} times"
        return _finish(settings, analysis_id, "failed", error=problem(500, "analysis-interrupted", detail))
    last = [0.0, 0]

    def progress(fraction: float) -> None:
        pct = int(5 + 90 * fraction)
        if pct > last[1] and (time.monotonic() - last[0] > 2.0 or pct - last[1] >= 10):
            last[:] = [time.monotonic(), pct]
            _touch(settings, analysis_id, progress=pct)

    try:
        _load_analysis()
        t0 = time.perf_counter()
        with job_time_limit(settings, analysis_id), _lease(settings, analysis_id):
            status, outcome = _analyze(settings, analysis_id, row, progress)
    except JobTimeLimitError:
        status, outcome = "failed", {"error": over_time(settings)}
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
            return over_time(settings)
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
    """Record the job's end and, in the same transaction, the webhook that tells the client
    (sent by the web servers' outbox, not here). A job deleted while it ran keeps nothing: no
    result, no file (what it wrote after the deletion is erased), no webhook."""
    values = {"status": status, "result": result, "error": error, "analysis_s": seconds}
    if status == "succeeded":
        values["progress"] = 100
    with session_for(settings) as s:
        this = Analysis.id == analysis_id
        kept = s.execute(update(Analysis).where(this, Analysis.purged_at.is_(None)).values(**values)).rowcount
        if not kept:
            s.execute(update(Analysis).where(this).values(status=status, result=None, error=None))
        elif s.get(Analysis, analysis_id).callback_url:
            enqueue(s, analysis_id)
        s.commit()
    if not kept:
        erase(settings.data_dir, analysis_id)
    return status
