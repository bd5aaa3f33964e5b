"""A PATCH's bytes to the upload's file, and the finished upload to an analysis."""

from __future__ import annotations

import asyncio
import os
import time

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from service.analyses import service
from service.core.config import Settings
from service.core.db import ApiKey, Upload
from service.core.problems import ProblemError
from service.core.storage import video_path
from service.uploads import store
from vision.schema import SITE_CHOICES

RENEW_S = 10.0  # a long PATCH renews its lock this often (its lease is store.LEASE_S)


async def check_fields(settings: Settings, fields: dict[str, str]) -> None:
    """The same checks as the multipart form's, at creation."""
    if fields["site"] not in SITE_CHOICES:
        raise ProblemError(422, "invalid-request", f"site is one of {', '.join(SITE_CHOICES)}")
    await run_in_threadpool(service.check_form, settings, fields.get("roi"), fields.get("callback_url"),
                            fields.get("subject"))  # fmt: skip


async def write(request: Request, settings: Settings, row: Upload, offset: int, token: str) -> int:
    """Append the body at ``offset`` (anything after it, from a cut write, is dropped first);
    the upload's size after. More bytes than declared: 413, and nothing of this PATCH kept."""
    received, renewed = offset, time.monotonic()
    try:
        f = store.part_path(settings.data_dir, row.id).open("r+b", buffering=0)  # on disk as it comes
    except FileNotFoundError as exc:  # terminated meanwhile
        raise ProblemError(404, "not-found", "no such upload (or it expired)") from exc
    with f:
        f.truncate(offset)
        f.seek(offset)
        async for chunk in request.stream():
            if received + len(chunk) > row.length:
                f.truncate(offset)
                raise ProblemError(413, "too-large", f"the upload was declared as {row.length} bytes")
            await asyncio.to_thread(f.write, chunk)
            received += len(chunk)
            if time.monotonic() - renewed > RENEW_S:
                await run_in_threadpool(store.renew, settings, row.id, token)
                renewed = time.monotonic()
    return received


def stored_size(settings: Settings, row: Upload, offset: int) -> int:
    """What a cut PATCH left in the file (whole chunks only: each is written at once)."""
    try:
        return min(store.part_path(settings.data_dir, row.id).stat().st_size, row.length)
    except FileNotFoundError:
        return offset


async def to_analysis(request: Request, settings: Settings, key: ApiKey, row: Upload) -> str:
    """The finished upload becomes an analysis, exactly as a multipart upload does; its id (an
    earlier one where the Idempotency-Key replays it). A video it cannot take: the problem, and
    the upload erased."""
    dest = video_path(settings.data_dir, row.id)
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.replace(store.part_path(settings.data_dir, row.id), dest)
    video_sha256 = await asyncio.to_thread(store.sha256_of, dest)
    try:
        await service.check_stored(row.id, settings)
    except ProblemError:
        await run_in_threadpool(store.erase, settings, row.id)
        raise
    f = row.fields
    new = service.new_row(key, f["site"], f.get("roi"), f.get("callback_url"), row.idempotency_key,
                          f.get("subject"), analysis_id=row.id)  # fmt: skip
    kept = await run_in_threadpool(service.accept, settings, request.app.state.executor, new, video_sha256)
    await run_in_threadpool(store.mark_done, settings, row.id, kept.id)
    return kept.id
