"""Webhooks signed the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.request
import uuid

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


def deliver(url: str, secret: str, payload: dict, *, attempts: int = 5, backoff_s: float = 1.0) -> bool:
    """POST the event, retrying with exponential backoff; True when the receiver took it (2xx)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    msg_id = "msg_" + uuid.uuid4().hex
    for attempt in range(attempts):
        ts = int(time.time())
        req = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310 - client's URL
            "content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(secret, msg_id, ts, body)})  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
                if 200 <= resp.status < 300:
                    return True
        except Exception as exc:  # network faults, 4xx/5xx: retried
            log.info("webhook attempt %d failed: %s", attempt + 1, type(exc).__name__)
        time.sleep(backoff_s * 2**attempt)
    log.warning("webhook given up after %d attempts", attempts)
    return False
