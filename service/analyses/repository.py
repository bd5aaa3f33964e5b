"""Every query on analyses: the web routes', the jobs' and the operators'."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.core.db import Analysis, ApiKey
from service.core.problems import ProblemError


def owned(session: Session, key: ApiKey, analysis_id: str) -> Analysis:
    """The caller's analysis; a 404 problem for another's, a missing or an erased one."""
    row = session.get(Analysis, analysis_id)
    if row is None or row.key_id != key.id or row.purged_at is not None:
        raise ProblemError(404, "not-found", "no such analysis")
    return row


def live(session: Session, analysis_id: str) -> Analysis:
    """The analysis, whoever owns it (a signed link names it); 404 when missing or erased."""
    row = session.get(Analysis, analysis_id)
    if row is None or row.purged_at is not None:
        raise ProblemError(404, "not-found", "no such analysis")
    return row


def by_idempotency_key(session: Session, key_id: int, idempotency_key: str) -> Analysis | None:
    same = (Analysis.key_id == key_id) & (Analysis.idempotency_key == idempotency_key)
    return session.scalar(select(Analysis).where(same))


def page(session: Session, key: ApiKey, limit: int, cursor: str | None) -> tuple[list[Analysis], bool]:
    """The caller's analyses, newest first, after ``cursor``; and whether more follow."""
    q = select(Analysis).where(Analysis.key_id == key.id, Analysis.purged_at.is_(None))
    if cursor:
        anchor = session.get(Analysis, cursor)
        if anchor is None or anchor.key_id != key.id:
            raise ProblemError(422, "invalid-cursor", "unknown cursor")
        q = q.where((Analysis.created_at < anchor.created_at)
                    | ((Analysis.created_at == anchor.created_at) & (Analysis.id < anchor.id)))  # fmt: skip
    rows = session.scalars(q.order_by(Analysis.created_at.desc(), Analysis.id.desc()).limit(limit + 1)).all()
    return list(rows[:limit]), len(rows) > limit


def job_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Analysis.status, func.count()).group_by(Analysis.status)).all()
    return {status: n for status, n in rows}


def analysis_seconds(session: Session) -> tuple[float, int]:
    """Time spent analyzing, in all, and over how many analyses."""
    total, n = session.execute(select(func.coalesce(func.sum(Analysis.analysis_s), 0.0),
                                      func.count(Analysis.analysis_s))).one()  # fmt: skip
    return float(total), int(n)
