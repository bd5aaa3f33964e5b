"""The gate before an upload's body: the API key and the declared size are checked before a
byte is read, and the body is cut off at the cap, so that nobody fills the disk with uploads
that would be refused anyway (the multipart parser spools the whole body before any route or
dependency runs)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.core.config import Settings
from service.core.db import session_for
from service.core.deps import unauthorized
from service.core.problems import ProblemError, problem_response
from service.keys.service import find_key

UPLOAD_PATH = "/v1/analyses"
MULTIPART_SLACK_BYTES = 64 * 1024  # the form's other fields and the part headers


class UploadGate:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != UPLOAD_PATH:
            await self.app(scope, receive, send)
            return
        cap = self.settings.max_upload_bytes + MULTIPART_SLACK_BYTES
        try:
            await run_in_threadpool(self._check_key, _header(scope, b"authorization"))
            _check_declared_size(_header(scope, b"content-length"), cap, self.settings.max_upload_bytes)
        except ProblemError as exc:
            await _respond(exc, scope, receive, send)
            return
        await self._capped(scope, receive, send, cap)

    def _check_key(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        with session_for(self.settings) as s:
            if scheme.lower() != "bearer" or not token or find_key(s, token.strip()) is None:
                raise unauthorized()

    async def _capped(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        """The app reads the body through a counter; past ``cap`` it sees the client gone and
        the client gets a 413 (what the app would send after that is dropped)."""
        seen, cut = 0, False

        async def counted() -> Message:
            nonlocal seen, cut
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    cut = True
                    await _respond(_too_large(self.settings.max_upload_bytes), scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if not cut:
                await send(message)

        await self.app(scope, counted, guarded)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _too_large(max_bytes: int) -> ProblemError:
    return ProblemError(413, "too-large", f"the upload exceeds {max_bytes} bytes")


def _check_declared_size(content_length: str | None, cap: int, max_bytes: int) -> None:
    if content_length is None:
        return  # chunked: counted as it comes
    if not content_length.isascii() or not content_length.isdigit():
        raise ProblemError(400, "invalid-request", "Content-Length is not a number")
    if int(content_length) > cap:
        raise _too_large(max_bytes)


async def _respond(exc: ProblemError, scope: Scope, receive: Receive, send: Send) -> None:
    headers = {**(exc.headers or {}), "Connection": "close", "Cache-Control": "no-store"}
    response = problem_response(exc.status, exc.code, exc.detail, headers)
    await response(scope, receive, send)
