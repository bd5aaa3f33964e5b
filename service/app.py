"""The FastAPI application: the /v1 job API, health, readiness and metrics."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from models.registry import configure as configure_models
from service.analyses.endpoints import router as analyses_router
from service.analyses.retention import retention_loop
from service.core import openapi, problems
from service.core.config import Settings, get_settings
from service.core.db import migrate
from service.core.headers import NoStore
from service.core.upload_gate import UploadGate
from service.health.endpoints import router as health_router
from service.uploads.endpoints import router as uploads_router
from service.webhooks import schemas as webhook_docs
from service.webhooks.outbox import outbox_loop
from service.worker.executors import make_executor
from service.worker.recovery import recover, recovery_loop


def _operation_id(route: APIRoute) -> str:
    # Clean names for generated clients (mobile apps build theirs from the OpenAPI document).
    return route.name


@asynccontextmanager
async def _lifespan(app: FastAPI):
    s: Settings = app.state.settings
    s.data_dir.mkdir(parents=True, exist_ok=True)
    configure_models(s.model_dir, download=s.model_download)
    migrate(s.resolved_database_url)
    app.state.executor = make_executor(s)
    recover(s, app.state.executor, all_running=s.executor != "celery")
    stop = threading.Event()
    threading.Thread(target=retention_loop, args=(s, stop), daemon=True).start()
    threading.Thread(target=outbox_loop, args=(s, stop), name="webhooks", daemon=True).start()
    threading.Thread(
        target=recovery_loop, args=(s, app.state.executor, stop), name="recovery", daemon=True
    ).start()
    yield
    stop.set()
    app.state.executor.shutdown()


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        title="Clonus",
        summary="Measure clonus from a smartphone video of the exam.",
        version="0.1.0",
        generate_unique_id_function=_operation_id,
        lifespan=_lifespan,
    )
    app.state.settings = settings or get_settings()
    problems.install(app)
    openapi.install(app)
    webhook_docs.document(app)
    app.add_middleware(UploadGate, settings=app.state.settings)
    app.add_middleware(NoStore)
    app.include_router(analyses_router)
    app.include_router(uploads_router)
    app.include_router(health_router)
    return app


app = create_app()
