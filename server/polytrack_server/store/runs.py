"""Runs: creation, lookup, update, soft delete and search."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Final

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import InvalidParameter, NotFound
from polytrack_server.store.database import (
    Database,
    Transaction,
    fits_id_column,
    now_ms,
    parse_experiment_id,
)
from polytrack_server.store.experiments import artifact_path_join, lifecycle_stages, not_active
from polytrack_server.store.interface import ACTIVE, DELETED, Page, Plain
from polytrack_server.store.messages import empty_run_values, run_info_values, run_status_name
from polytrack_server.store.run_loader import RUN_COLUMNS, RunLoader
from polytrack_server.store.schema import runs, tags
from polytrack_server.store.search import (
    decode_page_token,
    encode_page_token,
    ordered_runs_query,
    run_filter_conditions,
)

RUN_NAME_TAG: Final = "mlflow.runName"

_RUN_STAGE: Final = "SELECT lifecycle_stage, experiment_id FROM runs WHERE run_uuid = :run_id"
_RUN_ROW: Final = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE run_uuid = :run_id"
_EXPERIMENT_STAGE: Final = (
    "SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = :experiment_id"
)
_INSERT_RUN: Final = (
    "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, lifecycle_stage, "
    "artifact_uri) VALUES (:run_uuid, :name, :experiment_id, :user_id, :status, :start_time, "
    ":lifecycle_stage, :artifact_uri)"
)
_INSERT_TAG: Final = 'INSERT INTO tags (run_uuid, "key", value) VALUES (:run_uuid, :key, :value)'
_RENAME_RUN: Final = "UPDATE runs SET name = :name WHERE run_uuid = :run_id"
_DELETE_RUN: Final = (
    f"UPDATE runs SET lifecycle_stage = '{DELETED}', deleted_time = COALESCE(deleted_time, :now) "
    "WHERE run_uuid = :run_id"
)
_RESTORE_RUN: Final = (
    f"UPDATE runs SET lifecycle_stage = '{ACTIVE}', deleted_time = NULL WHERE run_uuid = :run_id"
)


def run_not_found(run_id: str) -> NotFound:
    return NotFound(f"No run with id {run_id!r} exists")


class RunRepository:
    def __init__(self, database: Database) -> None:
        self._db = database
        self.loader = RunLoader(database)
        sql = database.text
        self._run_stage = sql(_RUN_STAGE)
        self._run_row = sql(_RUN_ROW)
        self._experiment_stage = sql(_EXPERIMENT_STAGE)
        self._insert_run = sql(_INSERT_RUN)
        self._insert_tag = sql(_INSERT_TAG)
        self._rename = sql(_RENAME_RUN)
        self._delete = sql(_DELETE_RUN)
        self._restore = sql(_RESTORE_RUN)
        self._upsert_tags = database.upsert(tags, ("run_uuid", "key"), ("value",))

    # --- helpers for every write to a run ---------------------------------------------------------
    def active_run_experiment(self, transaction: Transaction, run_id: str) -> int:
        """The experiment of an active run; unknown -> NotFound, deleted -> InvalidParameter."""
        row = transaction.fetch_one(self._run_stage, {"run_id": run_id})
        if row is None:
            raise run_not_found(run_id)
        if row[0] != ACTIVE:
            raise not_active("run", repr(run_id))
        return int(row[1])

    def write_tags(self, transaction: Transaction, run_id: str, new: dict[str, str]) -> None:
        """Upsert tags; a `mlflow.runName` tag also renames the run."""
        rows = [{"run_uuid": run_id, "key": key, "value": value} for key, value in new.items()]
        transaction.execute_many(self._upsert_tags, rows)
        if RUN_NAME_TAG in new:
            transaction.execute(self._rename, {"run_id": run_id, "name": new[RUN_NAME_TAG]})

    # --- writes ----------------------------------------------------------------------------------
    def create(
        self,
        experiment_id: str,
        user_id: str,
        run_name: str,
        start_time: int,
        run_tags: Sequence[tuple[str, str]],
    ) -> pb.Run:
        number = parse_experiment_id(experiment_id)
        if not fits_id_column(number):
            raise NotFound(f"No experiment with id {number} exists")
        run_id = uuid.uuid4().hex
        all_tags = dict(run_tags)
        all_tags[RUN_NAME_TAG] = run_name
        with self._db.transaction(write=True) as transaction:
            experiment = transaction.fetch_one(self._experiment_stage, {"experiment_id": number})
            if experiment is None:
                raise NotFound(f"No experiment with id {number} exists")
            if experiment[0] != ACTIVE:
                raise not_active("experiment", number)
            row: dict[str, Any] = {
                "run_uuid": run_id,
                "name": run_name,
                "experiment_id": number,
                "user_id": user_id,
                "status": "RUNNING",
                "start_time": start_time,
                "end_time": None,
                "lifecycle_stage": ACTIVE,
                "artifact_uri": artifact_path_join(experiment[1], run_id, "artifacts"),
            }
            transaction.execute(self._insert_run, row)
            transaction.execute_many(
                self._insert_tag, [{"run_uuid": run_id, "key": k, "value": v} for k, v in all_tags.items()]
            )
        run = empty_run_values([row[column] for column in RUN_COLUMNS])
        run["data"]["tags"] = [{"key": key, "value": value} for key, value in sorted(all_tags.items())]
        return pb.Run(**run)

    def update(
        self, run_id: str, status: int | None, end_time: int | None, run_name: str | None
    ) -> pb.RunInfo:
        changes: dict[str, Any] = {}
        if status:
            changes["status"] = run_status_name(status)
        if end_time is not None:
            changes["end_time"] = end_time
        if run_name is not None:
            changes["name"] = run_name
        with self._db.transaction(write=True) as transaction:
            row = transaction.fetch_one(self._run_row, {"run_id": run_id})
            if row is None:
                raise run_not_found(run_id)
            values = dict(zip(RUN_COLUMNS, row, strict=True))
            if values["lifecycle_stage"] != ACTIVE:
                raise not_active("run", repr(run_id))
            if changes:
                # Only fixed column names reach the SQL text; the values are parameters.
                assignments = ", ".join(f"{column} = :{column}" for column in changes)
                update = self._db.text(f"UPDATE runs SET {assignments} WHERE run_uuid = :run_id")
                transaction.execute(update, {**changes, "run_id": run_id})
            if run_name is not None:
                transaction.execute(
                    self._upsert_tags, {"run_uuid": run_id, "key": RUN_NAME_TAG, "value": run_name}
                )
        values.update(changes)
        return pb.RunInfo(**run_info_values([values[column] for column in RUN_COLUMNS]))

    def delete(self, run_id: str) -> None:
        with self._db.transaction(write=True) as transaction:
            if transaction.execute(self._delete, {"run_id": run_id, "now": now_ms()}) == 0:
                raise run_not_found(run_id)

    def restore(self, run_id: str) -> None:
        with self._db.transaction(write=True) as transaction:
            if transaction.execute(self._restore, {"run_id": run_id}) == 0:
                raise run_not_found(run_id)

    # --- reads -----------------------------------------------------------------------------------
    def get(self, run_id: str) -> pb.Run:
        with self._db.transaction(write=False) as transaction:
            found = self.loader.load(transaction, [run_id])
        if not found:
            raise run_not_found(run_id)
        return pb.Run(**found[0])

    def search(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        view_type: int,
        max_results: int,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> Page[Plain]:
        if max_results < 1:
            raise InvalidParameter(f"Invalid max_results {max_results}: it must be at least 1")
        numbers = [parse_experiment_id(experiment_id) for experiment_id in experiment_ids]
        conditions = run_filter_conditions(filter_string)
        offset = decode_page_token(page_token)
        # The runs' own columns come with the search: the loader need not read them again.
        query = ordered_runs_query([runs.c[column] for column in RUN_COLUMNS], conditions, order_by)
        numbers = [number for number in dict.fromkeys(numbers) if fits_id_column(number)]
        if not numbers:
            return Page([], None)
        query = query.where(
            runs.c.experiment_id.in_(numbers),
            runs.c.lifecycle_stage.in_(lifecycle_stages(view_type)),
        )
        with self._db.read() as connection:
            rows = connection.execute(query.limit(max_results + 1).offset(offset)).all()
            page, more = rows[:max_results], len(rows) > max_results
            found = self.loader.load_rows(Transaction.within(connection), page)
        return Page(found, encode_page_token(offset + max_results) if more else None)
