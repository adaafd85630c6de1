"""Loading whole runs (info, latest metrics, params, tags, inputs) for a list of run ids.

One query per kind of data for the whole list, never one per run, each in hand-written SQL read
through the driver's cursor: a page of a thousand runs carries tens of thousands of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any, Final

from polytrack_server.store.database import Database, Transaction
from polytrack_server.store.interface import Plain
from polytrack_server.store.messages import NAN, empty_run_values
from polytrack_server.store.schema import INPUT_DESTINATION_RUN, INPUT_SOURCE_DATASET, INPUT_SOURCE_MODEL

# The order `messages.run_info_values` reads a run's values in.
RUN_COLUMNS: Final = (
    "run_uuid",
    "name",
    "experiment_id",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "artifact_uri",
)


_RUN_ID: Final = itemgetter(0)


class RunLoader:
    def __init__(self, database: Database) -> None:
        self._db = database
        by_run = database.in_list("run_uuid", "ids")
        self._runs = database.text(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE {by_run}")
        self._metrics = database.text(
            'SELECT run_uuid, "key", value, is_nan, timestamp, step FROM latest_metrics '
            f'WHERE {by_run} ORDER BY run_uuid, "key"'
        )
        self._params = database.text(
            f'SELECT run_uuid, "key", value FROM params WHERE {by_run} ORDER BY run_uuid, "key"'
        )
        self._tags = database.text(
            f'SELECT run_uuid, "key", value FROM tags WHERE {by_run} ORDER BY run_uuid, "key"'
        )
        self._inputs = database.text(
            "SELECT i.destination_id, i.input_uuid, i.source_type, i.source_id, d.name, d.digest, "
            'd.source_type, d.source, d."schema", d.profile '
            "FROM inputs i LEFT OUTER JOIN datasets d "
            f"ON i.source_type = '{INPUT_SOURCE_DATASET}' AND d.dataset_uuid = i.source_id "
            f"WHERE i.destination_type = '{INPUT_DESTINATION_RUN}' "
            f"AND {database.in_list('i.destination_id', 'ids')} "
            "ORDER BY i.destination_id, d.name, d.digest, i.source_id"
        )
        self._input_tags = database.text(
            "SELECT input_uuid, name, value FROM input_tags "
            f"WHERE {database.in_list('input_uuid', 'ids')} ORDER BY input_uuid, name"
        )

    def load(self, transaction: Transaction, run_ids: Sequence[str]) -> list[Plain]:
        """The runs of `run_ids` that exist, in the order of `run_ids`, as plain `Run` values."""
        if not run_ids:
            return []
        rows = transaction.fetch_all(self._runs, {"ids": self._db.list_value(run_ids)})
        found = {row[0]: row for row in rows}
        return self.load_rows(transaction, [found[run_id] for run_id in run_ids if run_id in found])

    def load_rows(self, transaction: Transaction, run_rows: Sequence[Sequence[Any]]) -> list[Plain]:
        """The runs whose `RUN_COLUMNS` values are `run_rows`, in that order, as plain `Run` values."""
        if not run_rows:
            return []
        fetch = transaction.fetch_all
        by_id = {row[0]: empty_run_values(row) for row in run_rows}
        run_ids = list(by_id)
        ids = {"ids": self._db.list_value(run_ids)}
        data = {run_id: run["data"] for run_id, run in by_id.items()}
        self._add_metrics(fetch(self._metrics, ids), data)
        for sql, field in ((self._params, "params"), (self._tags, "tags")):
            # Rows come grouped by run: one list per run, built by a comprehension.
            for run_id, rows in groupby(fetch(sql, ids), key=_RUN_ID):
                data[run_id][field] = [{"key": key, "value": value} for _, key, value in rows]
        self._add_inputs(transaction, fetch(self._inputs, ids), by_id)
        return list(by_id.values())

    @staticmethod
    def _add_metrics(rows: list[Any], data: dict[str, Plain]) -> None:
        for run_id, group in groupby(rows, key=_RUN_ID):
            data[run_id]["metrics"] = [
                {"key": key, "value": NAN if is_nan else value, "timestamp": timestamp, "step": step}
                for _, key, value, is_nan, timestamp, step in group
            ]

    def _add_inputs(self, transaction: Transaction, rows: list[Any], by_id: dict[str, Plain]) -> None:
        dataset_inputs: dict[str, Plain] = {}
        for run_id, input_uuid, kind, source_id, name, digest, source_type, source, schema, profile in rows:
            run_inputs = by_id[run_id]["inputs"]
            if kind == INPUT_SOURCE_MODEL:
                run_inputs.setdefault("model_inputs", []).append({"model_id": source_id})
            elif kind == INPUT_SOURCE_DATASET and name is not None:
                dataset: Plain = {
                    "name": name,
                    "digest": digest,
                    "source_type": source_type,
                    "source": source,
                }
                if schema is not None:
                    dataset["schema"] = schema
                if profile is not None:
                    dataset["profile"] = profile
                # Tags are added below; an empty list is left out of the JSON like an empty field.
                dataset_input: Plain = {"tags": [], "dataset": dataset}
                run_inputs.setdefault("dataset_inputs", []).append(dataset_input)
                dataset_inputs[input_uuid] = dataset_input
        if not dataset_inputs:
            return
        parameters = {"ids": self._db.list_value(list(dataset_inputs))}
        for input_uuid, name, value in transaction.fetch_all(self._input_tags, parameters):
            dataset_inputs[input_uuid]["tags"].append({"key": name, "value": value})
