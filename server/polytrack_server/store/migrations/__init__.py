"""Schema migrations (Alembic), applied in code: no alembic.ini is needed at run time."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from polytrack_server.store.engine import WRITE, create_engine_for, database_errors_as_unavailable

MIGRATIONS_DIR: Final = Path(__file__).parent

# Any fixed number: concurrent PostgreSQL upgrades queue on this advisory lock.
_PG_MIGRATION_LOCK: Final = 7_304_119_022


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic configuration for this package's migrations, optionally bound to `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations folder has no revision"
    return head


def current_revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_database(engine_or_uri: sa.Engine | str) -> None:
    """Bring the database to the newest schema. Idempotent and safe to run from several processes
    at once (on SQLite they queue on the write lock, on PostgreSQL on an advisory lock)."""
    engine = create_engine_for(engine_or_uri) if isinstance(engine_or_uri, str) else engine_or_uri
    try:
        with database_errors_as_unavailable(), engine.connect() as connection:
            connection.execution_options(**WRITE)
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
                if current_revision(connection) != head_revision():
                    command.upgrade(alembic_config(connection), "head")
    finally:
        if isinstance(engine_or_uri, str):
            engine.dispose()
