"""Alembic environment: runs migrations on the connection balmon hands over, or, offline
(`balmon db upgrade --sql`), writes the SQL for the database's dialect for a DBA to review."""

from __future__ import annotations

from alembic import context

from balmon.storage.schema import metadata

if context.is_offline_mode():
    context.configure(
        dialect_name=context.config.attributes["dialect_name"],
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
        # With the drivers' "pyformat" style every % would print as %% (PL/pgSQL's RAISE
        # placeholders included); the printed SQL has no parameters, so name them instead.
        dialect_opts={"paramstyle": "named"},
    )
else:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
