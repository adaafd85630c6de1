"""Alembic environment: runs migrations on the connection `upgrade_database` hands over.

The connection is already inside a transaction, so every revision applies atomically with it.
"""

from __future__ import annotations

from alembic import context

from polytrack_server.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    compare_type=True,
    # SQLite cannot ALTER most things; later revisions rebuild tables in batch mode there.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
