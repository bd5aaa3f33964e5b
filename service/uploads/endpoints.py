"""Resumable uploads (tus 1.0: core, creation, expiration, termination) at ``/v1/uploads``.

A phone on a network that drops creates the upload (``POST``, ``Upload-Length``, the form's
fields in ``Upload-Metadata``), sends the bytes in one or more ``PATCH``es, and after a cut asks
where it stands (``HEAD``) and goes on from there. The last byte makes it an analysis exactly
as a multipart upload does (same checks, same problems, same idempotency); the answer names it
in ``Analysis-Location``. TUSKit, tus-android-client, Uppy and tuspy speak this.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from email.utils import format_datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect

from service.core.db import Upload, aware
from service.core.deps import Conf, Key
from service.core.openapi import GUARDED, problem_responses
from service.core.problems import ProblemError, problem_response
from service.uploads import finish, store
from service.uploads.protocol import (
    OCTET_STREAM,
    TUS_EXTENSIONS,
    TUS_VERSION,
    fields_of,
    length_of,  # fmt: skip
    offset_of,
)


class TusRoute(APIRoute):
    """Every answer of these routes carries ``Tus-Resumable``, problems included."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def with_version(request: Request) -> Response:
            try:
                response = await handler(request)
            except RequestValidationError as exc:
                response = _protocol_problem(exc)
            except ProblemError as exc:
                response = problem_response(exc.status, exc.code, exc.detail, exc.headers)
            response.headers["Tus-Resumable"] = TUS_VERSION
            return response

        return with_version


def _protocol_problem(exc: RequestValidationError) -> Response:
    """tus's own statuses for its headers: 412 without ``Tus-Resumable: 1.0.0``, 400 for another
    header that is missing or malformed; 422 for the rest, as everywhere."""
    places = [tuple(e.get("loc", ())) for e in exc.errors()]
    if any(loc[:2] == ("header", "tus-resumable") for loc in places):
        return problem_response(412, "tus-version-mismatch", f"send Tus-Resumable: {TUS_VERSION}",
                                {"Tus-Version": TUS_VERSION})  # fmt: skip
    bad = ", ".join(str(loc[1]) for loc in places if loc[:1] == ("header",) and len(loc) > 1)
    if bad:
        return problem_response(400, "invalid-request", f"missing or malformed header: {bad}")
    errors = [
        {"loc": list(loc), "msg": e.get("msg", "")} for loc, e in zip(places, exc.errors(), strict=True)
    ]
    return problem_response(422, "invalid-request", "the request is not valid", errors=errors)


router = APIRouter(prefix="/v1/uploads", tags=["uploads"], route_class=TusRoute)
Resumable = Annotated[Literal["1.0.0"], Header(description="The tus version the client speaks")]
METADATA_DOC = (
    "tus metadata: `key base64(value)` pairs, comma-separated; keys site, roi, callback_url, "
    "subject, as in the multipart upload (filename, filetype ignored)"
)
_BYTES = {"schema": {"type": "string", "format": "binary"}}


def _state(row: Upload, received: int | None = None) -> dict[str, str]:
    expires = format_datetime(aware(row.expires_at).astimezone(UTC), usegmt=True)  # RFC 9110 date
    headers = {"Upload-Offset": str(row.received if received is None else received),
               "Upload-Length": str(row.length), "Cache-Control": "no-store",
               "Upload-Expires": expires}  # fmt: skip
    if row.analysis_id:
        headers["Analysis-Location"] = f"/v1/analyses/{row.analysis_id}"
    return headers


def _answer(status: int, description: str, *headers: str) -> dict:
    """A success without a body, and the headers it carries (documented for generated clients)."""
    documented = {h: {"schema": {"type": "string"}, "description": HEADER_DOCS[h]} for h in headers}
    return {status: {"description": description, "headers": documented}}


HEADER_DOCS = {
    "Location": "The upload's URL: HEAD, PATCH and DELETE it",
    "Upload-Offset": "Bytes stored so far: send the next ones from here",
    "Upload-Length": "The declared size",
    "Upload-Expires": "When an unfinished upload is erased (RFC 9110 date)",
    "Analysis-Location": "Once finished: the analysis it made",
    "Tus-Version": "1.0.0", "Tus-Extension": "creation,expiration,termination", "Tus-Max-Size": "Bytes",
}  # fmt: skip


@router.options("", status_code=204, name="upload_options", response_class=Response,
                responses={**_answer(204, "What it speaks", "Tus-Version", "Tus-Extension", "Tus-Max-Size"),
                           **problem_responses(*GUARDED)})  # fmt: skip
def upload_options(key: Key, settings: Conf) -> Response:
    """What this server speaks: tus version, extensions, the largest upload."""
    return Response(status_code=204, headers={"Tus-Version": TUS_VERSION, "Tus-Extension": TUS_EXTENSIONS,
                                              "Tus-Max-Size": str(settings.max_upload_bytes)})  # fmt: skip


@router.post("", status_code=201, name="create_upload", response_class=Response,
             responses={**_answer(201, "Created", "Location", "Upload-Offset", "Upload-Expires"),
                        **problem_responses(400, *GUARDED, 412, 413, 415, 422)})  # fmt: skip
async def create_upload(
    key: Key,
    settings: Conf,
    tus_resumable: Resumable,
    upload_length: Annotated[str, Header(pattern=r"^[0-9]{1,15}$", description="The video's size in bytes")],
    upload_metadata: Annotated[str | None, Header(max_length=4000, description=METADATA_DOC)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Create an upload; the size cap is checked from ``Upload-Length`` before a byte is sent,
    the fields before the video."""
    length = length_of(upload_length, settings.max_upload_bytes)
    fields = fields_of(upload_metadata)
    await finish.check_fields(settings, fields)
    row = await run_in_threadpool(store.create, settings, key, length, fields, idempotency_key)
    return Response(status_code=201, headers={"Location": f"/v1/uploads/{row.id}", **_state(row)})


@router.head("/{upload_id}", name="upload_offset", response_class=Response,
             responses={**_answer(200, "Where it stands", "Upload-Offset", "Upload-Length", "Upload-Expires",
                                  "Analysis-Location"), **problem_responses(*GUARDED, 404, 412)})  # fmt: skip
def upload_offset(upload_id: str, key: Key, settings: Conf, tus_resumable: Resumable) -> Response:
    """Where the upload stands (``Upload-Offset``); resume from there."""
    return Response(status_code=200, headers=_state(store.owned(settings, key, upload_id)))


@router.patch("/{upload_id}", status_code=204, name="append_upload", response_class=Response,
              openapi_extra={"requestBody": {"required": True, "content": {OCTET_STREAM: _BYTES}}},
              responses={**_answer(204, "Stored", "Upload-Offset", "Upload-Expires", "Analysis-Location"),
                         **problem_responses(400, *GUARDED, 404, 409, 412, 413, 415, 422)})  # fmt: skip
async def append_upload(
    request: Request,
    upload_id: str,
    key: Key,
    settings: Conf,
    tus_resumable: Resumable,
    upload_offset: Annotated[str, Header(pattern=r"^[0-9]{1,15}$", description="Where these bytes go")],
    content_type: Annotated[str | None, Header(description=OCTET_STREAM)] = None,
) -> Response:
    """Append bytes at ``Upload-Offset``. Bytes that came before a cut are kept. The last byte
    makes the analysis (``Analysis-Location``), or the problem a multipart upload would get."""
    if (content_type or "").split(";")[0].strip().lower() != OCTET_STREAM:
        raise ProblemError(415, "unsupported-media-type", f"send the bytes as {OCTET_STREAM}")
    offset = offset_of(upload_offset)
    row = await run_in_threadpool(store.owned, settings, key, upload_id)
    if row.analysis_id:  # finished already: say so again
        return Response(status_code=204, headers=_state(row))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and offset + int(declared) > row.length:
        raise ProblemError(413, "too-large", f"the upload was declared as {row.length} bytes")
    token = await run_in_threadpool(store.lock, settings, upload_id, offset)
    received = offset
    try:
        received = await finish.write(request, settings, row, offset, token)
        if received == row.length:
            row.analysis_id = await finish.to_analysis(request, settings, key, row)
    except ClientDisconnect:
        received = finish.stored_size(settings, row, offset)  # what came before the cut is kept
    finally:
        await run_in_threadpool(store.release, settings, upload_id, token, received)
    return Response(status_code=204, headers=_state(row, received))


@router.delete("/{upload_id}", status_code=204, name="terminate_upload", response_class=Response,
               responses={**_answer(204, "Erased"), **problem_responses(*GUARDED, 404, 412)})  # fmt: skip
def terminate_upload(upload_id: str, key: Key, settings: Conf, tus_resumable: Resumable) -> Response:
    """Abandon the upload: what it received is erased (an analysis it made stays)."""
    store.erase(settings, store.owned(settings, key, upload_id).id)
    return Response(status_code=204)
