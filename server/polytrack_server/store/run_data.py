"""What active runs log: metrics, params and tags in atomic batches, tag deletion, and inputs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import InvalidParameter, NotFound
from polytrack_server.store.database import Database, Transaction
from polytrack_server.store.interface import MetricColumns, MetricPoint
from polytrack_server.store.metrics import MetricRepository
from polytrack_server.store.runs import RunRepository
from polytrack_server.store.schema import (
    INPUT_DESTINATION_RUN,
    INPUT_SOURCE_DATASET,
    INPUT_SOURCE_MODEL,
    datasets,
    input_tags,
    inputs,
    params,
)

_PARAM_VALUES: Final = 'SELECT "key", value FROM params WHERE run_uuid = :run_id AND {keys}'
_DELETE_TAG: Final = 'DELETE FROM tags WHERE run_uuid = :run_id AND "key" = :key'


def _unique_params(run_id: str, logged: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Params by key; one key with two values in one batch -> InvalidParameter."""
    unique: dict[str, str] = {}
    for key, value in logged:
        if unique.setdefault(key, value) != value:
            raise InvalidParameter(
                f"The param {key!r} is logged twice with different values ({unique[key]!r} and "
                f"{value!r}) in one batch for run {run_id!r}"
            )
    return unique


class RunDataRepository:
    def __init__(self, database: Database, run_repository: RunRepository, metrics: MetricRepository) -> None:
        self._db = database
        self._runs = run_repository
        self._metrics = metrics
        self._insert_params = database.insert_ignoring_duplicates(params)
        self._param_values = database.text(_PARAM_VALUES.format(keys=database.in_list('"key"', "keys")))
        self._delete_tag = database.text(_DELETE_TAG)
        self._insert_inputs = database.insert_ignoring_duplicates(inputs)
        self._insert_datasets = database.insert_ignoring_duplicates(datasets)

    def log_batch(
        self,
        run_id: str,
        metric_points: Sequence[MetricPoint],
        logged_params: Sequence[tuple[str, str]],
        logged_tags: Sequence[tuple[str, str]],
        metric_columns: MetricColumns | None = None,
    ) -> None:
        with self._db.transaction(write=True) as transaction:
            self._runs.active_run_experiment(transaction, run_id)
            if logged_params:
                self._write_params(transaction, run_id, _unique_params(run_id, logged_params))
            if metric_points or (metric_columns and metric_columns.values):
                self._metrics.write(transaction, run_id, metric_points, metric_columns)
            if logged_tags:
                self._runs.write_tags(transaction, run_id, dict(logged_tags))

    def _write_params(self, transaction: Transaction, run_id: str, new: dict[str, str]) -> None:
        """Insert params not yet stored, then verify that the stored ones carry the same values
        (checking after the insert also catches a concurrent writer of the same key)."""
        rows = [{"run_uuid": run_id, "key": key, "value": value} for key, value in new.items()]
        inserted = transaction.execute_many(self._insert_params, rows)
        if inserted == len(rows):
            return
        parameters = {"run_id": run_id, "keys": self._db.list_value(list(new))}
        for key, value in transaction.fetch_all(self._param_values, parameters):
            if value != new[key]:
                raise InvalidParameter(
                    f"Changing param values is not allowed: the param {key!r} of run {run_id!r} "
                    f"has the value {value!r}, and the new value {new[key]!r} differs"
                )

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        with self._db.transaction(write=True) as transaction:
            self._runs.active_run_experiment(transaction, run_id)
            self._runs.write_tags(transaction, run_id, {key: value})

    def delete_tag(self, run_id: str, key: str) -> None:
        with self._db.transaction(write=True) as transaction:
            self._runs.active_run_experiment(transaction, run_id)
            if transaction.execute(self._delete_tag, {"run_id": run_id, "key": key}) == 0:
                raise NotFound(f"The run {run_id!r} has no tag {key!r}")

    def log_inputs(
        self, run_id: str, dataset_inputs: Sequence[pb.DatasetInput], model_ids: Sequence[str]
    ) -> None:
        with self._db.write() as connection:
            experiment_id = self._runs.active_run_experiment(Transaction.within(connection), run_id)
            if dataset_inputs:
                self._write_dataset_inputs(connection, run_id, experiment_id, dataset_inputs)
            if model_ids:
                Transaction.within(connection).execute_many(
                    self._insert_inputs,
                    [
                        {
                            "input_uuid": uuid.uuid4().hex,
                            "source_type": INPUT_SOURCE_MODEL,
                            "source_id": model_id,
                            "destination_type": INPUT_DESTINATION_RUN,
                            "destination_id": run_id,
                        }
                        for model_id in dict.fromkeys(model_ids)
                    ],
                )

    def _write_dataset_inputs(
        self,
        connection: sa.Connection,
        run_id: str,
        experiment_id: int,
        dataset_inputs: Sequence[pb.DatasetInput],
    ) -> None:
        """Reuse the experiment's dataset of the same (name, digest) or create it, then link it to
        the run with its tags unless the run already uses it."""
        wanted: dict[tuple[str, str], pb.DatasetInput] = {}
        for dataset_input in dataset_inputs:
            dataset = dataset_input.dataset
            wanted.setdefault((dataset.name, dataset.digest), dataset_input)
        known = self._dataset_ids(connection, experiment_id, wanted)
        new_datasets: list[dict[str, Any]] = []
        for identity, dataset_input in wanted.items():
            if identity in known:
                continue
            dataset = dataset_input.dataset
            known[identity] = uuid.uuid4().hex
            new_datasets.append(
                {
                    "dataset_uuid": known[identity],
                    "experiment_id": experiment_id,
                    "name": dataset.name,
                    "digest": dataset.digest,
                    "source_type": dataset.source_type,
                    "source": dataset.source,
                    "schema": dataset.schema if dataset.HasField("schema") else None,
                    "profile": dataset.profile if dataset.HasField("profile") else None,
                }
            )
        if new_datasets:
            # A concurrent writer may have created the same dataset: keep whichever row won.
            Transaction.within(connection).execute_many(self._insert_datasets, new_datasets)
            known.update(self._dataset_ids(connection, experiment_id, wanted))
        linked = set(
            connection.execute(
                sa.select(inputs.c.source_id).where(
                    inputs.c.destination_type == INPUT_DESTINATION_RUN,
                    inputs.c.destination_id == run_id,
                    inputs.c.source_type == INPUT_SOURCE_DATASET,
                    inputs.c.source_id.in_(list(known.values())),
                )
            ).scalars()
        )
        new_inputs: list[dict[str, Any]] = []
        new_tags: list[dict[str, Any]] = []
        for identity, dataset_input in wanted.items():
            if known[identity] in linked:
                continue
            input_uuid = uuid.uuid4().hex
            new_inputs.append(
                {
                    "input_uuid": input_uuid,
                    "source_type": INPUT_SOURCE_DATASET,
                    "source_id": known[identity],
                    "destination_type": INPUT_DESTINATION_RUN,
                    "destination_id": run_id,
                }
            )
            tag_values = {tag.key: tag.value for tag in dataset_input.tags}
            new_tags += [{"input_uuid": input_uuid, "name": k, "value": v} for k, v in tag_values.items()]
        if not new_inputs:
            return
        Transaction.within(connection).execute_many(self._insert_inputs, new_inputs)
        # Tag only the links this call created (a concurrent writer may have made the same link).
        created = set(
            connection.execute(
                sa.select(inputs.c.input_uuid).where(
                    inputs.c.input_uuid.in_([row["input_uuid"] for row in new_inputs])
                )
            ).scalars()
        )
        new_tags = [row for row in new_tags if row["input_uuid"] in created]
        if new_tags:
            connection.execute(sa.insert(input_tags), new_tags)

    @staticmethod
    def _dataset_ids(
        connection: sa.Connection, experiment_id: int, wanted: dict[tuple[str, str], Any]
    ) -> dict[tuple[str, str], str]:
        """Ids of the experiment's stored datasets among the wanted (name, digest) pairs."""
        names = sorted({name for name, _ in wanted})
        rows = connection.execute(
            sa.select(datasets.c.dataset_uuid, datasets.c.name, datasets.c.digest).where(
                datasets.c.experiment_id == experiment_id, datasets.c.name.in_(names)
            )
        )
        return {
            (name, digest): dataset_uuid for dataset_uuid, name, digest in rows if (name, digest) in wanted
        }
