"""Migrations carry an existing database forward."""

from __future__ import annotations

import sqlalchemy as sa

from service.core.db import engine_for, migrate


def test_keys_the_old_race_duplicated_are_kept_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0001")
    with engine_for(url).begin() as conn:
        conn.execute(sa.text("INSERT INTO api_keys (id, name, key_hash, webhook_secret, created_at) "
                             "VALUES (1, 'c', 'h', 's', '2026-01-01')"))  # fmt: skip
        for i in range(3):
            conn.execute(sa.text(
                "INSERT INTO analyses (id, key_id, status, progress, site, idempotency_key, attempts, "
                f"created_at, updated_at) VALUES ('a{i}', 1, 'succeeded', 100, 'ankle', 'visit-1', 1, "
                "'2026-01-01', '2026-01-01')"))  # fmt: skip
    migrate(url)
    with engine_for(url).connect() as conn:
        keys = conn.execute(sa.text("SELECT id, idempotency_key FROM analyses ORDER BY id")).all()
        assert keys == [("a0", "visit-1"), ("a1", None), ("a2", None)]
        try:
            conn.execute(sa.text("UPDATE analyses SET idempotency_key = 'visit-1' WHERE id = 'a1'"))
            raise AssertionError("a second row took the same key")
        except sa.exc.IntegrityError:
            pass
