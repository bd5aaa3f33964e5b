"""Signed, expiring links to one analysis's review files (report, overlay, plots).

A browser cannot send an API key when a clinician opens the report, so the API hands out links
that carry ``exp`` (Unix time) and ``sig`` (HMAC-SHA256 of the analysis id and ``exp``). A link
opens only that analysis's files, and only until it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from service.core.config import Settings
from service.core.storage import analysis_dir
from vision.render.files import OVERLAY, PLOTS, REPORT, plot_file


def _secret(settings: Settings) -> bytes:
    if settings.link_secret:
        return settings.link_secret.encode()
    return _kept_secret(Path(settings.data_dir).resolve())


@lru_cache(maxsize=8)
def _kept_secret(data_dir: Path) -> bytes:
    """The random key kept in the data folder, made on first use."""
    path = data_dir / "link.key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"link.key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        if not path.exists():
            tmp.replace(path)
        else:
            tmp.unlink()
    return path.read_text().strip().encode()


_EXP = re.compile(r"[0-9]{1,12}")  # ASCII digits: Unix time, well past any expiry we hand out
_SIG = re.compile(r"[0-9a-f]{64}")  # a hex SHA-256


def signature(settings: Settings, analysis_id: str, exp: int) -> str:
    return hmac.new(_secret(settings), f"{analysis_id}.{exp}".encode(), hashlib.sha256).hexdigest()


def sign(settings: Settings, analysis_id: str, now: float | None = None) -> dict[str, str]:
    """Query parameters that open this analysis's files for ``link_ttl_s``."""
    exp = int((now or time.time()) + settings.link_ttl_s)
    return {"exp": str(exp), "sig": signature(settings, analysis_id, exp)}


def verify(settings: Settings, analysis_id: str, exp: str | None, sig: str | None) -> bool:
    """Whether ``exp`` and ``sig`` are a link this server signed for the analysis, still valid.
    Anything else a client sends (other digits, huge numbers, other characters) is just False."""
    if not exp or not sig or not _EXP.fullmatch(exp) or not _SIG.fullmatch(sig) or int(exp) < time.time():
        return False
    return hmac.compare_digest(signature(settings, analysis_id, int(exp)), sig)


ARTIFACTS = {  # link name → (file in the analysis folder, route path, media type)
    "report": (REPORT, "report", "text/html; charset=utf-8"),
    "overlay": (OVERLAY, OVERLAY, "video/mp4"),
    **{name: (plot_file(name), f"plots/{plot_file(name)}", "image/png") for name in PLOTS},
}


def review_links(settings: Settings, analysis_id: str, status: str) -> dict[str, str] | None:
    """Signed links to the review files that exist, once the analysis succeeded."""
    if status != "succeeded":
        return None
    folder = analysis_dir(settings.data_dir, analysis_id)
    query = urlencode(sign(settings, analysis_id))
    return {name: f"/v1/analyses/{analysis_id}/{route}?{query}"
            for name, (file, route, _) in ARTIFACTS.items() if (folder / file).is_file()}  # fmt: skip
