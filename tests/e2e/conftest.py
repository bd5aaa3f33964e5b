"""The API on its embedded default, for end-to-end tests: real SQLite (WAL), local storage, the
in-process pool; settings shared with the spawned workers through the environment."""

from __future__ import annotations

import os
import time

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.core.config import Settings
from service.core.db import ENDED, migrate, session_factory
from service.keys.service import create_key
from tests.paths import SAMPLES


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Settings shared by the web process and its spawned workers (through the environment)."""
    monkeypatch.setenv("CLONUS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLONUS_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'clonus.db'}")
    monkeypatch.setenv("CLONUS_WORKERS", "1")
    monkeypatch.setenv("CLONUS_WEBHOOK_BACKOFF_S", "0.2")
    settings = Settings()
    migrate(settings.resolved_database_url)
    return settings


def api_key(settings: Settings, name: str) -> tuple[dict, str]:
    with session_factory(settings.resolved_database_url)() as s:
        row, plain = create_key(s, name)
        return {"Authorization": f"Bearer {plain}"}, row.webhook_secret


@pytest.fixture
def client(env):
    with TestClient(create_app(env)) as c:
        yield c


def upload(client, headers, name="ankle_clonus.mp4", **form):
    with (SAMPLES / name).open("rb") as f:
        return client.post("/v1/analyses", headers=headers, files={"video": (name, f, "video/mp4")},
                           data={"site": "ankle", **form})  # fmt: skip


def wait_status(client, headers, analysis_id, wanted, timeout_s=120.0) -> dict:
    """Poll the analysis until its status is one of ``wanted``; its last body. ``client`` is a
    TestClient, or an ``httpx.Client`` on a server started by the test."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = client.get(f"/v1/analyses/{analysis_id}", headers=headers).json()
        if body["status"] in wanted:
            return body
        assert time.monotonic() < deadline, f"analysis still {body['status']} after {timeout_s} s"
        time.sleep(0.05)


def wait_done(client, headers, analysis_id, timeout_s=120.0) -> dict:
    return wait_status(client, headers, analysis_id, ENDED, timeout_s)


def wait_running(client, headers, analysis_id, timeout_s=60.0) -> None:
    """Until the job has started (a worker claimed it)."""
    wait_status(client, headers, analysis_id, ("running",), timeout_s)


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first); None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    return [
        int(e) for e in os.listdir("/proc") if e.isdigit() and (_stat_fields(int(e)) or [0, 0])[1] == str(pid)
    ]


def alive(pid: int) -> bool:
    """Running, not gone and not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"
