"""Alembic environment: the engine comes from ``service.core.db.migrate``."""

from alembic import context

from service.core.db import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")  # fmt: skip
    with context.begin_transaction():
        context.run_migrations()
