from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import InvalidParameter, Unavailable
from polytrack_server.store.engine import WRITE, create_engine_for, database_errors_as_unavailable
from polytrack_server.store.interface import MetricPoint, Page
from polytrack_server.store.migrations import upgrade_database
from polytrack_server.store.tracking import SqlTrackingStore


def search_runs(store, *arguments):
    """store.search_runs with its plain runs as messages."""
    page = store.search_runs(*arguments)
    return Page([pb.Run(**run) for run in page.items], page.next_page_token)


def metric_messages(page) -> list[pb.Metric]:
    """A history page's plain values as messages."""
    return [pb.Metric(**metric) for metric in page.items]


@pytest.mark.parametrize(
    "uri",
    [
        "postgresql://u:p@localhost:5432/db",
        "postgres://u@localhost/db",
        "postgresql+psycopg://u@localhost/db",
    ],
)
def test_postgresql_uris_use_psycopg3(uri):
    engine = create_engine_for(uri)
    assert engine.dialect.name == "postgresql"
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("mysql://u@localhost/db", "Unsupported database URI scheme"),
        ("postgresql+psycopg2://u@localhost/db", "Unsupported PostgreSQL driver"),
        ("not a uri", "Invalid database URI"),
    ],
)
def test_unsupported_uris(uri, fragment):
    with pytest.raises(InvalidParameter, match=fragment):
        create_engine_for(uri)


def test_sqlite_connections_are_configured(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:

        def pragma(name: str) -> object:
            return connection.exec_driver_sql(f"PRAGMA {name}").scalar()

        assert pragma("journal_mode") == "wal"
        assert pragma("busy_timeout") == 30_000
        assert pragma("foreign_keys") == 1
        assert pragma("synchronous") == 1  # NORMAL
        assert connection.exec_driver_sql("SELECT 'a' LIKE 'A'").scalar() == 0
    engine.dispose()


def test_in_memory_sqlite_is_shared_by_connections():
    engine = create_engine_for("sqlite://")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT x FROM t").scalar() == 1
    engine.dispose()


def test_a_store_in_memory_works_end_to_end():
    engine = create_engine_for("sqlite://")
    upgrade_database(engine)
    store = SqlTrackingStore(engine, "/artifacts")
    experiment_id = store.create_experiment("exp", None, [])
    run_id = store.create_run(experiment_id, "u", "r", 0, []).info.run_id
    store.log_batch(run_id, [MetricPoint("m", 1.0, 1, 0)], [("p", "v")], [])
    assert (
        search_runs(store, [experiment_id], "params.p = 'v'", 1, 10, [], None).items[0].info.run_id == run_id
    )
    engine.dispose()


def test_write_transactions_take_the_lock_up_front(tmp_path):
    """A writer that holds the lock makes a second BEGIN IMMEDIATE wait (here: time out), whereas
    a deferred BEGIN would start at once and fail only later, on its first write."""
    path = tmp_path / "x.db"
    engine = create_engine_for(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with engine.connect() as holder:
        holder.execution_options(**WRITE)
        with holder.begin():
            holder.exec_driver_sql("INSERT INTO t VALUES (1)")
            impatient = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
            with impatient.connect() as other:
                raw = other.connection.driver_connection
                assert raw is not None
                raw.isolation_level = None
                with pytest.raises(sa.exc.OperationalError, match="locked"):
                    other.exec_driver_sql("BEGIN IMMEDIATE")
                # A reader is not blocked (WAL).
                assert other.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
            impatient.dispose()
    engine.dispose()


def test_operational_errors_become_unavailable():
    with pytest.raises(Unavailable, match="no such table"), database_errors_as_unavailable():
        engine = create_engine_for("sqlite://")
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT * FROM missing")


def test_unreachable_postgresql_is_unavailable():
    engine = create_engine_for("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(Unavailable, match="unavailable"):
        SqlTrackingStore(engine, "/artifacts")
    engine.dispose()


# Runs in a separate interpreter (a real second process, not a thread), so it must be source text.
_HAMMER = """
import sys
from polytrack_server.store.engine import create_engine_for
from polytrack_server.store.interface import MetricPoint
from polytrack_server.store.tracking import SqlTrackingStore

uri, run_id, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
engine = create_engine_for(uri)
store = SqlTrackingStore(engine, "/artifacts")
for index in range(count):
    store.log_batch(
        run_id,
        [MetricPoint("m", float(index), worker * 1_000_000 + index, index)],
        [(f"p{worker}-{index}", "v")],
        [("last", f"{worker}")],
    )
    store.set_tag(run_id, f"t{worker}", str(index))
engine.dispose()
"""


def _migrated_store(path: Path) -> tuple[str, SqlTrackingStore, str]:
    uri = f"sqlite:///{path}"
    engine = create_engine_for(uri)
    upgrade_database(engine)
    store = SqlTrackingStore(engine, "/artifacts")
    experiment_id = store.create_experiment("concurrency", None, [])
    run_id = store.create_run(experiment_id, "u", "r", 0, []).info.run_id
    return uri, store, run_id


def test_concurrent_writer_threads_never_see_locked_errors(store, run_id):
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for index in range(40):
                store.log_batch(
                    run_id,
                    [MetricPoint("m", float(index), worker * 1_000_000 + index, index)],
                    [(f"p{worker}-{index}", "v")],
                    [],
                )
                store.set_tag(run_id, f"t{worker}", str(index))
                store.get_run(run_id)
        except BaseException as error:  # collected and re-raised by the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    run = store.get_run(run_id)
    assert len(run.data.params) == 8 * 40
    assert {tag.key: tag.value for tag in run.data.tags if tag.key.startswith("t")} == {
        f"t{worker}": "39" for worker in range(8)
    }
    assert len(metric_messages(store.get_metric_history(run_id, "m", None, None))) == 8 * 40


def test_concurrent_writer_processes_never_see_locked_errors(tmp_path):
    uri, store, run_id = _migrated_store(tmp_path / "processes.db")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, uri, run_id, str(worker), "25"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for worker in range(3)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    run = store.get_run(run_id)
    assert len(run.data.params) == 3 * 25
    assert len(metric_messages(store.get_metric_history(run_id, "m", None, None))) == 3 * 25
