"""Metric measurements: writing them with the latest-value bookkeeping, and reading histories."""

from __future__ import annotations

from collections.abc import Callable, MutableSequence, Sequence
from typing import Any, Final

import sqlalchemy as sa

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import InvalidParameter
from polytrack_server.store.database import Database, Transaction
from polytrack_server.store.interface import MetricPoint, Page
from polytrack_server.store.messages import MAX_DOUBLE, NAN, stored_metric_value
from polytrack_server.store.schema import latest_metrics, metrics
from polytrack_server.store.search import decode_page_token, encode_page_token

_HISTORY: Final = (
    sa.select(
        metrics.c.timestamp,
        metrics.c.step,
        metrics.c.value,
        metrics.c.is_nan,
        metrics.c.model_id,
        metrics.c.dataset_name,
        metrics.c.dataset_digest,
    )
    .where(metrics.c.run_uuid == sa.bindparam("run_id"), metrics.c.key == sa.bindparam("key"))
    .order_by(metrics.c.timestamp, metrics.c.step, metrics.c.value)
)
_HISTORY_PAGE: Final = _HISTORY.limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))


def _rank(columns: Any) -> Any:
    """What "latest" maximises: (step, timestamp, value), a NaN ranking below every number."""
    return sa.tuple_(
        columns.step,
        columns.timestamp,
        # Literal SQL rather than bound values: the statement is compiled once into driver SQL.
        sa.case((columns.is_nan, sa.literal_column("0")), else_=sa.literal_column("1")),
        columns.value,
    )


def sample_evenly(count: int, max_results: int) -> list[int]:
    """Indexes of up to max_results of `count` rows spread evenly, keeping the first and the last
    (only the last when max_results is 1)."""
    if count <= max_results:
        return list(range(count))
    if max_results == 1:
        return [count - 1]
    return [index * (count - 1) // (max_results - 1) for index in range(max_results)]


def _appender(items: MutableSequence[pb.Metric]) -> Callable[..., pb.Metric]:
    """A function creating a Metric at the end of `items`: in place for a protobuf repeated field."""
    add = getattr(items, "add", None)
    if add is not None:
        return add  # type: ignore[no-any-return]

    def append(**fields: Any) -> pb.Metric:
        metric = pb.Metric(**fields)
        items.append(metric)
        return metric

    return append


class MetricRepository:
    def __init__(self, database: Database) -> None:
        self._db = database
        self._insert = database.insert_ignoring_duplicates(metrics)
        self._history = database.driver_sql(_HISTORY)
        self._history_page = database.driver_sql(_HISTORY_PAGE)
        upsert = database.insert(latest_metrics)
        self._upsert_latest = database.driver_sql(
            upsert.on_conflict_do_update(
                index_elements=["run_uuid", "key"],
                set_={name: upsert.excluded[name] for name in ("value", "is_nan", "timestamp", "step")},
                where=_rank(upsert.excluded) > _rank(latest_metrics.c),
            )
        )

    def write(self, transaction: Transaction, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Store measurements (exact duplicates ignored) and move each key's latest value forward."""
        # The hot loop of every log call: plain locals, one dict per row, the rank compared only
        # when a key's step and timestamp do not already decide it.
        rows: list[dict[str, Any]] = []
        append = rows.append
        latest: dict[str, tuple[tuple[int, int, int, float], dict[str, Any]]] = {}
        for key, value, timestamp, step, model_id, dataset_name, dataset_digest in points:
            is_nan = value != value
            if is_nan or not -MAX_DOUBLE <= value <= MAX_DOUBLE:
                value, is_nan = stored_metric_value(value)
            row = {
                "run_uuid": run_id,
                "key": key,
                "timestamp": timestamp,
                "step": step,
                "value": value,
                "is_nan": is_nan,
                "model_id": model_id,
                "dataset_name": dataset_name,
                "dataset_digest": dataset_digest,
            }
            append(row)
            best = latest.get(key)
            if best is None:
                latest[key] = ((step, timestamp, 0 if is_nan else 1, value), row)
            else:
                rank = (step, timestamp, 0 if is_nan else 1, value)
                if rank > best[0]:
                    latest[key] = (rank, row)
        transaction.execute_many(self._insert, rows)
        transaction.execute_many(
            self._upsert_latest,
            [
                {
                    "run_uuid": run_id,
                    "key": key,
                    "value": row["value"],
                    "is_nan": row["is_nan"],
                    "timestamp": row["timestamp"],
                    "step": row["step"],
                }
                for key, (_, row) in latest.items()
            ],
        )

    def history(
        self,
        run_id: str,
        key: str,
        max_results: int | None,
        page_token: str | None,
        into: MutableSequence[pb.Metric] | None = None,
    ) -> Page[pb.Metric]:
        """Ordered by timestamp, step, value; everything at once unless max_results is given.

        With `into` (a response's repeated field) the metrics are built in place there, which
        spares copying a 100,000-point history from a list into the response.
        """
        offset = decode_page_token(page_token)
        if max_results is not None and max_results < 1:
            raise InvalidParameter(f"Invalid max_results {max_results}: it must be at least 1")
        with self._db.transaction(write=False) as transaction:
            if max_results is None:
                rows = transaction.fetch_all(self._history, {"run_id": run_id, "key": key})[offset:]
            else:
                parameters = {"run_id": run_id, "key": key, "limit": max_results + 1, "offset": offset}
                rows = transaction.fetch_all(self._history_page, parameters)
        more = max_results is not None and len(rows) > max_results
        if more:
            rows = rows[:max_results]
        items: MutableSequence[pb.Metric] = [] if into is None else into
        new_metric = _appender(items)
        for timestamp, step, value, is_nan, model_id, dataset_name, dataset_digest in rows:
            metric = new_metric(key=key, value=NAN if is_nan else value, timestamp=timestamp, step=step)
            if model_id is not None:
                metric.model_id = model_id
            if dataset_name is not None:
                metric.dataset_name = dataset_name
            if dataset_digest is not None:
                metric.dataset_digest = dataset_digest
        next_token = encode_page_token(offset + len(rows)) if more else None
        return Page(items, next_token)  # type: ignore[arg-type]  # a list, or the caller's field

    def bulk_interval(
        self,
        run_ids: Sequence[str],
        key: str,
        start_step: int | None,
        end_step: int | None,
        max_results: int,
    ) -> list[pb.MetricWithRunId]:
        """Per run, in request order, up to max_results points sampled evenly over the rows in the
        step range ordered by (step, timestamp, value)."""
        if max_results < 1:
            raise InvalidParameter(f"Invalid max_results {max_results}: it must be at least 1")
        unique_ids = list(dict.fromkeys(run_ids))
        step_range = "".join(
            condition
            for condition, bound in (
                (" AND step >= :start_step", start_step),
                (" AND step <= :end_step", end_step),
            )
            if bound is not None
        )
        sql = self._db.text(
            'SELECT run_uuid, step, timestamp, value, is_nan FROM metrics WHERE "key" = :key'
            f" AND {self._db.in_list('run_uuid', 'run_ids')}{step_range}"
            " ORDER BY run_uuid, step, timestamp, value"
        )
        parameters = {
            "key": key,
            "run_ids": self._db.list_value(unique_ids),
            "start_step": start_step,
            "end_step": end_step,
        }
        per_run: dict[str, list[Any]] = {run_id: [] for run_id in unique_ids}
        with self._db.transaction(write=False) as transaction:
            for row in transaction.fetch_all(sql, parameters):
                per_run[row[0]].append(row)
        sampled: list[pb.MetricWithRunId] = []
        for run_id in unique_ids:
            rows = per_run[run_id]
            for index in sample_evenly(len(rows), max_results):
                _, step, timestamp, value, is_nan = rows[index]
                sampled.append(
                    pb.MetricWithRunId(
                        key=key,
                        value=NAN if is_nan else value,
                        timestamp=timestamp,
                        step=step,
                        run_id=run_id,
                    )
                )
        return sampled
