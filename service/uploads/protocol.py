"""tus 1.0's headers, read strictly: a client that sends something else gets a problem that
says what (400, 413, 415), before anything is stored."""

from __future__ import annotations

import base64
import binascii

from service.core.problems import ProblemError

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,expiration,termination"
OCTET_STREAM = "application/offset+octet-stream"
FIELDS = {"site": 16, "roi": 100, "callback_url": 2000, "subject": 80}  # Upload-Metadata keys, longest


def _count(value: str | None, name: str) -> int:
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 15:
        raise ProblemError(400, "invalid-request", f"{name} is not a number of bytes")
    return int(value)


def length_of(value: str | None, max_bytes: int) -> int:
    """Upload-Length: required (no deferred length), within the cap; an empty file is no video."""
    length = _count(value, "Upload-Length")
    if length > max_bytes:
        raise ProblemError(413, "too-large", f"the upload exceeds {max_bytes} bytes")
    if length == 0:
        raise ProblemError(415, "not-a-video", "an empty file is not a video")
    return length


def offset_of(value: str | None) -> int:
    return _count(value, "Upload-Offset")


def fields_of(header: str | None) -> dict[str, str]:
    """The form's fields from Upload-Metadata (``key base64value`` pairs); others are ignored."""
    fields: dict[str, str] = {}
    for pair in (header or "").split(","):
        key, _, encoded = pair.strip().partition(" ")
        if key not in FIELDS:
            continue
        try:
            value = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ProblemError(400, "invalid-request", f"Upload-Metadata: {key} is not base64 UTF-8") from exc
        if len(value) > FIELDS[key]:
            raise ProblemError(422, "invalid-request", f"{key} is longer than {FIELDS[key]} characters")
        fields[key] = value
    fields.setdefault("site", "auto")
    return fields
