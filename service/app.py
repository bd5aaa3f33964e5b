"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute

from vision.schema import SCHEMA_VERSION


def _operation_id(route: APIRoute) -> str:
    # Clean names for generated clients (mobile apps build theirs from the OpenAPI document).
    return route.name


def create_app() -> FastAPI:
    app = FastAPI(
        title="Clonus",
        summary="Measure clonus from a smartphone video of the exam.",
        version="0.1.0",
        generate_unique_id_function=_operation_id,
    )

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Alive."""
        return {"status": "ok", "schema_version": SCHEMA_VERSION}

    return app


app = create_app()
