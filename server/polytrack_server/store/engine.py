"""Database engines for the tracking store: SQLite (file or memory) and PostgreSQL (psycopg 3).

SQLite is configured for many concurrent writers, from threads and from processes: WAL journal,
a long busy timeout, and write transactions opened with `BEGIN IMMEDIATE` so that a writer takes
the write lock up front and queues on the busy timeout. A deferred transaction that later tries to
upgrade its read lock fails at once with "database is locked", whatever the timeout.

Within one process, writers to a SQLite file also queue on a lock of their own (`writer_lock`):
SQLite's busy handler waits by sleeping and polling, which leaves the database idle for
milliseconds each time a writer finishes while others wait; a lock hands over at once.

Callers of SQLAlchemy connections mark a writer with `connection.execution_options(**WRITE)`
before they begin its transaction (on PostgreSQL the option does nothing); transactions on the
driver connection (`database.Database.transaction`) issue their BEGIN themselves.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from polytrack_server.errors import InvalidParameter, Unavailable

# Execution option that makes the next transaction of a SQLite connection `BEGIN IMMEDIATE`.
WRITE_OPTION: Final = "polytrack_write"
WRITE: Final[dict[str, Any]] = {WRITE_OPTION: True}

SQLITE_BUSY_TIMEOUT_MS: Final = 30_000

_SQLITE_PRAGMAS: Final = (
    f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
    # LIKE must be case-sensitive on every backend (ILIKE is the case-insensitive one).
    "PRAGMA case_sensitive_like = ON",
)


_WRITER_LOCKS: weakref.WeakKeyDictionary[sa.Engine, threading.RLock] = weakref.WeakKeyDictionary()


def writer_lock(engine: sa.Engine) -> AbstractContextManager[Any]:
    """What a write transaction holds in this process: the engine's lock for a SQLite file
    (re-entrant, so a thread never waits for itself), nothing elsewhere."""
    lock = _WRITER_LOCKS.get(engine)
    return nullcontext() if lock is None else lock


def create_engine_for(uri: str) -> sa.Engine:
    """An engine for `sqlite:///path`, `sqlite://` (memory), `postgresql://` or
    `postgresql+psycopg://`. The bare PostgreSQL scheme is served by psycopg 3."""
    try:
        url = make_url(uri)
    except sa.exc.ArgumentError as error:
        raise InvalidParameter(f"Invalid database URI {uri!r}: {error}") from error
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        url = url.set(drivername="postgresql+psycopg")
        # No pre-ping (a round trip per transaction): a connection that fails is dropped together
        # with the idle ones (database.Database.transaction), and the client may retry.
        return sa.create_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800)
    if url.get_backend_name() == "postgresql":
        raise InvalidParameter(
            f"Unsupported PostgreSQL driver {url.drivername!r} in database URI; use postgresql://"
        )
    raise InvalidParameter(
        f"Unsupported database URI scheme {url.drivername!r}; expected sqlite:/// or postgresql://"
    )


def _create_sqlite_engine(url: sa.URL) -> sa.Engine:
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        # One shared connection, or every connection would see its own empty database.
        engine = sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = sa.create_engine(
            url,
            pool_size=10,
            max_overflow=40,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )

    if not in_memory:
        _WRITER_LOCKS[engine] = threading.RLock()

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver: our "begin" hook issues BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


@contextmanager
def database_errors_as_unavailable() -> Iterator[None]:
    """Report a locked or unreachable database as `Unavailable`, which clients may retry."""
    try:
        yield
    except sa.exc.OperationalError as error:
        raise Unavailable(f"The database is unavailable: {error.orig}") from error
    except sa.exc.DataError as error:
        if "NUL" in str(error.orig):
            # PostgreSQL refuses NUL in text: the client's value is at fault, not the server.
            raise InvalidParameter("Text values may not contain NUL (\\x00) characters") from error
        raise
