"""The /v1 job API: upload an exam video, follow the analysis, fetch the result and artifacts."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from starlette.datastructures import Headers
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable
from starlette.types import Receive, Scope, Send

from service.analyses import repository, service
from service.analyses.schemas import Accepted, AnalysisOut, AnalysisPage
from service.core.deps import Bearer, Conf, Db, Key
from service.core.openapi import GUARDED, problem_responses
from service.core.problems import ProblemError, problem_response
from vision.render.files import PLOTS
from vision.schema import SiteChoice

router = APIRouter(prefix="/v1", tags=["analyses"])

# The report page loads nothing from elsewhere, and is framed only where the settings allow.
_REPORT_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
               "img-src data:; media-src 'self'; frame-ancestors {ancestors}")  # fmt: skip
_FILE_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
                 "Referrer-Policy": "no-referrer"}  # fmt: skip


@router.post("/analyses", status_code=202, response_model=Accepted, name="create_analysis",
             responses=problem_responses(400, *GUARDED, 409, 413, 415, 422))  # fmt: skip
async def create_analysis(
    request: Request,
    response: Response,
    key: Key,
    settings: Conf,
    video: Annotated[UploadFile, File(description="The exam video (mp4, mov, webm, ...)")],
    site: Annotated[SiteChoice, Form()] = "auto",
    roi: Annotated[str | None, Form(max_length=100, description="x,y,w,h as fractions of the frame")] = None,
    callback_url: Annotated[str | None, Form(max_length=2000)] = None,
    subject: Annotated[
        str | None, Form(max_length=80, description="Opaque: Patient/<id>, never a name")
    ] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Accepted:
    """Upload an exam video; the analysis runs as a job."""
    if len((await request.form()).getlist("video")) > 1:  # parsed once: the form is cached
        raise ProblemError(422, "invalid-request", "send one video per analysis")
    await run_in_threadpool(service.check_form, settings, roi, callback_url, subject)
    row = service.new_row(key, site, roi, callback_url, idempotency_key, subject)
    video_sha256 = await service.store_checked(video, row.id, settings)
    kept = await run_in_threadpool(service.accept, settings, request.app.state.executor, row, video_sha256)
    _accepted_headers(response, kept.id)
    return Accepted(id=kept.id, status=kept.status)


def _accepted_headers(response: Response, analysis_id: str) -> None:
    response.headers["Location"] = f"/v1/analyses/{analysis_id}"
    response.headers["Retry-After"] = "2"


@router.get("/analyses/{analysis_id}", response_model=AnalysisOut, name="get_analysis",
            responses=problem_responses(*GUARDED, 404))  # fmt: skip
def get_analysis(analysis_id: str, key: Key, session: Db, settings: Conf) -> AnalysisOut:
    """Status, progress, and the result when it succeeded (or the problem when it failed)."""
    return service.to_out(repository.owned(session, key, analysis_id), settings)


@router.get("/analyses", response_model=AnalysisPage, name="list_analyses",
            responses=problem_responses(*GUARDED, 422))  # fmt: skip
def list_analyses(key: Key, session: Db, settings: Conf, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                  cursor: str | None = None) -> AnalysisPage:  # fmt: skip
    """The caller's analyses, newest first; pass ``next_cursor`` back as ``cursor``."""
    rows, more = repository.page(session, key, limit, cursor)
    return AnalysisPage(items=[service.to_out(r, settings) for r in rows],
                        next_cursor=rows[-1].id if more else None)  # fmt: skip


_FHIR_BUNDLE = {"application/fhir+json": {"schema": {
    "type": "object", "description": "A FHIR R4 Bundle (collection): Observations, a DiagnosticReport",
    "properties": {"resourceType": {"const": "Bundle"}}, "required": ["resourceType"]}}}  # fmt: skip


@router.get("/analyses/{analysis_id}/fhir", name="get_analysis_fhir", response_class=JSONResponse,
            responses={200: {"content": _FHIR_BUNDLE, "description": "The analysis for the chart."},
                       **problem_responses(*GUARDED, 404, 409)})  # fmt: skip
def get_analysis_fhir(
    request: Request, analysis_id: str, key: Key, session: Db, settings: Conf
) -> JSONResponse:
    """The analysis as a FHIR R4 Bundle: an Observation per finding (clonus present or absent,
    frequency, beats, sustained, grades, quality) and a DiagnosticReport that references them
    and the report page."""
    bundle = service.fhir_bundle(repository.owned(session, key, analysis_id), settings, str(request.base_url))
    return JSONResponse(bundle, media_type="application/fhir+json")


@router.delete("/analyses/{analysis_id}", status_code=204, name="delete_analysis",
               responses=problem_responses(*GUARDED, 404))  # fmt: skip
def delete_analysis(analysis_id: str, key: Key, session: Db, settings: Conf) -> Response:
    """Erase the video and every artifact."""
    service.erase_analysis(session, settings, repository.owned(session, key, analysis_id))
    return Response(status_code=204)


_FILE_PROBLEMS = problem_responses(400, *GUARDED, 403, 404, 416)


def _file_responses(media_type: str) -> dict:
    body = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"content": {media_type: body}, "description": "The file."},
            206: {"content": {media_type: body}, "description": "The requested byte range."},
            **_FILE_PROBLEMS}  # fmt: skip


Exp = Annotated[str | None, Query(description="Signed link: expiry (Unix time)")]
Sig = Annotated[str | None, Query(description="Signed link: signature")]


def _file(creds, session, settings, analysis_id: str, name: str, exp, sig) -> FileResponse:
    path, media_type = service.review_file(creds, session, settings, analysis_id, name, exp, sig)
    headers = dict(_FILE_HEADERS)
    if name == "report":
        headers["Content-Security-Policy"] = _REPORT_CSP.format(ancestors=settings.report_frame_ancestors)
    return ReviewFileResponse(path, media_type=media_type, headers=headers)


class ReviewFileResponse(FileResponse):
    """A review file, with range requests; a range it cannot serve is a problem (400, 416),
    not a bare text response."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wanted = Headers(scope=scope).get("range")
        if wanted and scope.get("method", "GET").upper() in ("GET", "HEAD"):
            size = os.stat(self.path).st_size
            try:
                self._parse_range_header(wanted, size)
            except MalformedRangeHeader:
                bad = problem_response(
                    400, "invalid-range", "the Range header is not a byte range this file has"
                )
                return await bad(scope, receive, send)
            except RangeNotSatisfiable:
                bad = problem_response(416, "range-not-satisfiable", f"the file has {size} bytes",
                                       headers={"Content-Range": f"bytes */{size}"})  # fmt: skip
                return await bad(scope, receive, send)
        await super().__call__(scope, receive, send)


@router.get(
    "/analyses/{analysis_id}/overlay.mp4",
    name="get_overlay",
    response_class=FileResponse,
    responses=_file_responses("video/mp4"),
)
def get_overlay(creds: Bearer, analysis_id: str, session: Db, settings: Conf, exp: Exp = None,
                sig: Sig = None) -> FileResponse:  # fmt: skip
    """The annotated, de-identified overlay video (range requests supported)."""
    return _file(creds, session, settings, analysis_id, "overlay", exp, sig)


@router.get(
    "/analyses/{analysis_id}/plots/{name}.png",
    name="get_plot",
    response_class=FileResponse,
    responses=_file_responses("image/png"),
)
def get_plot(creds: Bearer, analysis_id: str, name: str, session: Db, settings: Conf, exp: Exp = None,
             sig: Sig = None) -> FileResponse:  # fmt: skip
    """A plot: displacement, spectrum or spectrogram."""
    if name not in PLOTS:
        raise ProblemError(404, "not-found", "plots are displacement, spectrum and spectrogram")
    return _file(creds, session, settings, analysis_id, name, exp, sig)


@router.get(
    "/analyses/{analysis_id}/report",
    name="get_report",
    response_class=FileResponse,
    responses=_file_responses("text/html"),
)
def get_report(creds: Bearer, analysis_id: str, session: Db, settings: Conf, exp: Exp = None,
               sig: Sig = None) -> FileResponse:  # fmt: skip
    """The report page a clinician opens in a browser (with the API key, or the signed link
    from ``links.report``)."""
    return _file(creds, session, settings, analysis_id, "report", exp, sig)
