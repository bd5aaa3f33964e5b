"""The scale-out path for real: PostgreSQL (127.0.0.1:5432), Redis (127.0.0.1:6379) and a
Celery worker that the test starts; a worker killed mid-job is recovered by the next one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import text

from service.app import create_app
from service.core.config import Settings
from service.core.db import Analysis, engine_for, migrate, session_factory
from service.keys.service import create_key
from tests.e2e.conftest import child_pids, upload, wait_status
from tests.paths import SAMPLES

PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/11"


@pytest.fixture
def env(tmp_path, monkeypatch):
    values = {"CLONUS_DATA_DIR": str(tmp_path / "shared"),
              "CLONUS_DATABASE_URL": PG,
              "CLONUS_EXECUTOR": "celery", "CLONUS_REDIS_URL": REDIS,
              "CLONUS_STALE_AFTER_S": "3", "CLONUS_LEASE_RENEW_S": "0.5"}  # fmt: skip
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    with engine_for(PG).begin() as conn:  # a clean schema (whatever tables it has), then the migrations
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    redis.Redis.from_url(REDIS).flushdb()
    settings = Settings()
    migrate(PG)
    return settings


def _worker(pool: str = "solo") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "service.worker.celery_app", "worker",
                             f"--pool={pool}", "--concurrency=1", "--loglevel=WARNING", "--without-heartbeat",
                             "--without-gossip", "--without-mingle"],
                            env=os.environ.copy(), start_new_session=True)  # fmt: skip


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)


def _upload(client, headers, name):
    r = upload(client, headers, name=name)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _wait_ready(client, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "a started worker never made the service ready"
        time.sleep(0.3)


def test_celery_worker_runs_jobs_and_recovers_a_killed_one(env):
    with session_factory(PG)() as s:
        _, plain = create_key(s, "clinic")
    headers = {"Authorization": f"Bearer {plain}"}
    worker = _worker()
    try:
        with TestClient(create_app(env)) as client:
            _wait_ready(client)
            first = _upload(client, headers, "ankle_clonus.mp4")
            done = wait_status(client, headers, first, ("succeeded", "failed"))
            assert done["status"] == "succeeded" and done["result"]["clonus_detected"] is True

            second = _upload(client, headers, "ankle_sustained.mp4")
            wait_status(client, headers, second, ("running",))
            _stop(worker, signal.SIGKILL)  # the worker dies mid-job; its message stays unacked
            worker = _worker()  # started at once: the job's lease has not lapsed yet
            # The web server's periodic recovery queues it again once the lease lapses (not the
            # broker's visibility timeout, 30 minutes).
            done = wait_status(client, headers, second, ("succeeded", "failed"), timeout_s=90)
            assert done["status"] == "succeeded" and done["result"]["sustained"] is True
        with session_factory(PG)() as s:
            assert s.get(Analysis, second).attempts == 2  # run once more, to its end once
    finally:
        _stop(worker)


def test_a_killed_pool_child_is_run_again_not_skipped(env):
    """Issue 27 item 3: kill -9 of the pool child: the redelivered task found the job running,
    skipped and acknowledged it, and the job stayed running."""
    with session_factory(PG)() as s:
        _, plain = create_key(s, "clinic")
    headers = {"Authorization": f"Bearer {plain}"}
    worker = _worker(pool="prefork")
    try:
        with TestClient(create_app(env)) as client:
            analysis_id = _upload(client, headers, "ankle_sustained.mp4")
            wait_status(client, headers, analysis_id, ("running",))
            for child in child_pids(worker.pid):
                os.kill(child, signal.SIGKILL)
            done = wait_status(client, headers, analysis_id, ("succeeded", "failed"), timeout_s=120)
            assert done["status"] == "succeeded" and done["result"]["sustained"] is True
        with session_factory(PG)() as s:
            assert s.get(Analysis, analysis_id).attempts == 2
    finally:
        _stop(worker)


def test_readiness_needs_a_live_worker(env):
    """Issue 27 item 3: /readyz said ready with no Celery worker alive."""
    with TestClient(create_app(env)) as client:
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["workers"] == "unreachable"
        worker = _worker()
        try:
            _wait_ready(client)
        finally:
            _stop(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 503:
            assert time.monotonic() < deadline, "a killed worker still counted as alive"
            time.sleep(0.5)


def test_a_resumable_upload_on_the_scale_out_path(env):
    """Issue 28 item 2 on PostgreSQL and Celery: a tus upload in two PATCHes (the lock and the
    offset in the shared database) becomes an analysis that a worker runs."""
    with session_factory(PG)() as s:
        _, plain = create_key(s, "clinic")
    headers = {"Authorization": f"Bearer {plain}", "Tus-Resumable": "1.0.0"}
    data = (SAMPLES / "ankle_clonus.mp4").read_bytes()
    worker = _worker()
    try:
        with TestClient(create_app(env)) as client:
            _wait_ready(client)
            created = client.post("/v1/uploads", headers={**headers, "Upload-Length": str(len(data))})
            location = created.headers["Location"]
            patch = {**headers, "Content-Type": "application/offset+octet-stream"}
            half = len(data) // 2
            first = client.patch(location, content=data[:half], headers={**patch, "Upload-Offset": "0"})
            assert first.status_code == 204
            stale = client.patch(location, content=data[half:], headers={**patch, "Upload-Offset": "0"})
            assert stale.status_code == 409 and stale.headers["Upload-Offset"] == str(half)
            last = client.patch(location, content=data[half:], headers={**patch, "Upload-Offset": str(half)})
            analysis_id = last.headers["Analysis-Location"].rsplit("/", 1)[1]
            done = wait_status(client, headers, analysis_id, ("succeeded", "failed"))
            assert done["status"] == "succeeded" and done["result"]["clonus_detected"] is True
    finally:
        _stop(worker)
