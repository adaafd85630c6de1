"""Tables of the tracking store (SQLAlchemy Core). The Alembic migrations must build exactly this.

Times are epoch milliseconds and steps any 64-bit integer, hence BigInteger. A latest metric that
is NaN is stored as value 0 with `is_nan` set; +/-inf are stored as the largest finite doubles.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Deterministic constraint names, so that migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# Tables keyed by a composite primary key are clustered on it in SQLite (WITHOUT ROWID): one
# b-tree per table instead of a table plus an index, and histories read in key order.

LIFECYCLE_CHECK = "lifecycle_stage IN ('active', 'deleted')"

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    UniqueConstraint("name"),
    CheckConstraint(LIFECYCLE_CHECK, name="lifecycle_stage"),
    Index(None, "creation_time"),
    # Never reuse the id of a removed experiment.
    sqlite_autoincrement=True,
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("experiment_id", "key"),
    sqlite_with_rowid=False,
)

runs = Table(
    "runs",
    metadata,
    Column("run_uuid", String(32), primary_key=True),
    Column("name", String(250), nullable=False),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", String(256), nullable=False),
    # RunStatus value name: RUNNING, SCHEDULED, FINISHED, FAILED, KILLED.
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("artifact_uri", Text, nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
    CheckConstraint(LIFECYCLE_CHECK, name="lifecycle_stage"),
)

params = Table(
    "params",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", String(6000), nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
    sqlite_with_rowid=False,
)

tags = Table(
    "tags",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", String(8000), nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
    sqlite_with_rowid=False,
)

# Run search: the runs of an experiment in one stage in the default order (newest first, then by
# id), so that paging in that order reads the index instead of sorting every run.
Index(
    "ix_runs_experiment_id_lifecycle_stage_start_time_run_uuid",
    runs.c.experiment_id,
    runs.c.lifecycle_stage,
    runs.c.start_time.desc(),
    runs.c.run_uuid,
)

# Every measurement, packed (see metric_packing.py): one row per metric of a run per log call,
# holding that call's points for the metric (one model and dataset) sorted and without duplicates.
# A history is its rows in `pack_id` order; duplicates across rows are dropped when read.
metric_packs = Table(
    "metric_packs",
    metadata,
    Column("pack_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("model_id", String(256), nullable=True),
    Column("dataset_name", String(500), nullable=True),
    Column("dataset_digest", String(36), nullable=True),
    Column("point_count", Integer, nullable=False),
    Column("points", LargeBinary, nullable=False),
    Index(None, "run_uuid", "key", "pack_id"),
)

# The measurement with the greatest (step, timestamp, value) of each metric of each run, NaN
# ranking below every number; kept up to date on every write so that reads and searches are cheap.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Double, nullable=False),
    Column("is_nan", Boolean(create_constraint=False), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key"),
    sqlite_with_rowid=False,
)

# Datasets are shared by the runs of one experiment and identified there by (name, digest).
datasets = Table(
    "datasets",
    metadata,
    Column("dataset_uuid", String(32), primary_key=True),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text, nullable=True),
    Column("profile", Text, nullable=True),
    UniqueConstraint("experiment_id", "name", "digest"),
)

# An edge "source was used by destination": today a dataset (source_type DATASET, source_id a
# dataset_uuid) or a logged model (MODEL, model id) used by a run (destination_type RUN).
inputs = Table(
    "inputs",
    metadata,
    Column("input_uuid", String(32), primary_key=True),
    Column("source_type", String(36), nullable=False),
    Column("source_id", String(256), nullable=False),
    Column("destination_type", String(36), nullable=False),
    Column("destination_id", String(256), nullable=False),
    UniqueConstraint("destination_type", "destination_id", "source_type", "source_id"),
)

input_tags = Table(
    "input_tags",
    metadata,
    Column("input_uuid", String(32), ForeignKey("inputs.input_uuid", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("value", String(500), nullable=False),
    PrimaryKeyConstraint("input_uuid", "name"),
    sqlite_with_rowid=False,
)

INPUT_SOURCE_DATASET = "DATASET"
INPUT_SOURCE_MODEL = "MODEL"
INPUT_DESTINATION_RUN = "RUN"

# --- Model registry ---------------------------------------------------------------------------------
# Registry rows refer to runs by id only (no foreign key): the registry may live in another database.
# Renaming a model renames its rows everywhere through ON UPDATE CASCADE; deleting it deletes them.

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("deployment_job_id", String(256), nullable=True),
    Index(None, "last_updated_timestamp"),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column(
        "name",
        String(256),
        ForeignKey("registered_models.name", ondelete="CASCADE", onupdate="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("name", "key"),
    sqlite_with_rowid=False,
)

# A deleted version keeps its row (stage Deleted_Internal) so that its number is never reused.
model_versions = Table(
    "model_versions",
    metadata,
    Column(
        "name",
        String(256),
        ForeignKey("registered_models.name", ondelete="CASCADE", onupdate="CASCADE"),
        nullable=False,
    ),
    Column("version", Integer, nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("current_stage", String(20), nullable=False),
    Column("source", Text, nullable=False),
    # Where the files are: the source with runs:/ and models:/ URIs resolved.
    Column("storage_location", Text, nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("run_link", Text, nullable=True),
    # ModelVersionStatus value name: READY (the other values are never stored by polytrack).
    Column("status", String(20), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("model_id", String(256), nullable=True),
    PrimaryKeyConstraint("name", "version"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("name", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("name", "version", "key"),
    ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        ondelete="CASCADE",
        onupdate="CASCADE",
    ),
    sqlite_with_rowid=False,
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column(
        "name",
        String(256),
        ForeignKey("registered_models.name", ondelete="CASCADE", onupdate="CASCADE"),
        nullable=False,
    ),
    Column("alias", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("name", "alias"),
    sqlite_with_rowid=False,
)
