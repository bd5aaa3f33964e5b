"""The FastAPI application: the /v1 job API, health, readiness and metrics."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from fastapi.routing import APIRoute
from sqlalchemy import func, select, text

from service import problems
from service.api import job_counts, router
from service.config import Settings, get_settings
from service.db import Analysis, engine_for, migrate, session_factory, utcnow
from service.jobs import make_executor, recover
from service.storage import erase
from vision.schema import SCHEMA_VERSION

log = logging.getLogger(__name__)


def _operation_id(route: APIRoute) -> str:
    # Clean names for generated clients (mobile apps build theirs from the OpenAPI document).
    return route.name


def purge_expired(settings: Settings) -> int:
    """Delete videos and artifacts older than the retention period; returns how many."""
    cutoff = utcnow() - timedelta(days=settings.retention_days)
    with session_factory(settings.resolved_database_url)() as s:
        done = Analysis.status.in_(("succeeded", "failed"))
        old = (Analysis.created_at < cutoff) & Analysis.purged_at.is_(None) & done
        rows = s.scalars(select(Analysis).where(old)).all()
        for row in rows:
            erase(settings.data_dir, row.id)
            row.purged_at, row.result = utcnow(), None
        s.commit()
    return len(rows)


def _retention_loop(settings: Settings, stop: threading.Event) -> None:
    while True:
        try:
            purge_expired(settings)
        except Exception as exc:
            log.error("retention sweep failed: %s", type(exc).__name__)
        if stop.wait(3600):
            return


def create_app(settings: Settings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        s = app.state.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        migrate(s.resolved_database_url)
        app.state.executor = make_executor(s)
        recover(s, app.state.executor, all_running=s.executor != "celery")
        stop = threading.Event()
        threading.Thread(target=_retention_loop, args=(s, stop), daemon=True).start()
        yield
        stop.set()
        app.state.executor.shutdown()

    app = FastAPI(
        title="Clonus",
        summary="Measure clonus from a smartphone video of the exam.",
        version="0.1.0",
        generate_unique_id_function=_operation_id,
        lifespan=lifespan,
    )
    app.state.settings = settings or get_settings()
    problems.install(app)
    app.include_router(router)

    @app.get("/healthz", tags=["health"], name="healthz")
    def healthz() -> dict[str, str]:
        """Alive."""
        return {"status": "ok", "schema_version": SCHEMA_VERSION}

    @app.get("/readyz", tags=["health"], name="readyz")
    def readyz(request: Request):
        """Database, storage and workers reachable."""
        s: Settings = request.app.state.settings
        checks = {}
        try:
            with engine_for(s.resolved_database_url).connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception:
            checks["database"] = "unreachable"
        probe_file = s.data_dir / ".ready"
        try:
            probe_file.write_text("ok")
            probe_file.unlink()
            checks["storage"] = "ok"
        except OSError:
            checks["storage"] = "not writable"
        checks["workers"] = "ok" if request.app.state.executor.alive() else "unreachable"
        ok = all(v == "ok" for v in checks.values())
        if not ok:
            return problems.problem_response(503, "not-ready", "a dependency is unavailable", checks=checks)
        return {"status": "ready", "checks": checks}

    @app.get("/metrics", tags=["health"], name="metrics", response_class=PlainTextResponse)
    def metrics(request: Request) -> str:
        """Prometheus text format: jobs by status, analysis seconds, queue depth."""
        s: Settings = request.app.state.settings
        with session_factory(s.resolved_database_url)() as session:
            counts = job_counts(session)
            total, n = session.execute(select(func.coalesce(func.sum(Analysis.analysis_s), 0.0),
                                              func.count(Analysis.analysis_s))).one()  # fmt: skip
        lines = ["# HELP clonus_jobs Analyses by status.", "# TYPE clonus_jobs gauge"]
        lines += [f'clonus_jobs{{status="{st}"}} {counts.get(st, 0)}'
                  for st in ("queued", "running", "succeeded", "failed")]  # fmt: skip
        lines += ["# HELP clonus_analysis_seconds Time spent analyzing.",
                  "# TYPE clonus_analysis_seconds summary",
                  f"clonus_analysis_seconds_sum {float(total):.3f}", f"clonus_analysis_seconds_count {n}",
                  "# HELP clonus_queue_depth Jobs waiting for a worker.", "# TYPE clonus_queue_depth gauge",
                  f"clonus_queue_depth {request.app.state.executor.pending()}"]  # fmt: skip
        return "\n".join(lines) + "\n"

    return app


app = create_app()
