"""The webhook's payload, typed in the OpenAPI document (``webhooks``) as the API's own models."""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field

from service.analyses.schemas import AnalysisOut


class AnalysisEvent(BaseModel):
    """Sent to the upload's ``callback_url`` when its analysis ends, signed the Standard Webhooks
    way (headers ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``)."""

    type: Literal["analysis.succeeded", "analysis.failed"]
    timestamp: str = Field(description="When this was sent (ISO 8601, UTC).")
    data: AnalysisOut = Field(description="The analysis as GET /v1/analyses/{id} returns it.")


def document(app: FastAPI) -> None:
    """List the webhook in the OpenAPI document (it is sent by ``service.webhooks.outbox``)."""

    @app.webhooks.post("analysis-ended", name="analysis_ended")
    def analysis_ended(body: AnalysisEvent) -> None:
        """The analysis ended; answer 2xx (anything else is retried with backoff)."""
