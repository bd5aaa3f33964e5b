"""FastAPI dependencies: the settings, a database session, the caller's API key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.core.config import Settings
from service.core.db import ApiKey, session_for
from service.core.problems import ProblemError
from service.keys.service import find_key

_bearer = HTTPBearer(auto_error=False)


def settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def session_dep(request: Request) -> Iterator[Session]:
    with session_for(request.app.state.settings) as s:
        yield s


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
Db = Annotated[Session, Depends(session_dep)]
Conf = Annotated[Settings, Depends(settings_dep)]


def unauthorized(hint: str = "") -> ProblemError:
    return ProblemError(401, "unauthorized", f"send a valid API key as 'Authorization: Bearer KEY'{hint}",
                        {"WWW-Authenticate": "Bearer"})  # fmt: skip


def authenticate(session: Session, creds: HTTPAuthorizationCredentials | None, hint: str = "") -> ApiKey:
    """The caller's key; a 401 problem without a valid one."""
    key = find_key(session, creds.credentials) if creds else None
    if key is None:
        raise unauthorized(hint)
    return key


def caller(creds: Bearer, settings: Conf) -> ApiKey:
    """The caller's key, looked up on a session of its own that is closed at once: a route that
    streams an upload for minutes holds no database connection meanwhile."""
    with session_for(settings) as session:
        return authenticate(session, creds)


Key = Annotated[ApiKey, Depends(caller)]
