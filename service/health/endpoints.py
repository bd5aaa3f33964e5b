"""Health, readiness and metrics: for load balancers and Prometheus, no API key."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from service.analyses import repository
from service.core import problems
from service.core.config import Settings
from service.core.db import STATUSES, engine_for, session_for
from service.core.openapi import problem_responses
from vision.schema import SCHEMA_VERSION

router = APIRouter(tags=["health"])


@router.get("/healthz", name="healthz")
def healthz() -> dict[str, str]:
    """Alive."""
    return {"status": "ok", "schema_version": SCHEMA_VERSION}


@router.get("/readyz", name="readyz", responses=problem_responses(503))
def readyz(request: Request):
    """Database, storage and workers reachable."""
    s: Settings = request.app.state.settings
    checks = {"database": _database(s), "storage": _storage(s),
              "workers": "ok" if request.app.state.executor.alive() else "unreachable"}  # fmt: skip
    if not all(v == "ok" for v in checks.values()):
        return problems.problem_response(503, "not-ready", "a dependency is unavailable", checks=checks)
    return {"status": "ready", "checks": checks}


def _database(s: Settings) -> str:
    try:
        with engine_for(s.resolved_database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"
    except Exception:
        return "unreachable"


def _storage(s: Settings) -> str:
    probe_file = s.data_dir / f".ready-{uuid.uuid4().hex}"  # one per probe: probes run concurrently
    try:
        probe_file.write_text("ok")
        probe_file.unlink()
        return "ok"
    except OSError:
        return "not writable"


@router.get("/metrics", name="metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> str:
    """Prometheus text format: jobs by status, analysis seconds, queue depth."""
    with session_for(request.app.state.settings) as session:
        counts = repository.job_counts(session)
        total, n = repository.analysis_seconds(session)
    lines = ["# HELP clonus_jobs Analyses by status.", "# TYPE clonus_jobs gauge"]
    lines += [f'clonus_jobs{{status="{st}"}} {counts.get(st, 0)}' for st in STATUSES]
    lines += ["# HELP clonus_analysis_seconds Time spent analyzing.",
              "# TYPE clonus_analysis_seconds summary",
              f"clonus_analysis_seconds_sum {total:.3f}", f"clonus_analysis_seconds_count {n}",
              "# HELP clonus_queue_depth Jobs waiting for a worker.", "# TYPE clonus_queue_depth gauge",
              f"clonus_queue_depth {request.app.state.executor.pending()}"]  # fmt: skip
    return "\n".join(lines) + "\n"
