"""Fixtures of the store tests: a fresh, migrated database per test, on SQLite and PostgreSQL.

SQLite tests copy a database file migrated once per session. PostgreSQL tests share one database
per session (uniquely named, so xdist workers never meet) and empty its tables before each test.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.store.engine import create_engine_for
from polytrack_server.store.migrations import upgrade_database
from polytrack_server.store.schema import metadata
from polytrack_server.store.tracking import SqlTrackingStore

ARTIFACT_ROOT = "mlflow-artifacts:/"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "tracking.db"
    engine = create_engine_for(f"sqlite:///{path}")
    upgrade_database(engine)
    engine.dispose()
    return path


@contextmanager
def new_postgres_database(postgres_uri: str) -> Iterator[str]:
    """A migrated database of its own on the test server, dropped on exit."""
    name = f"polytrack_store_{uuid.uuid4().hex[:12]}"
    admin = create_engine_for(postgres_uri)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    uri = make_url(postgres_uri).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(uri)
        yield uri
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database(postgres_uri: str) -> Iterator[str]:
    with new_postgres_database(postgres_uri) as uri:
        yield uri


def database_uri(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> str:
    """A fresh, migrated database of `backend`, empty but for the migration's own rows."""
    if backend == "sqlite":
        path = tmp_path / "tracking.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    uri: str = request.getfixturevalue("postgres_database")
    engine = create_engine_for(uri)
    # DELETE is much quicker than TRUNCATE on tables this small.
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
        connection.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), 1, false)"
        )
    engine.dispose()
    return uri


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def db_uri(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> str:
    return database_uri(request, tmp_path, backend)


@pytest.fixture
def engine(db_uri: str) -> Iterator[sa.Engine]:
    engine = create_engine_for(db_uri)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: sa.Engine) -> SqlTrackingStore:
    return SqlTrackingStore(engine, ARTIFACT_ROOT)


@pytest.fixture(scope="module", params=BACKENDS)
def module_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlTrackingStore]:
    """A store shared by the tests of one module, for tests that only read what a module-scoped
    fixture wrote (much quicker than a database per test)."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            path = tmp_path_factory.mktemp("module-store") / "tracking.db"
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
            uri = f"sqlite:///{path}"
        else:
            uri = stack.enter_context(new_postgres_database(request.getfixturevalue("postgres_uri")))
        engine = create_engine_for(uri)
        stack.callback(engine.dispose)
        yield SqlTrackingStore(engine, ARTIFACT_ROOT)


@pytest.fixture
def experiment_id(store: SqlTrackingStore) -> str:
    return store.create_experiment("experiment", None, [])


@pytest.fixture
def make_run(store: SqlTrackingStore, experiment_id: str) -> Callable[..., pb.Run]:
    """Create a run in `experiment_id` (or another experiment) with sensible defaults."""
    counter = iter(range(1_000_000))

    def make(
        experiment: str | None = None,
        name: str | None = None,
        start_time: int | None = None,
        tags: list[tuple[str, str]] | None = None,
        user_id: str = "alice",
    ) -> pb.Run:
        number = next(counter)
        return store.create_run(
            experiment if experiment is not None else experiment_id,
            user_id,
            name if name is not None else f"run-{number}",
            start_time if start_time is not None else 1_000 + number,
            tags or [],
        )

    return make


@pytest.fixture
def run_id(make_run: Callable[..., pb.Run]) -> str:
    return make_run().info.run_id
