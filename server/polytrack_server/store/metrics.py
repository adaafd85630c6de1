"""Metric measurements: writing them with the latest-value bookkeeping, and reading histories."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from math import isfinite
from operator import itemgetter
from typing import Any, Final

import sqlalchemy as sa

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import InvalidParameter
from polytrack_server.store.database import Database, Transaction
from polytrack_server.store.interface import MetricColumns, MetricPoint, Page, Plain
from polytrack_server.store.messages import MAX_DOUBLE, NAN, stored_metric_value
from polytrack_server.store.metric_packing import (
    SortKey,
    merge_packs,
    pack_ordered_columns,
    pack_points,
    sort_key,
    unpack,
)
from polytrack_server.store.schema import latest_metrics, metric_packs
from polytrack_server.store.search import decode_page_token, encode_page_token

_PACKS: Final = (
    sa.select(
        metric_packs.c.point_count,
        metric_packs.c.points,
        metric_packs.c.model_id,
        metric_packs.c.dataset_name,
        metric_packs.c.dataset_digest,
    )
    .where(metric_packs.c.run_uuid == sa.bindparam("run_id"), metric_packs.c.key == sa.bindparam("key"))
    .order_by(metric_packs.c.pack_id)
)


def _rank(columns: Any) -> Any:
    """What "latest" maximises: (step, timestamp, value), a NaN ranking below every number."""
    return sa.tuple_(
        columns.step,
        columns.timestamp,
        # Literal SQL rather than bound values: the statement is compiled once into driver SQL.
        sa.case((columns.is_nan, sa.literal_column("0")), else_=sa.literal_column("1")),
        columns.value,
    )


_STEP_TIMESTAMP_VALUE: Final = itemgetter(1, 0, 2)


def _latest_rank(point: SortKey) -> tuple[int, int, int, float]:
    """`_rank` in Python, for a point's sort key."""
    timestamp, step, value, is_nan = point
    return (step, timestamp, 1 - is_nan, value)


def sample_evenly(count: int, max_results: int) -> list[int]:
    """Indexes of up to max_results of `count` rows spread evenly, keeping the first and the last
    (only the last when max_results is 1)."""
    if count <= max_results:
        return list(range(count))
    if max_results == 1:
        return [count - 1]
    return [index * (count - 1) // (max_results - 1) for index in range(max_results)]


def _points_of(columns: MetricColumns | None) -> list[MetricPoint]:
    if columns is None:
        return []
    return [
        MetricPoint(key, value, timestamp, step) for key, value, timestamp, step in zip(*columns, strict=True)
    ]


def _pack_row(
    run_id: str,
    key: str,
    model_id: str | None,
    dataset_name: str | None,
    dataset_digest: str | None,
    count: int,
    data: bytes,
) -> dict[str, Any]:
    return {
        "run_uuid": run_id,
        "key": key,
        "model_id": model_id,
        "dataset_name": dataset_name,
        "dataset_digest": dataset_digest,
        "point_count": count,
        "points": data,
    }


class MetricRepository:
    def __init__(self, database: Database) -> None:
        self._db = database
        self._insert_pack = database.driver_sql(
            sa.insert(metric_packs).values(
                {c.name: sa.bindparam(c.name) for c in metric_packs.columns if c.name != "pack_id"}
            )
        )
        self._packs = database.driver_sql(_PACKS)
        upsert = database.insert(latest_metrics)
        self._upsert_latest = database.driver_sql(
            upsert.on_conflict_do_update(
                index_elements=["run_uuid", "key"],
                set_={name: upsert.excluded[name] for name in ("value", "is_nan", "timestamp", "step")},
                where=_rank(upsert.excluded) > _rank(latest_metrics.c),
            )
        )

    def write(
        self,
        transaction: Transaction,
        run_id: str,
        points: Sequence[MetricPoint],
        columns: MetricColumns | None = None,
    ) -> None:
        """Store measurements (exact duplicates ignored) and move each key's latest value forward."""
        if columns is not None and columns.values and points:
            # Both forms in one batch (rare): as points.
            points = [*points, *_points_of(columns)]
            columns = None
        if columns is None or not columns.values:
            if not points:
                return
            point_keys, point_values, point_timestamps, point_steps, *origins = zip(*points, strict=True)
            columns = MetricColumns(point_keys, point_values, point_timestamps, point_steps)
            # Points with a model or dataset take the general path.
            plain = not any(map(any, origins))
        else:
            plain = True
        keys, values, timestamps, steps = columns
        packs: list[dict[str, Any]] | None = None
        if plain and all(map(isfinite, values)):
            packs, latest = self._ordered_packs(run_id, keys, values, timestamps, steps)
        if packs is None:
            packs, latest = self._packs_of(run_id, points or _points_of(columns))
        transaction.execute_many(self._insert_pack, packs)
        transaction.execute_many(
            self._upsert_latest,
            [
                {
                    "run_uuid": run_id,
                    "key": key,
                    "value": value,
                    "is_nan": bool(is_nan),
                    "timestamp": timestamp,
                    "step": step,
                }
                for key, (timestamp, step, value, is_nan) in latest.items()
            ],
        )

    @staticmethod
    def _ordered_packs(
        run_id: str,
        keys: Sequence[str],
        values: Sequence[float],
        timestamps: Sequence[int],
        steps: Sequence[int],
    ) -> tuple[list[dict[str, Any]] | None, dict[str, SortKey]]:
        """The packs of finite points without models or datasets, each key's points already in
        order (the usual batch), worked out column by column in C; (None, {}) when they are not."""
        packs: list[dict[str, Any]] = []
        latest: dict[str, SortKey] = {}
        order = sorted(range(len(keys)), key=keys.__getitem__)
        for key, group in groupby(order, key=keys.__getitem__):
            indexes = list(group)
            group_timestamps: Sequence[int]
            group_steps: Sequence[int]
            group_values: Sequence[float]
            if len(indexes) == 1:
                # itemgetter of one index gives the item itself, not a tuple.
                only = indexes[0]
                group_timestamps, group_steps, group_values = (
                    (timestamps[only],),
                    (steps[only],),
                    (values[only],),
                )
            else:
                pick = itemgetter(*indexes)
                group_timestamps, group_steps, group_values = pick(timestamps), pick(steps), pick(values)
            packed = pack_ordered_columns(group_timestamps, group_steps, group_values)
            if packed is None:
                return None, {}
            packs.append(_pack_row(run_id, key, None, None, None, *packed))
            step, timestamp, value = max(zip(group_steps, group_timestamps, group_values, strict=True))
            latest[key] = (timestamp, step, value, 0)
        return packs, latest

    @staticmethod
    def _packs_of(
        run_id: str, points: Sequence[MetricPoint]
    ) -> tuple[list[dict[str, Any]], dict[str, SortKey]]:
        """The packs of any points: one sort key per point, grouped by metric (and model and
        dataset, which a pack holds once)."""
        # A group is named by its metric key alone when no model or dataset is given.
        groups: dict[str | tuple[str, str | None, str | None, str | None], list[SortKey]] = {}
        any_nan = False
        for key, value, timestamp, step, model_id, dataset_name, dataset_digest in points:
            group_name: str | tuple[str, str | None, str | None, str | None] = key
            if model_id or dataset_name or dataset_digest:
                group_name = (key, model_id or None, dataset_name or None, dataset_digest or None)
            if not -MAX_DOUBLE <= value <= MAX_DOUBLE and value == value:
                value = stored_metric_value(value)[0]
            point = sort_key(timestamp, step, value)
            any_nan = any_nan or bool(point[3])
            group = groups.get(group_name)
            if group is None:
                groups[group_name] = [point]
            else:
                group.append(point)
        packs: list[dict[str, Any]] = []
        latest: dict[str, SortKey] = {}
        for group_name, group in groups.items():
            key, model_id, dataset_name, dataset_digest = (
                (group_name, None, None, None) if isinstance(group_name, str) else group_name
            )
            packs.append(_pack_row(run_id, key, model_id, dataset_name, dataset_digest, *pack_points(group)))
            # Without NaN, (step, timestamp, value) alone decides, compared in C.
            best = max(group, key=_latest_rank if any_nan else _STEP_TIMESTAMP_VALUE)
            if key not in latest or _latest_rank(best) > _latest_rank(latest[key]):
                latest[key] = best
        return packs, latest

    def history(self, run_id: str, key: str, max_results: int | None, page_token: str | None) -> Page[Plain]:
        """Ordered by timestamp, step, value; everything at once unless max_results is given."""
        offset = decode_page_token(page_token)
        if max_results is not None and max_results < 1:
            raise InvalidParameter(f"Invalid max_results {max_results}: it must be at least 1")
        with self._db.transaction(write=False) as transaction:
            rows = transaction.fetch_all(self._packs, {"run_id": run_id, "key": key})
        history = merge_packs([unpack(count, data) for count, data, *_ in rows])
        total = len(history.values)
        stop = total if max_results is None else min(total, offset + max_results)
        points = zip(
            history.timestamps[offset:stop],
            history.steps[offset:stop],
            history.values[offset:stop],
            strict=True,
        )
        metrics = [{"key": key, "value": value, "timestamp": t, "step": step} for t, step, value in points]
        if any(model_id or name or digest for _, _, model_id, name, digest in rows):
            # Rare: points logged with a model or dataset carry it from their pack.
            for metric, pack in zip(metrics, history.pack_indexes(offset, stop), strict=True):
                _, _, model_id, dataset_name, dataset_digest = rows[pack]
                # Field-number order: dataset_name, dataset_digest, model_id.
                for field, value in (
                    ("dataset_name", dataset_name),
                    ("dataset_digest", dataset_digest),
                    ("model_id", model_id),
                ):
                    if value is not None:
                        metric[field] = value
        next_token = encode_page_token(stop) if stop < total else None
        return Page(metrics, next_token)

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
        sql = self._db.text(
            'SELECT run_uuid, point_count, points FROM metric_packs WHERE "key" = :key'
            f" AND {self._db.in_list('run_uuid', 'run_ids')} ORDER BY run_uuid, pack_id"
        )
        parameters = {"key": key, "run_ids": self._db.list_value(unique_ids)}
        per_run: dict[str, set[tuple[int, int, float, int]]] = {run_id: set() for run_id in unique_ids}
        low = start_step if start_step is not None else -(2**63)
        high = end_step if end_step is not None else 2**63 - 1
        with self._db.transaction(write=False) as transaction:
            rows = transaction.fetch_all(sql, parameters)
        for run_id, count, data in rows:
            pack = unpack(count, data)
            points = per_run[run_id]
            for timestamp, step, value in zip(pack.timestamps, pack.steps, pack.values, strict=True):
                if low <= step <= high:
                    # Ordered by (step, timestamp, value) here, unlike a history.
                    _, _, stored, is_nan = sort_key(timestamp, step, value)
                    points.add((step, timestamp, stored, is_nan))
        sampled: list[pb.MetricWithRunId] = []
        for run_id in unique_ids:
            ordered = sorted(per_run[run_id])
            for index in sample_evenly(len(ordered), max_results):
                step, timestamp, value, is_nan = ordered[index]
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
