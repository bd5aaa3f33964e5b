"""What the analyses routes do: accept an upload as a job, describe, erase, open review files."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from pathlib import Path
from urllib.parse import urljoin

from fastapi import UploadFile
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.analyses import fhir, repository
from service.analyses.links import ARTIFACTS, review_links, verify
from service.analyses.schemas import AnalysisOut
from service.core.config import Settings
from service.core.db import Analysis, ApiKey, aware, session_for, utcnow
from service.core.deps import authenticate
from service.core.problems import ProblemError, vision_problem
from service.core.storage import UploadTooLargeError, analysis_dir, erase, save_upload, video_path
from service.webhooks.policy import destination_problem
from vision.errors import VisionError
from vision.pipeline import parse_roi
from vision.video.probe import probe


def to_out(row: Analysis, settings: Settings) -> AnalysisOut:
    return AnalysisOut(id=row.id, status=row.status, progress=row.progress, site=row.site,
                       subject=row.subject, created_at=aware(row.created_at).isoformat(),
                       result=row.result, error=row.error,
                       links=review_links(settings, row.id, row.status))  # fmt: skip


SUBJECT = re.compile(r"Patient/[A-Za-z0-9\-.]{1,64}")  # a FHIR reference: opaque, never a name


def fhir_bundle(row: Analysis, settings: Settings, base_url: str) -> dict:
    """The finished analysis as a FHIR R4 Bundle; 409 while it is queued or running."""
    if row.status not in ("succeeded", "failed"):
        raise ProblemError(
            409, "analysis-not-finished", f"the analysis is {row.status}; ask again when it ends"
        )
    links = review_links(settings, row.id, row.status) or {}
    report_url = urljoin(base_url, links["report"]) if "report" in links else None
    return fhir.bundle(row.id, row.result, row.error, row.subject, aware(row.created_at), report_url)


def check_form(
    settings: Settings, roi: str | None, callback_url: str | None, subject: str | None = None
) -> None:
    """The form's fields, before the upload is stored (the callback's host may be resolved)."""
    if subject is not None and not SUBJECT.fullmatch(subject):
        raise ProblemError(
            422, "invalid-subject", "subject is a FHIR reference such as Patient/8e1f2a (an id, not a name)"
        )
    if roi:
        try:
            parse_roi(roi)
        except VisionError as exc:
            raise ProblemError(422, "invalid-roi", exc.message) from exc
    if callback_url and (why := destination_problem(callback_url, settings)):
        raise ProblemError(422, "invalid-callback-url", why)


async def store_checked(video: UploadFile, analysis_id: str, settings: Settings) -> str:
    """Stream the upload to the analysis's folder and probe it; returns the video's sha256. A
    ProblemError (413/415/422) says why not, and then nothing is kept."""
    dest = video_path(settings.data_dir, analysis_id)
    try:
        digest = await save_upload(video, dest, settings.max_upload_bytes)
    except UploadTooLargeError as exc:
        erase(settings.data_dir, analysis_id)
        raise ProblemError(413, "too-large", f"the upload exceeds {settings.max_upload_bytes} bytes") from exc
    await check_stored(analysis_id, settings)
    return digest


async def check_stored(analysis_id: str, settings: Settings) -> None:
    """Probe the stored video: a ProblemError (415/422) says why not, and then nothing is kept."""
    try:
        await asyncio.to_thread(probe, video_path(settings.data_dir, analysis_id), settings.video_limits)
    except VisionError as exc:
        erase(settings.data_dir, analysis_id)  # a rejected upload leaves nothing behind
        raise vision_problem(exc) from exc


def payload_digest(video_sha256: str, site: str, roi: str | None, callback_url: str | None,
                   subject: str | None = None) -> str:  # fmt: skip
    """What an idempotency key stands for: the video and the form's fields."""
    fields = json.dumps([video_sha256, site, roi, callback_url, *([subject] if subject else [])])
    return hashlib.sha256(fields.encode()).hexdigest()


def new_row(key: ApiKey, site: str, roi: str | None, callback_url: str | None, idempotency_key: str | None,
            subject: str | None = None, analysis_id: str | None = None) -> Analysis:  # fmt: skip
    return Analysis(id=analysis_id or str(uuid.uuid4()), key_id=key.id, site=site, roi=roi,
                    callback_url=callback_url, subject=subject, idempotency_key=idempotency_key,
                    status="queued", progress=0)  # fmt: skip


def accept(settings: Settings, executor, row: Analysis, video_sha256: str) -> Analysis:
    """The stored, checked upload's analysis, queued (or the one its Idempotency-Key made)."""
    row.payload_sha256 = payload_digest(video_sha256, row.site, row.roi, row.callback_url, row.subject)
    kept = insert_once(settings, row)
    if kept is row:
        executor.submit(row.id)  # enqueued only after the commit
    return kept


def insert_once(settings: Settings, row: Analysis) -> Analysis:
    """Insert the stored upload's row and return it; or, where its idempotency key was used
    already (the database's unique index decides, also between concurrent requests), erase
    this upload and return the analysis the key made: the same payload replays it, another
    is a 422 problem."""
    try:
        insert_or_erase(settings, row)
        return row
    except IntegrityError:
        if not row.idempotency_key:
            raise
    with session_for(settings) as s:
        first = repository.by_idempotency_key(s, row.key_id, row.idempotency_key)
    if first is None:  # deleted in between: its key was released
        raise ProblemError(409, "idempotency-conflict", "retry the request")
    if first.payload_sha256 != row.payload_sha256:
        raise ProblemError(
            422,
            "idempotency-key-reused",
            "this Idempotency-Key was used for another request; use a new key for a new upload",
        )
    return first


def insert_or_erase(settings: Settings, row: Analysis) -> None:
    """Insert the stored upload's row; where that fails, the upload is erased (no file is kept
    without its row, which only the row's deletion or retention would erase)."""
    try:
        with session_for(settings) as s:
            s.add(row)
            s.commit()
    except BaseException:
        erase(settings.data_dir, row.id)
        raise


def erase_analysis(session: Session, settings: Settings, row: Analysis) -> None:
    """Erase the video and every review file; the row keeps no result. The row is marked first,
    so that a job still running sees it and erases what it writes after this."""
    row.purged_at, row.result, row.error = utcnow(), None, None
    row.idempotency_key = None  # the key may make a new analysis: this one is gone
    session.commit()
    erase(settings.data_dir, row.id)


def review_file(
    creds: HTTPAuthorizationCredentials | None,
    session: Session,
    settings: Settings,
    analysis_id: str,
    name: str,
    exp: str | None,
    sig: str | None,
) -> tuple[Path, str]:
    """The review file ``name`` (a key of ``ARTIFACTS``) and its media type, opened by a signed
    link or by the owner's API key."""
    expired = ProblemError(403, "link-expired", "this link is invalid or has expired; ask for a new one")
    if verify(settings, analysis_id, exp, sig):
        row = repository.live(session, analysis_id)
        if session.get(ApiKey, row.key_id).revoked_at is not None:  # links die with their key
            raise expired
    elif exp or sig:
        raise expired
    else:
        row = repository.owned(session, authenticate(session, creds, " or use a signed link"), analysis_id)
    file, _, media_type = ARTIFACTS[name]
    path = analysis_dir(settings.data_dir, row.id) / file
    if row.status != "succeeded" or not path.is_file():
        raise ProblemError(404, "not-found", f"{file} is not available for this analysis")
    return path, media_type
