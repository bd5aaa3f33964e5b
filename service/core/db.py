"""Database: API keys and analyses (SQLite in WAL mode by default, PostgreSQL to scale out)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

if TYPE_CHECKING:
    from service.core.config import Settings

JobStatus = Literal["queued", "running", "succeeded", "failed"]
STATUSES: tuple[str, ...] = get_args(JobStatus)
ENDED = ("succeeded", "failed")  # a job in these states runs no more


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(when: datetime) -> datetime:
    """A stored time with its zone (SQLite gives them back without one; they are UTC)."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)  # sha256 hex
    webhook_secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Analysis(Base):
    __tablename__ = "analyses"
    __table_args__ = (Index("uq_analyses_key_idempotency", "key_id", "idempotency_key", unique=True),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    site: Mapped[str] = mapped_column(String(16), default="auto")
    roi: Mapped[str | None] = mapped_column(String(100), nullable=True)
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    subject: Mapped[str | None] = mapped_column(String(80), nullable=True)  # an opaque FHIR reference
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    payload_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)  # what the key was used for
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    analysis_s: Mapped[float | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Upload(Base):
    """A resumable (tus) upload: the bytes received so far are in ``uploads/<id>`` under the
    data folder; when all have come, it becomes an analysis (``analysis_id``)."""

    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    length: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes stored so far: the tus offset
    fields: Mapped[dict] = mapped_column(JSON)  # site, roi, callback_url, subject from Upload-Metadata
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    lock_token: Mapped[str | None] = mapped_column(String(36), nullable=True)  # a PATCH writing now
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    analysis_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class WebhookDelivery(Base):
    """One event to tell a client about, sent by the web servers' outbox (never by a worker).
    It holds no result: the payload is built from the analysis when it is sent."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    analysis_id: Mapped[str] = mapped_column(ForeignKey("analyses.id"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    gave_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the receiver's HTTP status


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@cache
def engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        eng = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, hide_parameters=True
        )
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # No statement's parameters (URLs, idempotency keys: a client's text) in errors or logs.
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


@cache
def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


def session_for(settings: Settings) -> Session:
    """A new session on the settings' database (use it as a context manager)."""
    return session_factory(settings.resolved_database_url)()


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema to an Alembic revision, the newest by default (both databases)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent.parent / "migrations"))
    cfg.attributes["engine"] = engine_for(url)
    command.upgrade(cfg, revision)
