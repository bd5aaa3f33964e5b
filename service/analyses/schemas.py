"""What the /v1 analyses routes accept and return (the result is the analysis library's own
schema, typed in the OpenAPI document)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from service.core.db import JobStatus
from service.core.problems import Problem
from vision.schema import AnalysisResult, SiteChoice


class Accepted(BaseModel):
    id: str
    status: JobStatus


class ReviewLinks(BaseModel):
    """Signed links to the review files that exist (relative to the API's base URL)."""

    model_config = ConfigDict(extra="forbid")  # one field per review file (links.ARTIFACTS)

    report: str | None = Field(None, description="The report page a clinician opens in a browser.")
    overlay: str | None = Field(None, description="The annotated, de-identified overlay video (mp4).")
    displacement: str | None = Field(None, description="Plot: the displacement over time (png).")
    spectrum: str | None = Field(None, description="Plot: the spectrum (png).")
    spectrogram: str | None = Field(None, description="Plot: the spectrogram (png).")


class AnalysisOut(BaseModel):
    id: str
    status: JobStatus
    progress: int = Field(ge=0, le=100, description="Percent done.")
    site: SiteChoice = Field(description="The site asked for at upload.")
    subject: str | None = Field(None, description="The opaque reference given at upload (Patient/<id>).")
    created_at: str = Field(description="ISO 8601, UTC.")
    result: AnalysisResult | None = Field(None, description="When the analysis succeeded.")
    error: Problem | None = Field(None, description="When the analysis failed: why.")
    links: ReviewLinks | None = Field(
        None,
        description="Signed links to the review files, valid for a while without the API key "
        "(open the report in a browser, embed it in a visit page).",
    )


class AnalysisPage(BaseModel):
    items: list[AnalysisOut]
    next_cursor: str | None
