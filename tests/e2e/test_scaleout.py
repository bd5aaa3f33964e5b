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
from service.core.db import engine_for, migrate, session_factory
from service.keys.service import create_key
from tests.paths import SAMPLES

PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/11"


@pytest.fixture
def env(tmp_path, monkeypatch):
    values = {"CLONUS_DATA_DIR": str(tmp_path / "shared"),
              "CLONUS_DATABASE_URL": PG,
              "CLONUS_EXECUTOR": "celery", "CLONUS_REDIS_URL": REDIS,
              "CLONUS_STALE_AFTER_S": "3"}  # fmt: skip
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    with engine_for(PG).begin() as conn:  # a clean schema, then the migrations
        conn.execute(text("DROP TABLE IF EXISTS analyses, api_keys, alembic_version CASCADE"))
    redis.Redis.from_url(REDIS).flushdb()
    settings = Settings()
    migrate(PG)
    return settings


def _worker() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "service.worker.celery_app", "worker",
                             "--pool=solo", "--loglevel=WARNING", "--without-heartbeat", "--without-gossip",
                             "--without-mingle"], env=os.environ.copy(), start_new_session=True)  # fmt: skip


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)


def _wait_status(client, headers, analysis_id, wanted, timeout_s=120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(f"/v1/analyses/{analysis_id}", headers=headers).json()
        if body["status"] in wanted:
            return body
        time.sleep(0.1)
    raise AssertionError(f"still {body['status']}")


def _upload(client, headers, name):
    with (SAMPLES / name).open("rb") as f:
        r = client.post("/v1/analyses", headers=headers, files={"video": (name, f, "video/mp4")},
                        data={"site": "ankle"})  # fmt: skip
    assert r.status_code == 202, r.text
    return r.json()["id"]


def test_celery_worker_runs_jobs_and_recovers_a_killed_one(env):
    with session_factory(PG)() as s:
        _, plain = create_key(s, "clinic")
    headers = {"Authorization": f"Bearer {plain}"}
    worker = _worker()
    try:
        with TestClient(create_app(env)) as client:
            assert client.get("/readyz").json()["checks"]["workers"] == "ok"
            first = _upload(client, headers, "ankle_clonus.mp4")
            done = _wait_status(client, headers, first, ("succeeded", "failed"))
            assert done["status"] == "succeeded" and done["result"]["clonus_detected"] is True

            second = _upload(client, headers, "ankle_sustained.mp4")
            _wait_status(client, headers, second, ("running",))
            _stop(worker, signal.SIGKILL)  # the worker dies mid-job
            time.sleep(3.5)  # the job goes silent past CLONUS_STALE_AFTER_S
            worker = _worker()  # a restarted worker re-queues it
            done = _wait_status(client, headers, second, ("succeeded", "failed"))
            assert done["status"] == "succeeded" and done["result"]["sustained"] is True
    finally:
        _stop(worker)
