"""Retention: videos and review files erased after ``retention_days``."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import select

from service.core.config import Settings
from service.core.db import ENDED, Analysis, session_for, utcnow
from service.core.storage import erase
from service.uploads import store as uploads

log = logging.getLogger(__name__)
SWEEP_EVERY_S = 3600


def purge_expired(settings: Settings) -> int:
    """Delete videos and artifacts older than the retention period; returns how many."""
    cutoff = utcnow() - timedelta(days=settings.retention_days)
    with session_for(settings) as s:
        old = (Analysis.created_at < cutoff) & Analysis.purged_at.is_(None) & Analysis.status.in_(ENDED)
        rows = s.scalars(select(Analysis).where(old)).all()
        for row in rows:
            erase(settings.data_dir, row.id)
            row.purged_at, row.result = utcnow(), None
        s.commit()
    return len(rows)


def retention_loop(settings: Settings, stop: threading.Event) -> None:
    """Sweep now and every ``SWEEP_EVERY_S`` (sooner where uploads expire sooner) until ``stop``:
    old analyses, and resumable uploads whose time ran out."""
    every_s = min(SWEEP_EVERY_S, max(1.0, settings.upload_expiry_s / 2))
    while True:
        try:
            purge_expired(settings)
            uploads.purge_expired(settings)
        except Exception as exc:
            log.error("retention sweep failed: %s", type(exc).__name__)
        if stop.wait(every_s):
            return
