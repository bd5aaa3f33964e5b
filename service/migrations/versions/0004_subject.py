"""An analysis's subject: an opaque FHIR reference the client may pass (never a name).

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column("analyses", sa.Column("subject", sa.String(80), nullable=True))


def downgrade() -> None:
    op.drop_column("analyses", "subject")
