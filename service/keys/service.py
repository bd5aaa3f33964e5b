"""API keys: created once and shown once, stored as a SHA-256 hash, revocable."""

from __future__ import annotations

import base64
import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.db import ApiKey, utcnow

PREFIX = "clk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, name: str) -> tuple[ApiKey, str]:
    """A new key for ``name``; returns the row and the plain key (never stored)."""
    if session.scalar(select(ApiKey).where(ApiKey.name == name)) is not None:
        raise ValueError(f"a key named {name!r} exists; revoke it or choose another name")
    plain = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, key_hash=hash_key(plain),
                 webhook_secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())  # fmt: skip
    session.add(row)
    session.commit()
    return row, plain


def revoke_key(session: Session, name: str) -> bool:
    row = session.scalar(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))
    if row is None:
        return False
    row.revoked_at = utcnow()
    session.commit()
    return True


def find_key(session: Session, plain: str) -> ApiKey | None:
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plain)))
    return row if row is not None and row.revoked_at is None else None
