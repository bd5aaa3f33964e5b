"""RFC 9457 problem+json for every error: no bare 500, no traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from vision.errors import NotAVideoError, NoVideoStreamError, UnsupportedCodecError, VisionError

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


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
    return {"type": f"https://clonus.dev/problems/{code}", "title": code.replace("-", " "),
            "status": status, "detail": detail}  # fmt: skip


def problem_response(status: int, code: str, detail: str, headers: dict[str, str] | None = None,
                     **extra) -> JSONResponse:  # fmt: skip
    body = {**problem(status, code, detail), **extra}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


_CODES = {400: "invalid-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
          405: "method-not-allowed", 409: "conflict", 413: "too-large", 415: "unsupported-media-type",
          416: "range-not-satisfiable", 422: "invalid-request", 503: "unavailable"}  # fmt: skip


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
