"""Idempotency keys unique per API key (enforced by the database), with the payload's digest.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    # Rows the old race let through share a key: all but one lose it (their analyses stay).
    op.execute(
        "UPDATE analyses SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND id NOT IN "
        "(SELECT MIN(id) FROM analyses WHERE idempotency_key IS NOT NULL GROUP BY key_id, idempotency_key)"
    )
    with op.batch_alter_table("analyses") as batch:
        batch.add_column(sa.Column("payload_sha256", sa.String(64)))
        batch.create_index("uq_analyses_key_idempotency", ["key_id", "idempotency_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("analyses") as batch:
        batch.drop_index("uq_analyses_key_idempotency")
        batch.drop_column("payload_sha256")
