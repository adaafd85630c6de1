"""Transactions and dialect-specific SQL shared by the repositories of the tracking store.

Two ways in. `read()` / `write()` give a SQLAlchemy Core connection, for statements built at run
time (searches) and rare operations. `transaction()` gives a `Transaction` straight on the driver's
connection, running SQL text prepared once: the hot paths (logging, reading runs and histories)
spend most of their time in SQLAlchemy's per-statement machinery otherwise.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from polytrack_server.errors import InvalidParameter, Unavailable
from polytrack_server.store.engine import WRITE, database_errors_as_unavailable, writer_lock

# Keeps `IN (...)` lists well below SQLite's limit on bound parameters.
IN_CHUNK_SIZE: Final = 5000

_INTEGER: Final = re.compile(r"-?[0-9]+")
_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_NAMED_PARAMETER: Final = re.compile(r"(?<![:\w]):(\w+)")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_experiment_id(experiment_id: str) -> int:
    """The integer behind an experiment id string; anything else -> InvalidParameter."""
    text = experiment_id.strip() if isinstance(experiment_id, str) else ""
    if _INTEGER.fullmatch(text) is None:
        raise InvalidParameter(f"Invalid experiment ID {experiment_id!r}: it must be an integer")
    return int(text)


def fits_id_column(experiment_id: int) -> bool:
    """Whether an id can exist at all (PostgreSQL rejects out-of-range integers instead of
    finding nothing)."""
    return _INT32_MIN <= experiment_id <= _INT32_MAX


_NUL_MESSAGE: Final = "Text values may not contain NUL (\\x00) characters"


def _is_nul_character_error(error: BaseException) -> bool:
    """PostgreSQL refuses NUL in text; that is the client's value at fault, not the server."""
    return type(error).__name__ == "DataError" and "NUL" in str(error)


def chunks(items: Sequence[Any], size: int = IN_CHUNK_SIZE) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Transaction:
    """Driver SQL (see `Database.text`) on one driver connection inside an open transaction."""

    __slots__ = ("_connection",)

    def __init__(self, driver_connection: Any) -> None:
        self._connection = driver_connection

    @classmethod
    def within(cls, connection: sa.Connection) -> Transaction:
        """The transaction a SQLAlchemy connection has open, for driver SQL beside Core."""
        return cls(connection.connection.driver_connection)

    def execute(self, sql: str, parameters: Mapping[str, Any]) -> int:
        """Run one statement; the number of rows it changed."""
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql, parameters)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run one statement per row; the rows changed in all, or -1 if the driver cannot tell."""
        if len(rows) == 1:
            # psycopg runs executemany() in pipeline mode, which costs more for a single row.
            return self.execute(sql, rows[0])
        cursor = self._connection.cursor()
        try:
            cursor.executemany(sql, rows)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def fetch_all(self, sql: str, parameters: Mapping[str, Any]) -> list[Any]:
        """Rows as the driver's own tuples: no per-row work in Python beyond the driver's."""
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql, parameters)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def fetch_one(self, sql: str, parameters: Mapping[str, Any]) -> Any:
        """The first row, or None."""
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql, parameters)
            return cursor.fetchone()
        finally:
            cursor.close()


class Database:
    """An engine with read and write transactions; locked or unreachable -> Unavailable."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise InvalidParameter(f"Unsupported database dialect {self.dialect!r}")
        # sqlite3 accepts `:name` parameters, psycopg `%(name)s`: both take dicts.
        self._named_dialect = (
            sqlite.dialect(paramstyle="named") if self.dialect == "sqlite" else engine.dialect
        )
        dbapi: Any = engine.dialect.dbapi
        self._driver_errors: tuple[type[Exception], ...] = (dbapi.OperationalError, dbapi.InterfaceError)

    # --- transactions ----------------------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with database_errors_as_unavailable(), self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A transaction that takes the write lock at once on SQLite (BEGIN IMMEDIATE)."""
        with writer_lock(self.engine), database_errors_as_unavailable(), self.engine.connect() as connection:
            connection.execution_options(**WRITE)
            with connection.begin():
                yield connection

    @contextmanager
    def transaction(self, write: bool) -> Iterator[Transaction]:
        """A transaction on a pooled driver connection: committed when the block ends, rolled
        back when it raises. Writers on SQLite take the write lock at once (BEGIN IMMEDIATE)."""
        with writer_lock(self.engine) if write else nullcontext(), self._transaction(write) as transaction:
            yield transaction

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Transaction]:
        with database_errors_as_unavailable():
            connection = self.engine.raw_connection()
        driver_connection = connection.driver_connection
        assert driver_connection is not None, "a pooled connection always has a driver connection"
        try:
            if self.dialect == "sqlite":
                # The driver leaves transactions to us (see engine.py).
                driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield Transaction(driver_connection)
            connection.commit()
        except self._driver_errors as error:
            self._discard(connection)
            raise Unavailable(f"The database is unavailable: {error}") from error
        except BaseException as error:
            connection.rollback()
            if _is_nul_character_error(error):
                raise InvalidParameter(_NUL_MESSAGE) from error
            raise
        finally:
            connection.close()

    def _discard(self, connection: Any) -> None:
        """Drop a connection that failed, and with it the idle ones: after a server restart they
        are all dead, and the pool does not check connections before lending them."""
        connection.invalidate()
        if self.dialect == "postgresql":
            self.engine.pool.dispose()

    # --- SQL -------------------------------------------------------------------------------------
    def text(self, sql: str) -> str:
        """Hand-written SQL with `:name` parameters in this driver's parameter style."""
        return sql if self.dialect == "sqlite" else _NAMED_PARAMETER.sub(r"%(\1)s", sql)

    def in_list(self, column: str, parameter: str) -> str:
        """SQL testing `column` against a list bound as one parameter (see `list_value`), so that
        the statement text never depends on the list's length."""
        if self.dialect == "sqlite":
            return f"{column} IN (SELECT value FROM json_each(:{parameter}))"
        return f"{column} = ANY(:{parameter})"

    def list_value(self, values: Sequence[Any]) -> Any:
        return json.dumps(list(values)) if self.dialect == "sqlite" else list(values)

    def insert(self, table: sa.Table) -> Any:
        """An INSERT construct that supports ON CONFLICT on this dialect."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def driver_sql(self, statement: Any) -> str:
        """`statement` compiled once into driver SQL with named parameters, for `Transaction`."""
        compiled = statement.compile(dialect=self._named_dialect)
        fixed = {name for name, bind in compiled.binds.items() if bind.value is not None}
        assert not fixed, f"statement has bound values that driver SQL would lose: {fixed}"
        return str(compiled)

    def insert_ignoring_duplicates(self, table: sa.Table) -> str:
        return self.driver_sql(self.insert(table).on_conflict_do_nothing())

    def upsert(self, table: sa.Table, key: Sequence[str], update: Sequence[str]) -> str:
        """INSERT ... ON CONFLICT (key) DO UPDATE SET each `update` column to the new value."""
        statement = self.insert(table)
        return self.driver_sql(
            statement.on_conflict_do_update(
                index_elements=list(key),
                set_={column: statement.excluded[column] for column in update},
            )
        )
