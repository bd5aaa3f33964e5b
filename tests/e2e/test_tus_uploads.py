"""Issue 28 item 2: resumable uploads (tus 1.0) with a real tus client (tuspy) against a real
server, a connection cut in the middle of a PATCH, and the finished upload an analysis exactly
like a multipart one."""

from __future__ import annotations

import base64
import socket
import time
from pathlib import Path

import httpx
import pytest
from tusclient import client as tus

from service.core.config import Settings
from service.uploads import store
from tests.e2e.conftest import api_key, upload, wait_done
from tests.e2e.test_faults_and_hostile_input import _server
from tests.paths import SAMPLES

VIDEO = SAMPLES / "ankle_sustained.mp4"
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}


@pytest.fixture
def live(env):
    headers, _ = api_key(env, "clinic")
    with _server() as (_, port), httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
        yield c, headers, env


def _uploader(c: httpx.Client, headers: dict, **kw):
    return tus.TusClient(f"http://127.0.0.1:{c.base_url.port}/v1/uploads", headers=headers).uploader(
        file_path=str(VIDEO), chunk_size=64 * 1024, **kw)  # fmt: skip


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _cut_patch(port: int, headers: dict, path: str, offset: int, body: bytes, rest: int, part: Path) -> None:
    """A PATCH that declares the whole ``rest`` but sends only ``body`` and drops the connection
    once the server has stored it (bytes still in the server's buffer when the connection
    drops are lost, as on a phone: the client resumes from the offset that was stored)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        lines = [
            f"PATCH {path} HTTP/1.1",
            "Host: 127.0.0.1",
            f"Authorization: {headers['Authorization']}",
            *(f"{k}: {v}" for k, v in OCTETS.items()),
            f"Upload-Offset: {offset}",
            f"Content-Length: {rest}",
        ]
        head = "\r\n".join(lines) + "\r\n\r\n"
        s.sendall(head.encode() + body)
        deadline = time.monotonic() + 30
        while not part.exists() or part.stat().st_size < offset + len(body):
            assert time.monotonic() < deadline, "the server never stored the bytes sent"
            time.sleep(0.05)
    # closed: the rest never comes


def _offset(c: httpx.Client, headers: dict, location: str) -> int:
    r = c.head(location, headers={**headers, **TUS})
    assert r.status_code == 200 and r.headers["Tus-Resumable"] == "1.0.0"
    return int(r.headers["Upload-Offset"])


def _settled_offset(c: httpx.Client, headers: dict, location: str, expected: int) -> int:
    """The offset once the server has seen the cut connection: until then the cut PATCH still
    holds the upload, and the offset is the one before it (a phone's client retries as well).
    Bytes the server lost would never show: the offset then stays short of ``expected``."""
    deadline = time.monotonic() + 30
    while (kept := _offset(c, headers, location)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return kept


def _analysis_of(c, headers, location: str) -> dict:
    r = c.head(location, headers={**headers, **TUS})
    return wait_done(c, headers, r.headers["Analysis-Location"].rsplit("/", 1)[1])


@pytest.mark.parametrize("cut_at", [0.3, 0.6, 0.99])
def test_a_cut_upload_resumes_and_gives_the_multipart_result(live, cut_at):
    c, headers, env = live
    size = VIDEO.stat().st_size
    first = _uploader(c, headers, metadata={"site": "ankle", "filename": VIDEO.name})
    first.upload(stop_at=int(size * cut_at) // 2)  # some chunks by the client
    location = _path(first.url)
    before = _offset(c, headers, location)
    assert 0 < before < size
    cut_to = int(size * cut_at)
    _cut_patch(
        c.base_url.port,
        headers,
        location,
        before,
        VIDEO.read_bytes()[before:cut_to],
        size - before,
        store.part_path(env.data_dir, location.rsplit("/", 1)[1]),
    )
    kept = _settled_offset(c, headers, location, cut_to)
    assert kept == cut_to  # what came before the cut is kept
    resumed = _uploader(c, headers, url=first.url)  # a new client run: asks where it stands
    assert resumed.offset == kept
    resumed.upload()
    assert _offset(c, headers, location) == size
    via_tus = _analysis_of(c, headers, location)
    via_form = wait_done(c, headers, upload(c, headers, name=VIDEO.name).json()["id"])
    assert via_tus["status"] == via_form["status"] == "succeeded"
    for field in ("clonus_detected", "frequency_hz", "beat_count", "sustained", "episodes"):
        assert via_tus["result"][field] == via_form["result"][field], field


def test_the_cap_is_checked_from_upload_length_before_any_byte(live):
    c, headers, env = live
    r = c.post("/v1/uploads", headers={**headers, **TUS, "Upload-Length": str(env.max_upload_bytes + 1)})
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert not list((env.data_dir / "uploads").glob("*")) if (env.data_dir / "uploads").exists() else True


@pytest.mark.parametrize(("extra", "status", "code"), [
    ({}, 412, "tus-version-mismatch"),
    ({**TUS}, 400, "invalid-request"),  # no Upload-Length
    ({**TUS, "Upload-Length": "12", "Upload-Metadata": "site Zm9v"}, 422, "invalid-request"),  # site foo
    ({**TUS, "Upload-Length": "12", "Upload-Metadata": "roi %%%"}, 400, "invalid-request"),
    ({**TUS, "Upload-Length": "12", "Upload-Metadata": "subject " + base64.b64encode(b"Jane Doe").decode()},
     422, "invalid-subject"),
    ({**TUS, "Upload-Length": "0"}, 415, "not-a-video"),
])  # fmt: skip
def test_creation_refuses_what_a_multipart_upload_would(live, extra, status, code):
    c, headers, _ = live
    r = c.post("/v1/uploads", headers={**headers, **extra})
    assert r.status_code == status, r.text
    assert r.json()["type"].endswith("/" + code)


def test_a_finished_upload_that_is_no_video_is_refused_and_kept_nowhere(live):
    c, headers, env = live
    body = b"this is not a video " * 100
    r = c.post("/v1/uploads", headers={**headers, **TUS, "Upload-Length": str(len(body))})
    location = r.headers["Location"]
    done = c.patch(location, content=body, headers={**headers, **OCTETS, "Upload-Offset": "0"})
    assert done.status_code == 415 and done.json()["type"].endswith("/not-a-video")
    assert c.head(location, headers={**headers, **TUS}).status_code == 404
    assert not list((env.data_dir / "analyses").glob("*")) if (env.data_dir / "analyses").exists() else True


def test_offsets_other_keys_and_termination(live):
    c, headers, env = live
    other, _ = api_key(env, "other-clinic")
    data = VIDEO.read_bytes()
    location = c.post("/v1/uploads", headers={**headers, **TUS, "Upload-Length": str(len(data))}).headers[
        "Location"
    ]
    patch = {**headers, **TUS, "Content-Type": "application/offset+octet-stream"}
    assert c.patch(location, content=data[:1000], headers={**patch, "Upload-Offset": "0"}).status_code == 204
    wrong = c.patch(location, content=data[1000:2000], headers={**patch, "Upload-Offset": "500"})
    assert wrong.status_code == 409 and wrong.headers["Upload-Offset"] == "1000"
    assert (
        c.patch(
            location,
            content=data[1000:],
            headers={**patch, "Upload-Offset": "1000", "Content-Type": "text/plain"},
        ).status_code
        == 415
    )
    too_much = c.patch(location, content=data[1000:] + b"x", headers={**patch, "Upload-Offset": "1000"})
    assert too_much.status_code == 413 and _offset(c, headers, location) == 1000
    assert c.head(location, headers={**other, **TUS}).status_code == 404  # another key sees nothing
    assert c.delete(location, headers={**other, **TUS}).status_code == 404
    assert c.delete(location, headers={**headers, **TUS}).status_code == 204
    assert c.head(location, headers={**headers, **TUS}).status_code == 404
    assert not store.part_path(env.data_dir, location.rsplit("/", 1)[1]).exists()


def test_idempotency_key_replays_like_multipart(live):
    c, headers, _ = live
    keyed = {**headers, "Idempotency-Key": "visit-7"}
    form = upload(c, keyed, name=VIDEO.name).json()["id"]
    up = _uploader(c, keyed, metadata={"site": "ankle"})
    up.upload()
    location = _path(up.url)
    head = c.head(location, headers={**headers, **TUS})
    assert head.headers["Analysis-Location"] == f"/v1/analyses/{form}"


def test_options_say_what_the_server_speaks(live):
    c, headers, env = live
    r = c.options("/v1/uploads", headers=headers)
    assert r.status_code == 204
    assert r.headers["Tus-Version"] == "1.0.0" and "termination" in r.headers["Tus-Extension"]
    assert int(r.headers["Tus-Max-Size"]) == env.max_upload_bytes
    assert c.options("/v1/uploads").status_code == 401


def test_abandoned_partial_uploads_are_erased_after_their_time(env, monkeypatch):
    monkeypatch.setenv("CLONUS_UPLOAD_EXPIRY_S", "0.5")
    settings = Settings()
    headers, _ = api_key(settings, "clinic")
    with _server() as (_, port), httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
        created = c.post("/v1/uploads", headers={**headers, **TUS, "Upload-Length": "5000"})
        location = created.headers["Location"]
        c.patch(location, content=b"x" * 100, headers={**headers, **OCTETS, "Upload-Offset": "0"})
        part = store.part_path(settings.data_dir, location.rsplit("/", 1)[1])
        assert part.exists()
        deadline = time.monotonic() + 10
        while part.exists():  # the server's own sweep (every half of the expiry here)
            assert time.monotonic() < deadline, "an abandoned upload was kept"
            time.sleep(0.2)
        assert c.head(location, headers={**headers, **TUS}).status_code == 404
