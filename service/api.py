"""The /v1 job API: upload an exam video, follow the analysis, fetch the result and artifacts."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import Analysis, ApiKey, session_factory, utcnow
from service.keys import find_key
from service.links import ARTIFACTS, review_links, verify
from service.problems import ProblemError
from service.storage import UploadTooLargeError, analysis_dir, erase, save_upload, video_path
from vision.errors import NotAVideoError, NoVideoStreamError, VisionError
from vision.pipeline import parse_roi
from vision.schema import SiteChoice
from vision.video.probe import probe

router = APIRouter(prefix="/v1", tags=["analyses"])
_bearer = HTTPBearer(auto_error=False)


class Accepted(BaseModel):
    id: str
    status: str


class AnalysisOut(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
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


def settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def session_dep(request: Request):
    with session_factory(request.app.state.settings.resolved_database_url)() as s:
        yield s


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _authenticate(session: Session, creds: HTTPAuthorizationCredentials | None, hint: str = "") -> ApiKey:
    key = find_key(session, creds.credentials) if creds else None
    if key is None:
        raise ProblemError(401, "unauthorized", f"send a valid API key as 'Authorization: Bearer KEY'{hint}",
                           {"WWW-Authenticate": "Bearer"})  # fmt: skip
    return key


def caller(creds: Bearer, session: Annotated[Session, Depends(session_dep)]) -> ApiKey:
    return _authenticate(session, creds)


def _out(row: Analysis, settings: Settings) -> AnalysisOut:
    return AnalysisOut(id=row.id, status=row.status, progress=row.progress, site=row.site,
                       created_at=row.created_at.isoformat(), result=row.result, error=row.error,
                       links=review_links(settings, row.id, row.status))  # fmt: skip


def _own(session: Session, key: ApiKey, analysis_id: str) -> Analysis:
    row = session.get(Analysis, analysis_id)
    if row is None or row.key_id != key.id or row.purged_at is not None:
        raise ProblemError(404, "not-found", "no such analysis")
    return row


Key = Annotated[ApiKey, Depends(caller)]
Db = Annotated[Session, Depends(session_dep)]
Conf = Annotated[Settings, Depends(settings_dep)]


@router.post("/analyses", status_code=202, response_model=Accepted, name="create_analysis",
             responses={413: {}, 415: {}, 422: {}})  # fmt: skip
async def create_analysis(
    request: Request,
    response: Response,
    key: Key,
    session: Db,
    settings: Conf,
    video: Annotated[UploadFile, File(description="The exam video (mp4, mov, webm, ...)")],
    site: Annotated[SiteChoice, Form()] = "auto",
    roi: Annotated[str | None, Form(description="x,y,w,h as fractions of the frame")] = None,
    callback_url: Annotated[str | None, Form()] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Accepted:
    """Upload an exam video; the analysis runs as a job."""
    if idempotency_key:
        same = (Analysis.key_id == key.id) & (Analysis.idempotency_key == idempotency_key)
        done = session.scalar(select(Analysis).where(same))
        if done is not None:
            _accepted_headers(response, done.id)
            return Accepted(id=done.id, status=done.status)
    if roi:
        try:
            parse_roi(roi)
        except VisionError as exc:
            raise ProblemError(422, "invalid-roi", exc.message) from exc
    if callback_url and not callback_url.startswith(("http://", "https://")):
        raise ProblemError(422, "invalid-callback-url", "callback_url must be an http(s) URL")
    row = Analysis(id=str(uuid.uuid4()), key_id=key.id, site=site, roi=roi, callback_url=callback_url,
                   idempotency_key=idempotency_key, status="queued", progress=0)  # fmt: skip
    try:
        await _store_checked(video, video_path(settings.data_dir, row.id), settings)
    except ProblemError:
        erase(settings.data_dir, row.id)  # a rejected upload leaves nothing behind
        raise
    session.add(row)
    session.commit()  # enqueued only after the commit
    request.app.state.executor.submit(row.id)
    _accepted_headers(response, row.id)
    return Accepted(id=row.id, status="queued")


async def _store_checked(video: UploadFile, dest: Path, settings: Settings) -> None:
    """Stream the upload to ``dest`` and probe it; a ProblemError (413/415/422) says why not."""
    try:
        await save_upload(video, dest, settings.max_upload_bytes)
    except UploadTooLargeError as exc:
        raise ProblemError(413, "too-large", f"the upload exceeds {settings.max_upload_bytes} bytes") from exc
    try:
        await asyncio.to_thread(probe, dest, settings.video_limits)
    except (NotAVideoError, NoVideoStreamError) as exc:
        raise ProblemError(415, exc.code, exc.message) from exc
    except VisionError as exc:
        raise ProblemError(422, exc.code, exc.message) from exc


def _accepted_headers(response: Response, analysis_id: str) -> None:
    response.headers["Location"] = f"/v1/analyses/{analysis_id}"
    response.headers["Retry-After"] = "2"


@router.get("/analyses/{analysis_id}", response_model=AnalysisOut, name="get_analysis")
def get_analysis(analysis_id: str, key: Key, session: Db, settings: Conf) -> AnalysisOut:
    """Status, progress, and the result when it succeeded (or the problem when it failed)."""
    return _out(_own(session, key, analysis_id), settings)


@router.get("/analyses", response_model=AnalysisPage, name="list_analyses")
def list_analyses(key: Key, session: Db, settings: Conf, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                  cursor: str | None = None) -> AnalysisPage:  # fmt: skip
    """The caller's analyses, newest first; pass ``next_cursor`` back as ``cursor``."""
    q = select(Analysis).where(Analysis.key_id == key.id, Analysis.purged_at.is_(None))
    if cursor:
        anchor = session.get(Analysis, cursor)
        if anchor is None or anchor.key_id != key.id:
            raise ProblemError(422, "invalid-cursor", "unknown cursor")
        q = q.where((Analysis.created_at < anchor.created_at)
                    | ((Analysis.created_at == anchor.created_at) & (Analysis.id < anchor.id)))  # fmt: skip
    rows = session.scalars(q.order_by(Analysis.created_at.desc(), Analysis.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return AnalysisPage(items=[_out(r, settings) for r in rows], next_cursor=rows[-1].id if more else None)


@router.delete("/analyses/{analysis_id}", status_code=204, name="delete_analysis")
def delete_analysis(analysis_id: str, key: Key, session: Db, settings: Conf) -> Response:
    """Erase the video and every artifact."""
    row = _own(session, key, analysis_id)
    erase(settings.data_dir, row.id)
    row.purged_at, row.result, row.error = utcnow(), None, None
    session.commit()
    return Response(status_code=204)


def _artifact_row(creds: HTTPAuthorizationCredentials | None, session: Session, settings: Settings,
                  analysis_id: str, exp: str | None, sig: str | None) -> Analysis:  # fmt: skip
    """The analysis, opened by a signed link or by the owner's API key."""
    if verify(settings, analysis_id, exp, sig):
        row = session.get(Analysis, analysis_id)
        if row is None or row.purged_at is not None:
            raise ProblemError(404, "not-found", "no such analysis")
        return row
    if exp or sig:
        raise ProblemError(403, "link-expired", "this link is invalid or has expired; ask for a new one")
    return _own(session, _authenticate(session, creds, " or use a signed link"), analysis_id)


def _artifact(creds: HTTPAuthorizationCredentials | None, session: Session, settings: Settings,
              analysis_id: str, name: str, exp: str | None, sig: str | None) -> FileResponse:  # fmt: skip
    row = _artifact_row(creds, session, settings, analysis_id, exp, sig)
    file, _, media_type = ARTIFACTS[name]
    path = analysis_dir(settings.data_dir, row.id) / file
    if row.status != "succeeded" or not path.is_file():
        raise ProblemError(404, "not-found", f"{file} is not available for this analysis")
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer"}  # fmt: skip
    if name == "report":  # the page loads nothing from elsewhere
        headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "img-src data:; media-src 'self'; frame-ancestors *"
        )
    return FileResponse(path, media_type=media_type, headers=headers)


Exp = Annotated[str | None, Query(description="Signed link: expiry (Unix time)")]
Sig = Annotated[str | None, Query(description="Signed link: signature")]


@router.get("/analyses/{analysis_id}/overlay.mp4", name="get_overlay", response_class=FileResponse)
def get_overlay(creds: Bearer, analysis_id: str, session: Db, settings: Conf, exp: Exp = None,
                sig: Sig = None) -> FileResponse:  # fmt: skip
    """The annotated, de-identified overlay video (range requests supported)."""
    return _artifact(creds, session, settings, analysis_id, "overlay", exp, sig)


@router.get("/analyses/{analysis_id}/plots/{name}.png", name="get_plot", response_class=FileResponse)
def get_plot(creds: Bearer, analysis_id: str, name: str, session: Db, settings: Conf, exp: Exp = None,
             sig: Sig = None) -> FileResponse:  # fmt: skip
    """A plot: displacement, spectrum or spectrogram."""
    if name not in ("displacement", "spectrum", "spectrogram"):
        raise ProblemError(404, "not-found", "plots are displacement, spectrum and spectrogram")
    return _artifact(creds, session, settings, analysis_id, name, exp, sig)


@router.get("/analyses/{analysis_id}/report", name="get_report", response_class=FileResponse)
def get_report(creds: Bearer, analysis_id: str, session: Db, settings: Conf, exp: Exp = None,
               sig: Sig = None) -> FileResponse:  # fmt: skip
    """The report page a clinician opens in a browser (with the API key, or the signed link
    from ``links.report``)."""
    return _artifact(creds, session, settings, analysis_id, "report", exp, sig)


def job_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Analysis.status, func.count()).group_by(Analysis.status)).all()
    return {status: n for status, n in rows}
