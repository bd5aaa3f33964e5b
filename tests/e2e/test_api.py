"""The job API on its embedded default: real SQLite (WAL), local storage, the in-process pool."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.analyses.job import job_time_limit
from service.app import create_app
from service.core.config import Settings
from service.core.db import Analysis, session_factory
from service.keys.service import create_key
from service.webhooks.delivery import verify
from tests.e2e.conftest import api_key, upload, wait_done, wait_running
from tests.paths import SAMPLES


def test_upload_runs_the_analysis_and_returns_the_result(env, client):
    headers, _ = api_key(env, "clinic")
    r = upload(client, headers)
    assert r.status_code == 202
    body = r.json()
    assert body["status"] == "queued"
    assert r.headers["location"] == f"/v1/analyses/{body['id']}" and int(r.headers["retry-after"]) > 0
    done = wait_done(client, headers, body["id"])
    truth = json.loads((SAMPLES / "ankle_clonus.truth.json").read_text())["truth"]
    assert done["status"] == "succeeded" and done["progress"] == 100
    assert done["result"]["clonus_detected"] is True
    assert abs(done["result"]["frequency_hz"] - truth["frequency_hz"]) < 0.1
    assert abs(done["result"]["beat_count"] - truth["beat_count"]) <= 1
    listed = client.get("/v1/analyses", headers=headers).json()
    assert [i["id"] for i in listed["items"]] == [body["id"]]
    metrics = client.get("/metrics").text
    assert 'clonus_jobs{status="succeeded"} 1' in metrics


def test_every_route_needs_a_key_and_keys_are_isolated(env, client):
    alice, _ = api_key(env, "alice")
    bob, _ = api_key(env, "bob")
    for bad in ({}, {"Authorization": "Bearer clk_wrong"}, {"Authorization": "Basic eDp5"}):
        r = client.get("/v1/analyses", headers=bad)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    analysis_id = upload(client, alice).json()["id"]
    for path in ("", "/overlay.mp4", "/report", "/plots/spectrum.png"):
        assert client.get(f"/v1/analyses/{analysis_id}{path}", headers=bob).status_code == 404
    assert client.delete(f"/v1/analyses/{analysis_id}", headers=bob).status_code == 404
    assert client.get("/v1/analyses", headers=bob).json()["items"] == []
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").json()["checks"] == {"database": "ok", "storage": "ok", "workers": "ok"}
    wait_done(client, alice, analysis_id)


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"", 415), (b"not a video at all" * 100, 415), (b"<html><script>x</script></html>", 415),
     (cv2.imencode(".jpg", np.full((120, 160, 3), 90, np.uint8))[1].tobytes(), 415),  # a photo
     (cv2.imencode(".png", np.full((120, 160, 3), 90, np.uint8))[1].tobytes(), 415)],
)  # fmt: skip
def test_non_video_is_415_and_nothing_is_kept(env, client, content, status):
    headers, _ = api_key(env, "clinic")
    r = client.post("/v1/analyses", headers=headers, files={"video": ("x.mp4", content, "video/mp4")})
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/analyses", headers=headers).json()["items"] == []
    assert not any((env.data_dir / "analyses").glob("*/video"))


def test_truncated_and_too_short_videos_are_422(env, client, clip_factory):
    headers, _ = api_key(env, "clinic")
    whole = (SAMPLES / "ankle_clonus.mp4").read_bytes()
    r = client.post("/v1/analyses", headers=headers,
                    files={"video": ("t.mp4", whole[: len(whole) // 2], "video/mp4")})  # fmt: skip
    assert r.status_code == 422, r.text
    short = clip_factory(frames=10)
    files = {"video": ("s.mp4", short.read_bytes(), "video/mp4")}
    r = client.post("/v1/analyses", headers=headers, files=files)
    assert r.status_code == 422 and r.json()["type"].endswith("video-too-short")


def test_upload_over_the_cap_is_413(env, monkeypatch):
    env.max_upload_bytes = 10_000
    headers, _ = api_key(env, "clinic")
    with TestClient(create_app(env)) as c:
        r = upload(c, headers)
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"


def test_bad_form_fields_are_422(env, client):
    headers, _ = api_key(env, "clinic")
    assert upload(client, headers, roi="1,2").status_code == 422
    assert upload(client, headers, site="elbow").status_code == 422
    assert upload(client, headers, callback_url="file:///etc/passwd").status_code == 422


def test_idempotency_key_returns_the_same_analysis(env, client):
    headers, _ = api_key(env, "clinic")
    first = upload(client, {**headers, "Idempotency-Key": "visit-42"}).json()["id"]
    second = upload(client, {**headers, "Idempotency-Key": "visit-42"}).json()["id"]
    assert first == second
    assert len(client.get("/v1/analyses", headers=headers).json()["items"]) == 1
    wait_done(client, headers, first)


def test_delete_erases_video_and_artifacts(env, client):
    headers, _ = api_key(env, "clinic")
    analysis_id = upload(client, headers).json()["id"]
    wait_done(client, headers, analysis_id)
    folder = env.data_dir / "analyses" / analysis_id
    assert (folder / "video").is_file() and (folder / "result.json").is_file()
    assert client.delete(f"/v1/analyses/{analysis_id}", headers=headers).status_code == 204
    assert not folder.exists()
    assert client.get(f"/v1/analyses/{analysis_id}", headers=headers).status_code == 404


def test_webhook_is_signed_and_verified(env, monkeypatch):
    # A receiver on this machine: a clinic's own network, allowed by its settings.
    for name, value in (("ALLOW_HTTP", "1"), ("ALLOW_PRIVATE_NETWORKS", "1"), ("POLL_S", "0.2")):
        monkeypatch.setenv(f"CLONUS_WEBHOOK_{name}", value)
    settings = Settings()
    headers, secret = api_key(settings, "clinic")
    got: list[tuple[dict, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204 if len(got) > 1 else 503)  # the first attempt fails: retried
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with TestClient(create_app(settings)) as client:
            url = f"http://127.0.0.1:{server.server_port}/hook"
            analysis_id = upload(client, headers, callback_url=url).json()["id"]
            wait_done(client, headers, analysis_id)
            deadline = time.monotonic() + 30
            while len(got) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(got) == 2
            report = json.loads(got[-1][1])["data"]["links"]["report"]
            page = client.get(report)  # the clinician's link, openable without the key
    finally:
        server.shutdown()
    hdrs, body = got[-1]
    assert verify(secret, hdrs, body)
    assert not verify(secret, hdrs, body.replace(b"succeeded", b"failed"))
    assert got[0][0]["webhook-id"] == hdrs["webhook-id"]  # one event, retried: the same id
    event = json.loads(body)
    assert event["type"] == "analysis.succeeded" and event["data"]["id"] == analysis_id
    assert report.startswith(f"/v1/analyses/{analysis_id}/report?exp=")
    assert page.status_code == 200 and "Clonus analysis" in page.text


def test_jobs_left_running_are_requeued_or_failed_at_start(env):
    headers, _ = api_key(env, "clinic")
    with TestClient(create_app(env)) as c:
        analysis_id = upload(c, headers).json()["id"]
        wait_done(c, headers, analysis_id)
    with session_factory(env.resolved_database_url)() as s:  # as if the server died mid-job
        s.get(Analysis, analysis_id).status = "running"
        s.get(Analysis, analysis_id).attempts = 1
        s.commit()
    with TestClient(create_app(env)) as c:
        done = wait_done(c, headers, analysis_id)
        assert done["status"] == "succeeded"
    with session_factory(env.resolved_database_url)() as s:
        row = s.get(Analysis, analysis_id)
        row.status, row.attempts = "running", env.max_attempts
        s.commit()
    with TestClient(create_app(env)) as c:
        done = wait_done(c, headers, analysis_id)
    assert done["status"] == "failed" and "interrupted" in done["error"]["detail"]


def test_a_worker_killed_mid_job_loses_nothing(env, client):
    headers, _ = api_key(env, "clinic")
    analysis_id = upload(client, headers, name="ankle_sustained.mp4").json()["id"]
    wait_running(client, headers, analysis_id)
    for child in multiprocessing.active_children():
        os.kill(child.pid, signal.SIGKILL)
    assert client.get("/healthz").status_code == 200  # the web process is unharmed
    done = wait_done(client, headers, analysis_id)
    assert done["status"] == "succeeded"


def test_the_pool_replaces_its_workers_and_keeps_taking_jobs(env, monkeypatch, clip_factory):
    """Issue 27.1: with CPython 3.11's own per-child limit the pool stopped after
    ``workers × max_tasks_per_child`` jobs; the rest stayed queued. And however the pool is
    recycled, no more than ``workers`` jobs run at once (``make load`` saw 10 on 2 workers)."""
    monkeypatch.setenv("CLONUS_MAX_TASKS_PER_CHILD", "2")
    settings = Settings()
    headers, _ = api_key(settings, "clinic")
    clip = clip_factory()
    with TestClient(create_app(settings)) as c:
        ids = []
        for i in range(7):
            with clip.open("rb") as f:
                r = c.post("/v1/analyses", headers=headers, files={"video": (f"v{i}.mp4", f, "video/mp4")})
            assert r.status_code == 202
            ids.append(r.json()["id"])
        most_running = 0
        deadline = time.monotonic() + 240
        while True:
            with session_factory(settings.resolved_database_url)() as s:
                statuses = [s.get(Analysis, i).status for i in ids]
            most_running = max(most_running, statuses.count("running"))
            if all(st in ("succeeded", "failed") for st in statuses):
                break
            assert time.monotonic() < deadline, statuses
            time.sleep(0.05)
        assert statuses == ["succeeded"] * 7 and most_running == 1
        assert c.get("/readyz").json()["checks"]["workers"] == "ok"
    with session_factory(settings.resolved_database_url)() as s:
        assert [s.get(Analysis, i).attempts for i in ids] == [1] * 7  # each ran exactly once


def test_a_job_past_its_time_limit_fails_clearly_and_the_worker_goes_on(env, monkeypatch):
    monkeypatch.setenv("CLONUS_JOB_TIME_LIMIT_S", "0.3")  # read by the spawned worker
    headers, _ = api_key(env, "clinic")
    with TestClient(create_app(env)) as c:
        for _ in range(2):  # the same worker takes the next job
            done = wait_done(c, headers, upload(c, headers).json()["id"])
            assert done["status"] == "failed", done
            assert done["error"]["status"] == 422 and done["error"]["type"].endswith("/analysis-time-limit")
            assert "longer than 0.3 s" in done["error"]["detail"]
        assert c.get("/healthz").status_code == 200


def test_an_unexpected_failure_finishes_the_job_naming_the_time_limit_if_it_caused_it(env, monkeypatch):
    from service.analyses import job as jobs

    with session_factory(env.resolved_database_url)() as s:
        key, _ = create_key(s, "clinic")
        rows = [Analysis(key_id=key.id, site="ankle") for _ in range(2)]
        s.add_all(rows)
        s.commit()
        ids = [row.id for row in rows]
    monkeypatch.setattr(jobs, "get_settings", lambda: env)

    def interrupted(*_args):  # the limit landing in a native module's initialisation
        try:
            raise jobs.JobTimeLimitError
        except jobs.JobTimeLimitError as exc:
            raise ImportError("initialization failed") from exc

    monkeypatch.setattr(jobs, "_analyze", interrupted)
    assert jobs.run_analysis(ids[0]) == "failed"
    monkeypatch.setattr(jobs, "_analyze", lambda *_args: 1 / 0)
    assert jobs.run_analysis(ids[1]) == "failed"
    with session_factory(env.resolved_database_url)() as s:
        timed_out, broken = (s.get(Analysis, i) for i in ids)
        assert timed_out.status == "failed" and timed_out.error["type"].endswith("/analysis-time-limit")
        assert broken.status == "failed" and broken.error["status"] == 500
        assert broken.error["type"].endswith("/analysis-failed") and "Zero" not in json.dumps(broken.error)


def _stuck_past_the_limit(database_url: str, analysis_id: str) -> None:
    """A job whose native code never returns to Python (SIGALRM is blocked)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    settings = Settings(database_url=database_url, job_time_limit_s=0.2)
    with job_time_limit(settings, analysis_id):
        time.sleep(60)


def test_a_job_stuck_in_native_code_is_failed_and_its_worker_ended(env, client):
    headers, _ = api_key(env, "clinic")
    analysis_id = upload(client, headers).json()["id"]
    wait_done(client, headers, analysis_id)
    child = multiprocessing.get_context("spawn").Process(
        target=_stuck_past_the_limit, args=(env.resolved_database_url, analysis_id)
    )
    t0 = time.monotonic()
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 70 and time.monotonic() - t0 < 20
    with session_factory(env.resolved_database_url)() as s:
        row = s.get(Analysis, analysis_id)
        assert row.status == "failed" and row.error["type"].endswith("/analysis-time-limit")


def test_retention_erases_old_videos_and_artifacts(env, client):
    from datetime import timedelta

    from service.analyses.retention import purge_expired
    from service.core.db import utcnow

    headers, _ = api_key(env, "clinic")
    old_id = upload(client, headers).json()["id"]
    new_id = upload(client, headers).json()["id"]
    wait_done(client, headers, old_id)
    wait_done(client, headers, new_id)
    with session_factory(env.resolved_database_url)() as s:
        s.get(Analysis, old_id).created_at = utcnow() - timedelta(days=env.retention_days + 1)
        s.commit()
    assert purge_expired(env) == 1
    assert not (env.data_dir / "analyses" / old_id).exists()
    assert (env.data_dir / "analyses" / new_id / "video").is_file()
    assert client.get(f"/v1/analyses/{old_id}", headers=headers).status_code == 404
    assert client.get(f"/v1/analyses/{new_id}", headers=headers).json()["status"] == "succeeded"
