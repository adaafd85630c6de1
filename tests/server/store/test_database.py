from __future__ import annotations

import json

import pytest

from polytrack_server.errors import InvalidParameter, Unavailable
from polytrack_server.store.database import (
    Database,
    Transaction,
    chunks,
    fits_id_column,
    parse_experiment_id,
)
from polytrack_server.store.engine import create_engine_for


@pytest.mark.parametrize(("text", "number"), [("0", 0), ("17", 17), ("-3", -3), (" 5 ", 5)])
def test_parse_experiment_id(text, number):
    assert parse_experiment_id(text) == number


@pytest.mark.parametrize("text", ["", "x", "1.0", "1_000", "0x10", "--1", "١٢"])
def test_parse_experiment_id_rejects_non_integers(text):
    with pytest.raises(InvalidParameter, match="Invalid experiment ID"):
        parse_experiment_id(text)


def test_fits_id_column():
    assert fits_id_column(2**31 - 1) and fits_id_column(-(2**31))
    assert not fits_id_column(2**31)


def test_chunks():
    assert list(chunks([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
    assert list(chunks([], 2)) == []


def test_driver_sql_per_dialect():
    sqlite = Database(create_engine_for("sqlite://"))
    postgres = Database(create_engine_for("postgresql://u@localhost/db"))
    sql = "SELECT 1 WHERE a = :a AND b::text = :bee"
    assert sqlite.text(sql) == sql
    assert postgres.text(sql) == "SELECT 1 WHERE a = %(a)s AND b::text = %(bee)s"
    assert sqlite.in_list("x", "ids") == "x IN (SELECT value FROM json_each(:ids))"
    assert json.loads(sqlite.list_value(["a", "b"])) == ["a", "b"]
    assert postgres.in_list("x", "ids") == "x = ANY(:ids)"
    assert postgres.list_value(("a",)) == ["a"]
    sqlite.engine.dispose()
    postgres.engine.dispose()


def test_list_parameters_select_the_listed_rows(store, engine):
    database = Database(engine)
    sql = database.text(f"SELECT experiment_id FROM experiments WHERE {database.in_list('name', 'names')}")
    with database.transaction(write=False) as transaction:
        rows = transaction.fetch_all(sql, {"names": database.list_value(["Default", "none"])})
    assert [tuple(row) for row in rows] == [(0,)]
    with database.read() as connection:
        within = Transaction.within(connection)
        assert within.fetch_one(sql, {"names": database.list_value(["none"])}) is None


def test_transactions_commit_or_roll_back(store, engine):
    database = Database(engine)
    rename = database.text("UPDATE experiments SET name = :name WHERE experiment_id = 0")
    with database.transaction(write=True) as transaction:
        assert transaction.execute(rename, {"name": "kept"}) == 1
    with pytest.raises(RuntimeError), database.transaction(write=True) as transaction:
        transaction.execute(rename, {"name": "dropped"})
        raise RuntimeError("abort")
    assert store.get_experiment("0").name == "kept"


def test_driver_operational_errors_become_unavailable(store, engine, backend):
    database = Database(engine)
    with pytest.raises(Unavailable), database.transaction(write=False) as transaction:
        if backend == "sqlite":
            transaction.fetch_all("SELECT * FROM missing", {})
        else:
            transaction.fetch_all("SELECT pg_terminate_backend(pg_backend_pid())", {})
    # The pool recovers: the failed connection was dropped.
    assert store.get_experiment("0").name == "Default"
