"""Model registry tables: registered models, their versions, tags and aliases.

Revision ID: 0002_registry
Revises: 0001_initial
Create Date: 2025-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_registry"
down_revision: str | None = "0001_initial"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None


def _model_fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(
        "registered_models.name",
        ondelete="CASCADE",
        onupdate="CASCADE",
        name=f"fk_{table}_name_registered_models",
    )


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("deployment_job_id", sa.String(256), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_registered_models"),
    )
    op.create_index(
        "ix_registered_models_last_updated_timestamp", "registered_models", ["last_updated_timestamp"]
    )

    op.create_table(
        "registered_model_tags",
        sa.Column("name", sa.String(256), _model_fk("registered_model_tags"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("name", "key", name="pk_registered_model_tags"),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "model_versions",
        sa.Column("name", sa.String(256), _model_fk("model_versions"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("current_stage", sa.String(20), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("storage_location", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("run_link", sa.Text, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("model_id", sa.String(256), nullable=True),
        sa.PrimaryKeyConstraint("name", "version", name="pk_model_versions"),
    )

    op.create_table(
        "model_version_tags",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", "key", name="pk_model_version_tags"),
        sa.ForeignKeyConstraint(
            ["name", "version"],
            ["model_versions.name", "model_versions.version"],
            ondelete="CASCADE",
            onupdate="CASCADE",
            name="fk_model_version_tags_name_model_versions",
        ),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "registered_model_aliases",
        sa.Column("name", sa.String(256), _model_fk("registered_model_aliases"), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("name", "alias", name="pk_registered_model_aliases"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("registered_model_aliases")
    op.drop_table("model_version_tags")
    op.drop_table("model_versions")
    op.drop_table("registered_model_tags")
    op.drop_index("ix_registered_models_last_updated_timestamp", table_name="registered_models")
    op.drop_table("registered_models")
