from __future__ import annotations

import math
import sys
import threading
from types import ModuleType

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.util import pyfiles

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.store.engine import WRITE, create_engine_for
from polytrack_server.store.migrations import (
    alembic_config,
    current_revision,
    head_revision,
    upgrade_database,
)
from polytrack_server.store.schema import metadata
from polytrack_server.store.tracking import SqlTrackingStore


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
    assert "WITHOUT ROWID" in next(sql for _, name, sql in declared if name == "latest_metrics")
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


# --- 0003: one row per point (metrics) -> packs (metric_packs) and back ---------------------------

SMALL_PACK = 7
MAX_DOUBLE = sys.float_info.max
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# (timestamp, step, value, is_nan, model_id, dataset_name, dataset_digest), per (run, key) below.
MetricRow = tuple[int, int, float, bool, str | None, str | None, str | None]
METRICS_COLUMNS = (
    "run_uuid",
    "key",
    "timestamp",
    "step",
    "value",
    "is_nan",
    "model_id",
    "dataset_name",
    "dataset_digest",
)


def old_metric_rows() -> dict[tuple[int, str], list[MetricRow]]:
    """Rows as revision 0002 stored them, keyed by (run number, metric key)."""
    loss: list[MetricRow] = []
    for index in range(23):  # more than three small packs of one group
        loss.append((1000 + index // 2, index % 3, float(index) - 5.5, False, None, None, None))
    loss += [
        (1003, 0, 0.0, True, None, None, None),  # NaN, beside a real 0.0 at the same point
        (1003, 0, 0.0, False, None, None, None),
        (1003, 0, -0.25, False, None, None, None),
        (1003, 0, 7.0, False, None, None, None),
        (999, 1, MAX_DOUBLE, False, None, None, None),
        (999, 1, -MAX_DOUBLE, False, None, None, None),
    ]
    # A model's and a dataset's points interleave with the plain ones.
    loss += [(1000 + index, 5, 100.0 + index, False, "model-a", None, None) for index in range(9)]
    loss += [(1004, 0, 0.0, True, "model-a", "eval", "d1g3st")]
    accuracy: list[MetricRow] = [
        (1, INT64_MIN, 0.5, False, None, "train", "abc"),
        (INT64_MAX, INT64_MAX, 0.75, False, None, "train", "abc"),
        (0, -3, 0.0, True, None, None, "only-digest"),
    ]
    return {
        (0, "loss"): loss,
        (0, "accuracy/top-1 ünï"): accuracy,
        (1, "loss"): [(5, 5, 1.0, False, "model-b", None, None), (5, 4, 2.0, False, None, None, None)],
    }


def metrics_of(page) -> list[pb.Metric]:
    return [pb.Metric(**item) for item in page.items]


def history_order(row: MetricRow) -> tuple[int, int, float, bool]:
    timestamp, step, value, is_nan = row[:4]
    return (timestamp, step, value, is_nan)


def run_revision(engine: sa.Engine, action: str, revision: str) -> None:
    with engine.connect() as connection:
        connection.execution_options(**WRITE)
        with connection.begin():
            getattr(command, action)(alembic_config(connection), revision)


@pytest.fixture
def small_packs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Alembic loads each revision file afresh; set PACK_SIZE on the 0003 module as it loads."""
    load = pyfiles.load_module_py

    def load_with_small_packs(module_id: str, path: object) -> ModuleType:
        module = load(module_id, path)  # type: ignore[arg-type]
        if module_id.startswith("v0003_metric_packs"):
            module.PACK_SIZE = SMALL_PACK  # type: ignore[attr-defined]
        return module

    monkeypatch.setattr(pyfiles, "load_module_py", load_with_small_packs)


def metric_table_rows(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"SELECT {', '.join(METRICS_COLUMNS)} FROM metrics").all()
    return sorted((*row[:5], bool(row[5]), *row[6:]) for row in rows)


def test_metric_rows_move_into_packs_and_back(engine, small_packs):
    store = SqlTrackingStore(engine, "mlflow-artifacts:/")
    experiment = store.create_experiment("packs", None, [])
    run_ids = [store.create_run(experiment, "alice", f"run-{n}", 1, []).info.run_id for n in range(2)]
    rows = old_metric_rows()
    inserted = sorted(
        (run_ids[run], key, timestamp, step, value, is_nan, model_id, name, digest)
        for (run, key), points in rows.items()
        for timestamp, step, value, is_nan, model_id, name, digest in points
    )
    try:
        run_revision(engine, "downgrade", "0002_registry")
        assert "metric_packs" not in sa.inspect(engine).get_table_names()
        with engine.begin() as connection:
            columns = ", ".join(METRICS_COLUMNS)
            names = ", ".join(f":{name}" for name in METRICS_COLUMNS)
            connection.execute(
                sa.text(f"INSERT INTO metrics ({columns}) VALUES ({names})"),
                [dict(zip(METRICS_COLUMNS, row, strict=True)) for row in inserted],
            )
        assert metric_table_rows(engine) == inserted

        run_revision(engine, "upgrade", "head")
        assert "metrics" not in sa.inspect(engine).get_table_names()
        with engine.connect() as connection:
            counts = connection.exec_driver_sql("SELECT point_count FROM metric_packs").scalars().all()
        assert sum(counts) == len(inserted) and max(counts) == SMALL_PACK
        # loss of run 0: 29 plain points (5 packs), 9 of model-a (2), 1 of model-a on eval (1);
        # accuracy: two groups (2); loss of run 1: two groups (2).
        assert len(counts) == 12
        for (run, key), points in rows.items():
            expected = sorted(points, key=history_order)
            page = store.get_metric_history(run_ids[run], key, None, None)
            got = metrics_of(page)
            assert [(m.timestamp, m.step) for m in got] == [p[:2] for p in expected], key
            for metric, (_, _, value, is_nan, model_id, name, digest) in zip(got, expected, strict=True):
                assert math.isnan(metric.value) if is_nan else metric.value == value
                assert metric.key == key
                assert (
                    metric.model_id if metric.HasField("model_id") else None,
                    metric.dataset_name if metric.HasField("dataset_name") else None,
                    metric.dataset_digest if metric.HasField("dataset_digest") else None,
                ) == (model_id, name, digest)
            # Paging through the packs gives the same history.
            paged, token = [], None
            while True:
                page = store.get_metric_history(run_ids[run], key, 4, token)
                paged += [(m.timestamp, m.step) for m in metrics_of(page)]
                if (token := page.next_page_token) is None:
                    break
            assert paged == [p[:2] for p in expected]

        run_revision(engine, "downgrade", "0002_registry")
        assert "metric_packs" not in sa.inspect(engine).get_table_names()
        assert metric_table_rows(engine) == inserted
    finally:
        upgrade_database(engine)
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()


def test_an_empty_metrics_table_upgrades_and_downgrades(engine):
    try:
        run_revision(engine, "downgrade", "0002_registry")
        run_revision(engine, "upgrade", "head")
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM metric_packs").scalar() == 0
        run_revision(engine, "downgrade", "0002_registry")
        assert metric_table_rows(engine) == []
    finally:
        upgrade_database(engine)
