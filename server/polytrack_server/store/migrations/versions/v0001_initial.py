"""Tracking tables: experiments, runs, what runs log, and their inputs.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision: str | None = None
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

_LIFECYCLE_CHECK = "lifecycle_stage IN ('active', 'deleted')"


def _run_fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey("runs.run_uuid", ondelete="CASCADE", name=f"fk_{table}_run_uuid_runs")


def _experiment_fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(
        "experiments.experiment_id",
        ondelete="CASCADE",
        name=f"fk_{table}_experiment_id_experiments",
    )


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("artifact_location", sa.Text, nullable=False),
        sa.Column("lifecycle_stage", sa.String(20), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", name="pk_experiments"),
        sa.UniqueConstraint("name", name="uq_experiments_name"),
        sa.CheckConstraint(_LIFECYCLE_CHECK, name=op.f("ck_experiments_lifecycle_stage")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_experiments_creation_time", "experiments", ["creation_time"])

    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.Integer, _experiment_fk("experiment_tags"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "key", name="pk_experiment_tags"),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "runs",
        sa.Column("run_uuid", sa.String(32), nullable=False),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("experiment_id", sa.Integer, _experiment_fk("runs"), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("lifecycle_stage", sa.String(20), nullable=False),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("deleted_time", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("run_uuid", name="pk_runs"),
        sa.CheckConstraint(_LIFECYCLE_CHECK, name=op.f("ck_runs_lifecycle_stage")),
    )
    op.create_index(
        "ix_runs_experiment_id_lifecycle_stage_start_time_run_uuid",
        "runs",
        ["experiment_id", "lifecycle_stage", sa.text("start_time DESC"), "run_uuid"],
    )

    for table, value_type in (("params", sa.String(6000)), ("tags", sa.String(8000))):
        op.create_table(
            table,
            sa.Column("run_uuid", sa.String(32), _run_fk(table), nullable=False),
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("value", value_type, nullable=False),
            sa.PrimaryKeyConstraint("run_uuid", "key", name=f"pk_{table}"),
            sqlite_with_rowid=False,
        )

    op.create_table(
        "metrics",
        sa.Column("run_uuid", sa.String(32), _run_fk("metrics"), nullable=False),
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

    op.create_table(
        "latest_metrics",
        sa.Column("run_uuid", sa.String(32), _run_fk("latest_metrics"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("is_nan", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_uuid", "key", name="pk_latest_metrics"),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "datasets",
        sa.Column("dataset_uuid", sa.String(32), nullable=False),
        sa.Column("experiment_id", sa.Integer, _experiment_fk("datasets"), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("schema", sa.Text, nullable=True),
        sa.Column("profile", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("dataset_uuid", name="pk_datasets"),
        sa.UniqueConstraint("experiment_id", "name", "digest", name="uq_datasets_experiment_id_name_digest"),
    )

    op.create_table(
        "inputs",
        sa.Column("input_uuid", sa.String(32), nullable=False),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source_id", sa.String(256), nullable=False),
        sa.Column("destination_type", sa.String(36), nullable=False),
        sa.Column("destination_id", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("input_uuid", name="pk_inputs"),
        sa.UniqueConstraint(
            "destination_type",
            "destination_id",
            "source_type",
            "source_id",
            name="uq_inputs_destination_type_destination_id_source_type_source_id",
        ),
    )

    op.create_table(
        "input_tags",
        sa.Column(
            "input_uuid",
            sa.String(32),
            sa.ForeignKey("inputs.input_uuid", ondelete="CASCADE", name="fk_input_tags_input_uuid_inputs"),
            nullable=False,
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("input_uuid", "name", name="pk_input_tags"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for table in (
        "input_tags",
        "inputs",
        "datasets",
        "latest_metrics",
        "metrics",
        "tags",
        "params",
        "runs",
        "experiment_tags",
        "experiments",
    ):
        op.drop_table(table)
