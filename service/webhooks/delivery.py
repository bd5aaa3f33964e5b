"""Webhooks signed the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature);
sent by ``service.webhooks.outbox``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time

log = logging.getLogger(__name__)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``id.timestamp.body`` with the key's secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance_s: int = 300) -> bool:
    ts = int(headers["webhook-timestamp"])
    if abs(time.time() - ts) > tolerance_s:
        return False
    expected = sign(secret, headers["webhook-id"], ts, body).split(",", 1)[1]
    given = headers["webhook-signature"].split()
    return any(hmac.compare_digest(expected, s.split(",", 1)[-1]) for s in given)
