from __future__ import annotations

import threading

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from polytrack_server.store.engine import WRITE, create_engine_for
from polytrack_server.store.migrations import (
    alembic_config,
    current_revision,
    head_revision,
    upgrade_database,
)
from polytrack_server.store.schema import metadata


def test_migrated_database_matches_the_schema(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, metadata) == []


def test_constraint_and_index_names_match_the_schema(engine):
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        expected_checks = {
            constraint.name for constraint in table.constraints if isinstance(constraint, sa.CheckConstraint)
        }
        assert {check["name"] for check in inspector.get_check_constraints(table.name)} == expected_checks
        assert inspector.get_pk_constraint(table.name)["name"] == table.primary_key.name or (
            engine.dialect.name == "sqlite"  # SQLite reports no names for primary keys
        )
        # PostgreSQL lists the indexes behind unique constraints too.
        indexes = inspector.get_indexes(table.name)
        assert {index["name"] for index in indexes if "duplicates_constraint" not in index} == {
            index.name for index in table.indexes
        }


def test_sqlite_tables_are_created_exactly_as_the_schema_declares(tmp_path):
    """Down to the DDL text, which autogenerate does not compare (e.g. WITHOUT ROWID)."""
    reference = create_engine_for(f"sqlite:///{tmp_path / 'reference.db'}")
    metadata.create_all(reference)
    migrated = create_engine_for(f"sqlite:///{tmp_path / 'migrated.db'}")
    upgrade_database(migrated)
    query = "SELECT type, name, sql FROM sqlite_master WHERE tbl_name NOT LIKE 'alembic%' ORDER BY name"
    with reference.connect() as expected, migrated.connect() as actual:
        declared = expected.exec_driver_sql(query).all()
        assert actual.exec_driver_sql(query).all() == declared
    assert "WITHOUT ROWID" in next(sql for _, name, sql in declared if name == "metrics")
    reference.dispose()
    migrated.dispose()


def test_upgrade_is_idempotent(engine, db_uri):
    upgrade_database(engine)
    upgrade_database(db_uri)
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()


def test_downgrade_to_base_and_up_again(engine):
    with engine.connect() as connection:
        connection.execution_options(**WRITE)
        with connection.begin():
            command.downgrade(alembic_config(connection), "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade_database(engine)
    assert set(metadata.tables) <= set(sa.inspect(engine).get_table_names())


def test_concurrent_upgrades_of_a_new_sqlite_database(tmp_path):
    uri = f"sqlite:///{tmp_path / 'new.db'}"
    errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            upgrade_database(uri)
        except BaseException as error:  # collected and asserted on by the main thread
            errors.append(error)

    threads = [threading.Thread(target=upgrade) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = create_engine_for(uri)
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    engine.dispose()
