"""Where the server may send a webhook: https to a public address, unless the settings allow
http or a clinic's own network. Checked when the URL is given and again before each attempt
(a name may resolve elsewhere later)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from service.core.config import Settings


def destination_problem(url: str, settings: Settings) -> str | None:
    """Why the server must not send to ``url``, or None where it may."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "callback_url is not a valid URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "callback_url must be an https URL"
    if parts.scheme == "http" and not settings.webhook_allow_http:
        return "callback_url must be https (this server does not send webhooks over plain http)"
    if parts.username or parts.password:
        return "callback_url must not carry credentials"
    if settings.webhook_allow_private_networks:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return f"callback_url's host {parts.hostname!r} cannot be resolved"
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if not address.is_global or address.is_multicast:
            return "callback_url points into a private, loopback or link-local network, which is not allowed"
    return None
