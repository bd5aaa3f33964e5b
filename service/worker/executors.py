"""The one job runner interface, and the executor the settings choose: the in-process pool
(embedded default) or Celery workers (scale-out)."""

from __future__ import annotations

from typing import Protocol

from service.core.config import Settings


class Executor(Protocol):
    def submit(self, analysis_id: str) -> None: ...
    def pending(self) -> int: ...
    def alive(self) -> bool: ...
    def shutdown(self) -> None: ...


def make_executor(settings: Settings) -> Executor:
    if settings.executor == "celery":
        from service.worker.celery_app import CeleryExecutor  # Celery is imported only to scale out

        return CeleryExecutor(settings)
    from service.worker.local import LocalExecutor

    return LocalExecutor(settings)
