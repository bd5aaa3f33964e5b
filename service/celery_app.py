"""Celery for the scale-out path: ``celery -A service.celery_app worker``.

Redis broker, acks late with reject on worker loss, prefetch 1, a time limit, retries with
backoff for transient faults (database or broker unreachable). The job is ``run_analysis``.
"""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_ready
from sqlalchemy.exc import OperationalError

from service.config import get_settings
from service.jobs import run_analysis, time_limit_grace_s

_settings = get_settings()
celery = Celery("clonus", broker=_settings.redis_url)
celery.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # The job ends itself at job_time_limit_s (service.jobs._time_limit); this is the backstop.
    task_time_limit=_settings.job_time_limit_s + 2 * time_limit_grace_s(_settings.job_time_limit_s),
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": int(_settings.job_time_limit_s * 2)},
    worker_hijack_root_logger=False,
)


@celery.task(name="clonus.analyze", autoretry_for=(OperationalError, ConnectionError), retry_backoff=True,
             retry_backoff_max=60, max_retries=5)  # fmt: skip
def analyze_task(analysis_id: str) -> str:
    return run_analysis(analysis_id)


@worker_ready.connect
def _recover_on_start(**_kwargs) -> None:
    """A restarted worker re-queues jobs that a dead worker left running."""
    from service.db import migrate
    from service.jobs import CeleryExecutor, recover

    migrate(_settings.resolved_database_url)
    recover(_settings, CeleryExecutor(_settings), all_running=False)
