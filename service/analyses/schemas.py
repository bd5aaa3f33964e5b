"""What the /v1 analyses routes accept and return."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from service.core.db import JobStatus


class Accepted(BaseModel):
    id: str
    status: str


class AnalysisOut(BaseModel):
    id: str
    status: JobStatus
    progress: int
    site: str
    created_at: str
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    links: dict[str, str] | None = Field(
        None,
        description="Signed links to the review files, valid for a while without the API key "
        "(open the report in a browser, embed it in a visit page).",
    )


class AnalysisPage(BaseModel):
    items: list[AnalysisOut]
    next_cursor: str | None
