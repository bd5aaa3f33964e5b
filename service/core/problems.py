"""RFC 9457 problem+json for every error: no bare 500, no traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from vision import errors as vision_errors
from vision.errors import NotAVideoError, NoVideoStreamError, UnsupportedCodecError, VisionError

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://clonus.dev/problems/"


class FieldError(BaseModel):
    loc: list[str | int] = Field(description='Where in the request: e.g. ["body", "site"].')
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem: every error response, and a failed analysis's ``error``."""

    type: str = Field(description=f"{TYPE_BASE}<code>; the codes are listed with each response.")
    title: str = Field(description="The code in words.")
    status: int = Field(description="The HTTP status (for a failed analysis: the one it stands for).")
    detail: str = Field(description="What went wrong, for a person.")
    errors: list[FieldError] | None = Field(None, description="invalid-request: each field's problem.")


class ProblemError(Exception):
    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def vision_problem(exc: VisionError) -> ProblemError:
    """The analysis library's error as a problem: a file that is not a video (or has no video
    track, or one in a codec it cannot decode) is 415, any other video it cannot take is 422."""
    status = 415 if isinstance(exc, NotAVideoError | NoVideoStreamError | UnsupportedCodecError) else 422
    return ProblemError(status, exc.code, exc.message)


def problem(status: int, code: str, detail: str) -> dict:
    """An RFC 9457 problem body (also stored as a failed job's ``error``)."""
    return {"type": f"{TYPE_BASE}{code}", "title": code.replace("-", " "),
            "status": status, "detail": detail}  # fmt: skip


def problem_response(status: int, code: str, detail: str, headers: dict[str, str] | None = None,
                     **extra) -> JSONResponse:  # fmt: skip
    body = {**problem(status, code, detail), **extra}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


_CODES = {400: "invalid-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
          405: "method-not-allowed", 409: "conflict", 413: "too-large", 415: "unsupported-media-type",
          416: "range-not-satisfiable", 422: "invalid-request", 503: "unavailable"}  # fmt: skip


# Every problem code the service sends, by status: what the OpenAPI document lists.
_SERVICE_CODES: dict[int, dict[str, str]] = {
    400: {"invalid-request": "the request is malformed (a header, the HTTP itself)",
          "invalid-range": "the Range header is not a byte range this file has"},
    401: {"unauthorized": "no API key, or not a valid one"},
    403: {"link-expired": "the signed link is invalid or has expired", "forbidden": "not allowed"},
    404: {"not-found": "no such analysis for this key, or no such file"},
    405: {"method-not-allowed": "the route does not take this method"},
    409: {"idempotency-conflict": "an upload with this Idempotency-Key was deleted meanwhile; retry",
          "analysis-not-finished": "the analysis is still queued or running",
          "offset-mismatch": "tus: Upload-Offset is not where the upload stands, or another PATCH writes"},
    412: {"tus-version-mismatch": "tus: Tus-Resumable is missing or not 1.0.0"},
    413: {"too-large": "the upload exceeds the size limit"},
    415: {"unsupported-media-type": "the upload is not a media type the service takes"},
    416: {"range-not-satisfiable": "the requested byte range is outside the file"},
    422: {"invalid-request": "a field is missing or not valid (see errors)",
          "invalid-roi": "roi is not x,y,w,h fractions of the frame",
          "invalid-callback-url": "the callback URL is refused by the webhook policy",
          "invalid-subject": "subject is not an opaque FHIR reference (Patient/<id>)",
          "invalid-cursor": "the cursor is not one this list handed out",
          "idempotency-key-reused": "this Idempotency-Key was used for another request",
          "analysis-time-limit": "a failed analysis: it ran past the time limit"},
    500: {"internal-error": "an unexpected error; nothing was lost",
          "analysis-failed": "a failed analysis: an unexpected error",
          "analysis-interrupted": "a failed analysis: its worker died too often"},
    503: {"busy": "the database is busy or unreachable; retry after Retry-After",
          "not-ready": "a dependency is unavailable", "unavailable": "the service is unavailable"},
}  # fmt: skip


def problem_codes() -> dict[int, dict[str, str]]:
    """status → {code: meaning}: the service's own codes and the analysis library's."""
    codes = {status: dict(named) for status, named in _SERVICE_CODES.items()}
    for err in vars(vision_errors).values():
        if isinstance(err, type) and issubclass(err, VisionError):
            status = vision_problem(err("")).status
            codes.setdefault(status, {})[err.code] = (err.__doc__ or "the video cannot be analyzed").strip()
    return codes


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_req: Request, exc: ProblemError):
        return problem_response(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException):
        return problem_response(exc.status_code, _CODES.get(exc.status_code, "error"), str(exc.detail),
                                getattr(exc, "headers", None))  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError):
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return problem_response(422, "invalid-request", "the request is not valid", errors=errors)

    @app.exception_handler(SQLAlchemyTimeoutError)  # no connection free in time
    @app.exception_handler(OperationalError)  # the database locked or unreachable
    async def _database_busy(_req: Request, exc: Exception):
        log.warning("database busy or unreachable: %s", type(exc).__name__)
        return problem_response(503, "busy", "the service is busy; retry in a moment", {"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception):
        log.error("unexpected error: %s", type(exc).__name__)
        return problem_response(500, "internal-error", "an unexpected error occurred; nothing was lost")
