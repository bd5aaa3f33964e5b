"""Resumable uploads kept between requests: the row (what was declared, how much has come) and
the bytes, in ``uploads/<id>`` under the data folder (readable by the service's user only).

One PATCH writes at a time: it takes the upload's lock (a token and a lease in the row, so it
holds across web servers), appends, and records the new offset; a PATCH cut off records what
it received, so that the client resumes from there."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from service.core.config import Settings
from service.core.db import ApiKey, Upload, aware, session_for, utcnow
from service.core.problems import ProblemError
from service.core.storage import CHUNK_BYTES

LEASE_S = 60.0  # a PATCH that stops renewing its lock (its server died) frees the upload after this


def part_path(data_dir: Path, upload_id: str) -> Path:
    return Path(data_dir) / "uploads" / upload_id


def create(settings: Settings, key: ApiKey, length: int, fields: dict, idempotency_key: str | None) -> Upload:
    """A new, empty upload of ``length`` bytes."""
    row = Upload(id=str(uuid.uuid4()), key_id=key.id, length=length, received=0, fields=fields,
                 idempotency_key=idempotency_key, created_at=utcnow(),
                 expires_at=utcnow() + timedelta(seconds=settings.upload_expiry_s))  # fmt: skip
    path = part_path(settings.data_dir, row.id)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    with session_for(settings) as s:
        s.add(row)
        s.commit()
        s.refresh(row)
        s.expunge(row)
    return row


def owned(settings: Settings, key: ApiKey, upload_id: str) -> Upload:
    """The caller's upload, not expired; a 404 problem otherwise."""
    with session_for(settings) as s:
        row = s.get(Upload, upload_id)
        if row is None or row.key_id != key.id or aware(row.expires_at) < utcnow():
            raise ProblemError(404, "not-found", "no such upload (or it expired)")
        s.expunge(row)
    return row


def lock(settings: Settings, upload_id: str, offset: int) -> str:
    """Take the upload's lock for a PATCH at ``offset``: a 409 problem where another PATCH writes
    or the offset is not where the upload stands."""
    token = str(uuid.uuid4())
    now = utcnow()
    free = (Upload.lock_token.is_(None)) | (Upload.locked_until < now)
    lease = {"lock_token": token, "locked_until": now + timedelta(seconds=LEASE_S)}
    with session_for(settings) as s:
        here = (Upload.id == upload_id) & (Upload.received == offset) & free
        taken = s.execute(update(Upload).where(here).values(**lease)).rowcount
        s.commit()
        if not taken:
            row = s.get(Upload, upload_id)
            stands = row.received if row else 0
            raise ProblemError(409, "offset-mismatch",
                               f"the upload stands at {stands} bytes (or another request is writing it)",
                               {"Upload-Offset": str(stands)})  # fmt: skip
    return token


def renew(settings: Settings, upload_id: str, token: str) -> None:
    with session_for(settings) as s:
        s.execute(update(Upload).where(Upload.id == upload_id, Upload.lock_token == token)
                  .values(locked_until=utcnow() + timedelta(seconds=LEASE_S)))  # fmt: skip
        s.commit()


def release(settings: Settings, upload_id: str, token: str, received: int) -> None:
    """Record what this PATCH stored, and free the upload."""
    with session_for(settings) as s:
        s.execute(update(Upload).where(Upload.id == upload_id, Upload.lock_token == token)
                  .values(received=received, lock_token=None, locked_until=None,
                          expires_at=utcnow() + timedelta(seconds=settings.upload_expiry_s)))  # fmt: skip
        s.commit()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def mark_done(settings: Settings, upload_id: str, analysis_id: str) -> None:
    with session_for(settings) as s:
        s.execute(update(Upload).where(Upload.id == upload_id).values(analysis_id=analysis_id))
        s.commit()


def erase(settings: Settings, upload_id: str) -> None:
    """The upload's bytes and row: gone."""
    part_path(settings.data_dir, upload_id).unlink(missing_ok=True)
    with session_for(settings) as s:
        s.execute(delete(Upload).where(Upload.id == upload_id))
        s.commit()


def purge_expired(settings: Settings) -> int:
    """Erase uploads whose time ran out (abandoned partial ones, and finished ones' records)."""
    with session_for(settings) as s:
        ids = s.scalars(select(Upload.id).where(Upload.expires_at < utcnow())).all()
    for upload_id in ids:
        erase(settings, upload_id)
    return len(ids)
