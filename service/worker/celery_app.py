"""Celery for the scale-out path: ``celery -A service.worker.celery_app worker``.

Redis broker, acks late with reject on worker loss, prefetch 1, a time limit, retries with
backoff for transient faults (database or broker unreachable). The job is ``run_analysis``.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from celery import Celery
from celery.signals import celeryd_init, worker_ready
from sqlalchemy.exc import OperationalError

from service.analyses.job import run_analysis
from service.core.config import Settings, get_settings
from service.core.native_log import capture_native_stderr
from service.worker.time_limit import time_limit_grace_s

log = logging.getLogger(__name__)
_settings = get_settings()
celery = Celery("clonus", broker=_settings.redis_url)
celery.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # The job ends itself at job_time_limit_s (service.worker.time_limit); this is the backstop.
    task_time_limit=_settings.job_time_limit_s + 2 * time_limit_grace_s(_settings.job_time_limit_s),
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": int(_settings.job_time_limit_s * 2)},
    worker_hijack_root_logger=False,
)


@celery.task(name="clonus.analyze", bind=True, autoretry_for=(OperationalError, ConnectionError),
             retry_backoff=True, retry_backoff_max=60, max_retries=5)  # fmt: skip
def analyze_task(self, analysis_id: str) -> str:
    status = run_analysis(analysis_id)
    if status == "busy":
        # Redelivered while the job runs under a live lease (the first delivery's process was
        # killed a moment ago, or still works): looked at again once a lapsed lease would show.
        raise self.retry(countdown=_settings.stale_after_s, max_retries=None)
    return status


WORKER_KEY = "clonus:workers:"  # + hostname: set while a worker lives (readiness)
WORKER_KEY_TTL_S = 15


@celeryd_init.connect
def _quiet_native(**_kwargs) -> None:
    """Before the worker sets up its logging and its pool: the native libraries' lines go to
    ``clonus.native``."""
    capture_native_stderr(verbose=_settings.native_logs)


@worker_ready.connect
def _on_start(sender=None, **_kwargs) -> None:
    """A started worker re-queues jobs that a dead worker left running, and says it is alive."""
    from service.core.db import migrate
    from service.worker.recovery import recover

    migrate(_settings.resolved_database_url)
    recover(_settings, CeleryExecutor(_settings), all_running=False)
    name = getattr(sender, "hostname", None) or "worker"
    threading.Thread(target=_announce, args=(name,), name="announce", daemon=True).start()


def _announce(name: str) -> None:
    """Keep this worker's key alive in Redis; it lapses within ``WORKER_KEY_TTL_S`` of its death."""
    client = redis.Redis.from_url(_settings.redis_url)
    while True:
        try:
            client.set(WORKER_KEY + name, "1", ex=WORKER_KEY_TTL_S)
        except redis.RedisError as exc:
            log.warning("worker key not renewed: %s", type(exc).__name__)
        time.sleep(WORKER_KEY_TTL_S / 3)


class CeleryExecutor:
    """Jobs go to Celery workers through Redis (scale-out)."""

    def __init__(self, settings: Settings) -> None:
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
        """The broker reachable and at least one worker alive."""
        try:
            with self._celery.connection_for_write() as conn:
                client = conn.default_channel.client
                return next(iter(client.scan_iter(WORKER_KEY + "*", count=100)), None) is not None
        except Exception:
            return False

    def shutdown(self) -> None:
        pass
