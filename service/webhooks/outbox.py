"""The webhook outbox: a job's end is recorded as a delivery row in the same transaction, and
the web servers send due deliveries on their own thread, each attempt with a short timeout and
retried with backoff. A worker never waits on a client's server; a delivery is claimed before
it is sent, so that several web servers send each event once."""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from service.core.config import Settings
from service.core.db import Analysis, ApiKey, WebhookDelivery, session_for, utcnow
from service.webhooks.delivery import sign
from service.webhooks.policy import destination_problem

log = logging.getLogger(__name__)
BATCH = 20


def enqueue(session: Session, analysis_id: str) -> None:
    """Record that the analysis's end is to be told to its ``callback_url`` (commit with the end)."""
    session.add(WebhookDelivery(analysis_id=analysis_id))


def deliver_due(settings: Settings) -> int:
    """Send the deliveries that are due (each claimed first); returns how many were attempted."""
    now = utcnow()
    with session_for(settings) as s:
        due = s.scalars(select(WebhookDelivery.id).where(
            WebhookDelivery.delivered_at.is_(None), WebhookDelivery.gave_up_at.is_(None),
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
        ).order_by(WebhookDelivery.next_attempt_at).limit(BATCH)).all()  # fmt: skip
    sent = 0
    for delivery_id in due:
        if _claim(settings, delivery_id):
            _attempt(settings, delivery_id)
            sent += 1
    return sent


def _claim(settings: Settings, delivery_id: str) -> bool:
    now = utcnow()
    hold = now + timedelta(seconds=4 * settings.webhook_timeout_s + 5)
    with session_for(settings) as s:
        free = or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now)
        claimed = s.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, free)
                            .values(claimed_until=hold)).rowcount  # fmt: skip
        s.commit()
    return bool(claimed)


def _attempt(settings: Settings, delivery_id: str) -> None:
    """One attempt: the payload built from the analysis now (an erased analysis is not told)."""
    with session_for(settings) as s:
        delivery = s.get(WebhookDelivery, delivery_id)
        row = s.get(Analysis, delivery.analysis_id)
        if row is None or row.purged_at is not None or not row.callback_url:
            s.delete(delivery)
            s.commit()
            return
        secret = s.get(ApiKey, row.key_id).webhook_secret
        url, body = row.callback_url, _body(settings, row)
    refused = destination_problem(url, settings)
    status = None if refused else _post(url, secret, delivery_id, body, settings.webhook_timeout_s)
    _record(settings, delivery_id, status, refused)


def _body(settings: Settings, row: Analysis) -> bytes:
    """The payload: the analysis as GET returns it (``AnalysisEvent`` in the OpenAPI document)."""
    from service.analyses.service import to_out
    from service.webhooks.schemas import AnalysisEvent

    event = AnalysisEvent(type=f"analysis.{row.status}", timestamp=utcnow().isoformat(),
                          data=to_out(row, settings))  # fmt: skip
    return event.model_dump_json().encode()


def _post(url: str, secret: str, msg_id: str, body: bytes, timeout_s: float) -> int | None:
    """POST once; the receiver's status, or None where it could not be reached in time."""
    ts = int(time.time())
    req = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310 - checked by the policy
        "content-type": "application/json", "webhook-id": f"msg_{msg_id}", "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, f"msg_{msg_id}", ts, body)})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except Exception as exc:  # unreachable, refused, timed out: retried
        log.info("webhook attempt failed: %s", type(exc).__name__)
        return None


def _record(settings: Settings, delivery_id: str, status: int | None, refused: str | None) -> None:
    with session_for(settings) as s:
        d = s.get(WebhookDelivery, delivery_id)
        d.attempts, d.last_status, d.claimed_until = d.attempts + 1, status, None
        if status is not None and 200 <= status < 300:
            d.delivered_at = utcnow()
        elif refused or d.attempts >= settings.webhook_attempts:
            d.gave_up_at = utcnow()
            log.warning(
                "webhook given up after %d attempts%s", d.attempts, " (destination refused)" * bool(refused)
            )
        else:
            d.next_attempt_at = utcnow() + timedelta(
                seconds=settings.webhook_backoff_s * 2 ** (d.attempts - 1)
            )
        s.commit()


def outbox_loop(settings: Settings, stop: threading.Event) -> None:
    """Send due webhooks every ``webhook_poll_s`` until ``stop`` is set."""
    while not stop.wait(settings.webhook_poll_s):
        try:
            deliver_due(settings)
        except Exception as exc:
            log.error("webhook outbox failed: %s", type(exc).__name__)
