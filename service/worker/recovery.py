"""Jobs whose worker died: put back in the queue (or failed after ``max_attempts``)."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from service.core.config import Settings
from service.core.db import Analysis, session_for, utcnow

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from service.worker.executors import Executor


def silent_running(settings: Settings):
    """Jobs running but silent for ``stale_after_s``: their worker is presumed dead."""
    stale = utcnow() - timedelta(seconds=settings.stale_after_s)
    return (Analysis.status == "running") & (Analysis.updated_at < stale)


def requeue(settings: Settings, analysis_id: str) -> bool:
    """Put back in the queue one job whose worker died; False if it ended meanwhile."""
    with session_for(settings) as s:
        alive = (Analysis.id == analysis_id) & Analysis.purged_at.is_(None)
        s.execute(update(Analysis).where(alive, Analysis.status == "running").values(status="queued"))
        s.commit()
        return s.scalar(select(Analysis.status).where(alive)) == "queued"


def recover(settings: Settings, executor: Executor, all_running: bool) -> int:
    """Re-queue jobs left running by a dead worker and every queued job; returns how many.

    ``all_running``: the local pool died with its process, so none of its jobs is alive;
    otherwise only jobs silent for ``stale_after_s`` are presumed dead.
    """
    with session_for(settings) as s:
        cond = (Analysis.status == "running") if all_running else silent_running(settings)
        s.execute(update(Analysis).where(cond, Analysis.purged_at.is_(None)).values(status="queued"))
        s.commit()
        ids = s.scalars(select(Analysis.id).where(Analysis.status == "queued", Analysis.purged_at.is_(None))
                        .order_by(Analysis.created_at)).all()  # fmt: skip
    for analysis_id in ids:
        executor.submit(analysis_id)
    return len(ids)


def recover_silent(settings: Settings, executor: Executor) -> int:
    """Re-queue the running jobs whose lease lapsed (their worker died: killed, or its machine
    gone); returns how many. Run periodically, not only at start-up."""
    with session_for(settings) as s:
        ids = s.scalars(
            select(Analysis.id).where(silent_running(settings), Analysis.purged_at.is_(None))
        ).all()
    taken = []
    for analysis_id in ids:
        with session_for(settings) as s:
            this = (Analysis.id == analysis_id) & silent_running(settings)
            if s.execute(update(Analysis).where(this).values(status="queued")).rowcount:
                taken.append(analysis_id)
            s.commit()
    for analysis_id in taken:
        log.warning("analysis %s: its worker stopped renewing the lease; queued again", analysis_id)
        executor.submit(analysis_id)
    return len(taken)


def recovery_loop(settings: Settings, executor: Executor, stop: threading.Event) -> None:
    """``recover_silent`` every half ``stale_after_s`` until ``stop`` is set."""
    while not stop.wait(max(1.0, settings.stale_after_s / 2)):
        try:
            recover_silent(settings, executor)
        except Exception as exc:
            log.error("recovery sweep failed: %s", type(exc).__name__)
