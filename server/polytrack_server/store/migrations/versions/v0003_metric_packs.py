"""Metric measurements packed per log call (metric_packs) instead of one row per point (metrics).

Existing points move into packs of up to PACK_SIZE points per (run, key, model, dataset); the
downgrade unpacks them again.

Revision ID: 0003_metric_packs
Revises: 0002_registry
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from typing import Any, Final

import sqlalchemy as sa
from alembic import op

from polytrack_server.store.metric_packing import SortKey, pack_points, sort_key, unpack

revision = "0003_metric_packs"
down_revision: str | None = "0002_registry"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

PACK_SIZE: Final = 10_000
_GROUP: Final = ("run_uuid", "key", "model_id", "dataset_name", "dataset_digest")


def _metric_packs_table() -> None:
    op.create_table(
        "metric_packs",
        sa.Column(
            "pack_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column(
            "run_uuid",
            sa.String(32),
            sa.ForeignKey("runs.run_uuid", ondelete="CASCADE", name="fk_metric_packs_run_uuid_runs"),
            nullable=False,
        ),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("model_id", sa.String(256), nullable=True),
        sa.Column("dataset_name", sa.String(500), nullable=True),
        sa.Column("dataset_digest", sa.String(36), nullable=True),
        sa.Column("point_count", sa.Integer, nullable=False),
        sa.Column("points", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("pack_id", name="pk_metric_packs"),
    )
    op.create_index("ix_metric_packs_run_uuid_key_pack_id", "metric_packs", ["run_uuid", "key", "pack_id"])


def _metrics_table() -> None:
    op.create_table(
        "metrics",
        sa.Column(
            "run_uuid",
            sa.String(32),
            sa.ForeignKey("runs.run_uuid", ondelete="CASCADE", name="fk_metrics_run_uuid_runs"),
            nullable=False,
        ),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("is_nan", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("model_id", sa.String(256), nullable=True),
        sa.Column("dataset_name", sa.String(500), nullable=True),
        sa.Column("dataset_digest", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("run_uuid", "key", "timestamp", "step", "value", "is_nan", name="pk_metrics"),
        sqlite_with_rowid=False,
    )


def _streamed(connection: sa.Connection, sql: str) -> Iterator[Any]:
    # Options on the statement: on the connection they would stick to every later statement too.
    statement = sa.text(sql).execution_options(stream_results=True, yield_per=PACK_SIZE)
    yield from connection.execute(statement)


def upgrade() -> None:
    _metric_packs_table()
    connection = op.get_bind()
    rows = _streamed(
        connection,
        "SELECT run_uuid, key, model_id, dataset_name, dataset_digest, timestamp, step, value, is_nan"
        " FROM metrics ORDER BY run_uuid, key, model_id, dataset_name, dataset_digest, timestamp, step",
    )
    insert = sa.text(
        "INSERT INTO metric_packs (run_uuid, key, model_id, dataset_name, dataset_digest, point_count,"
        " points) VALUES (:run_uuid, :key, :model_id, :dataset_name, :dataset_digest, :point_count, :points)"
    )
    for group, points in groupby(rows, key=lambda row: tuple(row[:5])):
        batch: list[SortKey] = []
        for row in points:
            # Stored NaN is value 0 with the flag; a pack keeps the NaN itself.
            batch.append(sort_key(row[5], row[6], float("nan") if row[8] else row[7]))
            if len(batch) == PACK_SIZE:
                _insert_pack(connection, insert, group, batch)
                batch = []
        if batch:
            _insert_pack(connection, insert, group, batch)
    op.drop_table("metrics")


def _insert_pack(
    connection: sa.Connection, insert: Any, group: tuple[Any, ...], batch: list[SortKey]
) -> None:
    count, data = pack_points(batch)
    row = dict(zip(_GROUP, group, strict=True))
    connection.execute(insert, {**row, "point_count": count, "points": data})


def downgrade() -> None:
    _metrics_table()
    connection = op.get_bind()
    insert = sa.text(
        "INSERT INTO metrics (run_uuid, key, timestamp, step, value, is_nan, model_id, dataset_name,"
        " dataset_digest) VALUES (:run_uuid, :key, :timestamp, :step, :value, :is_nan, :model_id,"
        " :dataset_name, :dataset_digest) ON CONFLICT DO NOTHING"
    )
    packs = _streamed(
        connection,
        "SELECT run_uuid, key, model_id, dataset_name, dataset_digest, point_count, points"
        " FROM metric_packs ORDER BY pack_id",
    )
    for row in packs:
        group = dict(zip(_GROUP, row[:5], strict=True))
        pack = unpack(row[5], bytes(row[6]))
        points = [
            {
                **group,
                "timestamp": timestamp,
                "step": step,
                "value": 0.0 if value != value else value,
                "is_nan": value != value,
            }
            for timestamp, step, value in zip(pack.timestamps, pack.steps, pack.values, strict=True)
        ]
        if points:
            connection.execute(insert, points)
    op.drop_index("ix_metric_packs_run_uuid_key_pack_id", table_name="metric_packs")
    op.drop_table("metric_packs")
