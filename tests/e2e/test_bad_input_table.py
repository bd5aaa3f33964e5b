"""Issue 27: a table of bad input (uploads, form fields, headers, routes, link parameters), each
answered with its specific 4xx as problem+json, nothing stored, and never a 500."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.core.config import Settings
from service.core.db import Analysis, session_for
from service.keys.service import create_key, revoke_key
from tests.conftest import audio_only_file, moving_square_clip
from tests.e2e.conftest import api_key
from tests.paths import SAMPLES

PROBLEM = "application/problem+json"
GOOD = (SAMPLES / "ankle_clonus.mp4").read_bytes()
NOBODY = "00000000-0000-0000-0000-000000000000"


def _image(ext: str) -> bytes:
    return cv2.imencode(ext, np.full((120, 160, 3), 90, np.uint8))[1].tobytes()


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("media")
    clip = moving_square_clip(d / "ok.mp4", frames=60, size=(160, 120)).read_bytes()
    holed = [i / 30 for i in range(45)] + [101.5 + i / 30 for i in range(45)]
    return {
        "truncated": clip[: len(clip) // 3],
        "header_only": clip[:200],
        "short": moving_square_clip(d / "short.mp4", frames=12).read_bytes(),
        "holed": moving_square_clip(d / "holed.mp4", times_s=holed, size=(96, 64)).read_bytes(),
        "audio": audio_only_file(d / "voice.m4a").read_bytes(),
        "three_s": moving_square_clip(d / "long.mp4", frames=90, size=(160, 120)).read_bytes(),
        "big_frames": moving_square_clip(d / "big.mp4", frames=40, size=(320, 240)).read_bytes(),
        "tiny_frames": moving_square_clip(d / "tiny.mp4", frames=60, size=(28, 20)).read_bytes(),
    }


def _video(content: bytes, name: str = "exam.mp4", **form) -> dict:
    return {"files": {"video": (name, content, "video/mp4")}, "data": {"site": "ankle", **form}}


def _form(**form) -> dict:
    return _video(GOOD, **form)


@dataclass(frozen=True)
class Case:
    status: int
    body: Callable[[dict], dict] | None = None  # the media → the request's form, files or JSON
    method: str = "POST"
    path: str = "/v1/analyses"
    who: str | dict = "key"  # "key", "none", "revoked", "small" (the app with small limits), or headers


POST = "/v1/analyses"
UPLOADS = {
    "empty file": Case(415, lambda m: _video(b"")),
    "text": Case(415, lambda m: _video(b"patient notes " * 100)),
    "html": Case(415, lambda m: _video(b"<html><script>x</script></html>")),
    "svg": Case(415, lambda m: _video(b'<svg xmlns="http://www.w3.org/2000/svg"/>')),
    "jpeg photo": Case(415, lambda m: _video(_image(".jpg"), "a.jpg")),
    "png image": Case(415, lambda m: _video(_image(".png"), "a.png")),
    "pdf": Case(415, lambda m: _video(b"%PDF-1.4\n" + b"0" * 2000)),
    "zip": Case(415, lambda m: _video(b"PK\x03\x04" + b"\x00" * 2000)),
    "random bytes": Case(415, lambda m: _video(np.random.default_rng(0).bytes(10_000))),
    "audio only": Case(415, lambda m: _video(m["audio"], "a.m4a")),
    "mp4 header only": Case(422, lambda m: _video(m["header_only"])),
    "truncated mp4": Case(422, lambda m: _video(m["truncated"])),
    "ftyp and garbage": Case(422, lambda m: _video(b"\x00\x00\x00\x18ftypisom" + b"\x07" * 3000)),
    "ebml and garbage": Case(422, lambda m: _video(b"\x1a\x45\xdf\xa3" + b"\x07" * 3000, "a.webm")),
    "under a second": Case(422, lambda m: _video(m["short"])),
    "a 100-s hole": Case(422, lambda m: _video(m["holed"])),
    "too long (limit 2 s)": Case(422, lambda m: _video(m["three_s"]), who="small"),
    "frames too large": Case(422, lambda m: _video(m["big_frames"]), who="small"),
    "frames of 28 x 20": Case(422, lambda m: _video(m["tiny_frames"])),
    "over the upload cap": Case(413, lambda m: _video(GOOD), who="small"),
}
PUBLIC = "93.184.216.34"  # never contacted: each of these is refused before any connection
FORMS = {
    "site elbow": Case(422, lambda m: _form(site="elbow")),
    "site with a space": Case(422, lambda m: _form(site=" ankle")),
    "site in capitals": Case(422, lambda m: _form(site="ANKLE")),
    "roi of two numbers": Case(422, lambda m: _form(roi="1,2")),
    "roi of words": Case(422, lambda m: _form(roi="a,b,c,d")),
    "roi past the frame": Case(422, lambda m: _form(roi="0.5,0.5,0.6,0.6")),
    "roi negative": Case(422, lambda m: _form(roi="-0.1,0,0.5,0.5")),
    "roi nan": Case(422, lambda m: _form(roi="nan,nan,nan,nan")),
    "roi empty box": Case(422, lambda m: _form(roi="0,0,0,0")),
    "roi over 100 chars": Case(422, lambda m: _form(roi="0.1," * 40 + "0.1")),
    "callback ftp": Case(422, lambda m: _form(callback_url=f"ftp://{PUBLIC}/")),
    "callback plain http": Case(422, lambda m: _form(callback_url=f"http://{PUBLIC}/h")),
    "callback cloud metadata": Case(422, lambda m: _form(callback_url="https://169.254.169.254/latest")),
    "callback loopback": Case(422, lambda m: _form(callback_url="https://127.0.0.1/")),
    "callback private": Case(422, lambda m: _form(callback_url="https://10.0.0.8/h")),
    "callback credentials": Case(422, lambda m: _form(callback_url=f"https://u:p@{PUBLIC}/")),
    "callback not a url": Case(422, lambda m: _form(callback_url="call me")),
    "callback over 2000 chars": Case(422, lambda m: _form(callback_url=f"https://{PUBLIC}/" + "a" * 2000)),
    "no video part": Case(422, lambda m: {"data": {"site": "ankle"}}),
    "video as a text field": Case(422, lambda m: {"data": {"site": "ankle", "video": "x"}}),
    "two video parts": Case(422, lambda m: {"files": [("video", ("a.mp4", GOOD, "video/mp4"))] * 2}),
    "json instead of a form": Case(422, lambda m: {"json": {"site": "ankle"}}),
    "multipart garbage": Case(
        400, lambda m: {"content": b"\0" * 1000}, who={"Content-Type": "multipart/form-data; boundary=x"}
    ),
    "multipart without a boundary": Case(
        400, lambda m: {"content": b"--x\r\n"}, who={"Content-Type": "multipart/form-data"}
    ),
    "idempotency key over 200 chars": Case(422, lambda m: _form(), who={"Idempotency-Key": "k" * 201}),
}
HEADERS = {
    "no key": Case(401, lambda m: _form(), who="none"),
    "basic auth": Case(401, lambda m: _form(), who={"Authorization": "Basic eDp5"}),
    "wrong key": Case(401, lambda m: _form(), who={"Authorization": "Bearer clk_wrong"}),
    "empty bearer": Case(401, lambda m: _form(), who={"Authorization": "Bearer "}),
    "revoked key": Case(401, lambda m: _form(), who="revoked"),
    "no key, list": Case(401, method="GET", who="none"),
    "no key, one": Case(401, method="GET", path=f"{POST}/{NOBODY}", who="none"),
    "no key, delete": Case(401, method="DELETE", path=f"{POST}/{NOBODY}", who="none"),
    "revoked key, list": Case(401, method="GET", who="revoked"),
}
ROUTES = {
    "unknown analysis": Case(404, method="GET", path=f"{POST}/{NOBODY}"),
    "another key's analysis": Case(404, method="GET", path=POST + "/{other}"),
    "delete another key's": Case(404, method="DELETE", path=POST + "/{other}"),
    "delete unknown": Case(404, method="DELETE", path=f"{POST}/{NOBODY}"),
    "report of a queued analysis": Case(404, method="GET", path=POST + "/{mine}/report"),
    "overlay of a queued analysis": Case(404, method="GET", path=POST + "/{mine}/overlay.mp4"),
    "unknown plot": Case(404, method="GET", path=POST + "/{mine}/plots/secrets.png"),
    "plot path traversal": Case(404, method="GET", path=POST + "/{mine}/plots/..%2F..%2Fvideo.png"),
    "limit 0": Case(422, method="GET", path=POST + "?limit=0"),
    "limit 1000": Case(422, method="GET", path=POST + "?limit=1000"),
    "limit not a number": Case(422, method="GET", path=POST + "?limit=ten"),
    "unknown cursor": Case(422, method="GET", path=f"{POST}?cursor={NOBODY}"),
    "another key's cursor": Case(422, method="GET", path=POST + "?cursor={other}"),
    "PUT on the collection": Case(405, method="PUT"),
    "unknown route": Case(404, method="GET", path="/v1/nothing"),
}
LINK_QUERIES = {
    "superscript digit": "exp=%C2%B2&sig=x",
    "5001-digit expiry": "exp=" + "9" * 5001 + "&sig=" + "a" * 64,
    "non-ASCII signature": "exp=9999999999&sig=%C3%A9" + "a" * 63,
    "forged signature": "exp=9999999999&sig=" + "a" * 64,
    "negative expiry": "exp=-1&sig=" + "a" * 64,
    "expired": "exp=1&sig=" + "a" * 64,
    "empty expiry": "exp=&sig=" + "a" * 64,
    "signature alone": "sig=" + "a" * 64,
    "expiry alone": "exp=9999999999",
}
LINKS = {
    f"link, {name}, {route}": Case(403, method="GET", path=POST + "/{mine}/" + f"{route}?{query}", who="none")
    for name, query in LINK_QUERIES.items()
    for route in ("report", "overlay.mp4", "plots/spectrum.png")
}
TABLE = {**UPLOADS, **FORMS, **HEADERS, **ROUTES, **LINKS}


def test_the_table_has_at_least_sixty_kinds():
    assert len(TABLE) >= 60


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One app (and a second with small limits) on one database, with a key, a revoked key,
    a queued analysis of this key and one of another key (rows only: no job runs)."""
    data = tmp_path_factory.mktemp("data")
    settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'clonus.db'}", workers=1)
    small = settings.model_copy(update={"max_upload_bytes": 20_000, "max_duration_s": 2.0,
                                        "max_frame_pixels": 200 * 150})  # fmt: skip
    with TestClient(create_app(settings)) as client, TestClient(create_app(small)) as small_client:
        headers, _ = api_key(settings, "clinic")
        revoked, _ = api_key(settings, "gone")
        with session_for(settings) as s:
            revoke_key(s, "gone")
            other_key, _ = create_key(s, "other")
            mine = Analysis(key_id=_key_id(s, "clinic"), site="ankle", status="queued", progress=0)
            other = Analysis(key_id=other_key.id, site="ankle", status="queued", progress=0)
            s.add_all([mine, other])
            s.commit()
            ids = {"mine": mine.id, "other": other.id}
        yield {"client": client, "small": small_client, "key": headers, "revoked": revoked, "ids": ids,
               "data": Path(data)}  # fmt: skip


def _key_id(session, name: str) -> int:
    from service.core.db import ApiKey

    return session.query(ApiKey).filter_by(name=name).one().id


@pytest.mark.parametrize("kind", list(TABLE))
def test_bad_input_gets_its_specific_4xx_and_nothing_is_kept(world, media, kind):
    case = TABLE[kind]
    kwargs = case.body(media) if case.body else {}
    client = world["small"] if case.who == "small" else world["client"]
    if isinstance(case.who, dict):  # extra headers; the key unless they name another
        headers = case.who if "Authorization" in case.who else {**world["key"], **case.who}
    else:
        headers = {"none": {}, "key": world["key"], "small": world["key"], "revoked": world["revoked"]}[
            case.who
        ]
    r = client.request(case.method, case.path.format(**world["ids"]), headers=headers, **kwargs)
    assert r.status_code == case.status, (kind, r.status_code, r.text[:300])
    assert r.headers["content-type"] == PROBLEM, (kind, r.headers["content-type"])
    assert r.json()["status"] == case.status and not r.json()["type"].endswith("/error")  # a specific code
    stored = list((world["data"] / "analyses").glob("*")) if (world["data"] / "analyses").exists() else []
    assert stored == [], f"{kind}: an upload was kept"
