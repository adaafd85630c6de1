"""Run search: filter clauses and order keys translated into one SELECT over `runs`.

Metric clauses and keys use the run's latest value of the metric (`latest_metrics`). A NaN latest
value satisfies only `!=`. Runs lacking a metric, param or tag never match a comparison on it
(only `IS NULL`) and sort after every run that has it, in either direction; NaN metrics sort after
numbers and before missing ones. Ties are broken by start_time DESC, then run_id ASC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from polytrack_server.errors import InvalidParameter
from polytrack_server.store.schema import (
    INPUT_DESTINATION_RUN,
    INPUT_SOURCE_DATASET,
    datasets,
    input_tags,
    inputs,
    latest_metrics,
    params,
    runs,
    tags,
)
from polytrack_server.store.search.grammar import (
    ATTRIBUTE,
    DATASET,
    LIST_COMPARATORS,
    METRIC,
    NULL_COMPARATORS,
    PARAM,
    TAG,
    Comparison,
    OrderKey,
    parse_filter,
    parse_order_by,
)
from polytrack_server.store.search.sql import (
    NUMERIC_COMPARATORS,
    STRING_COMPARATORS,
    number_value,
    numeric_condition,
    reject_repeated_keys,
    require_comparator,
    sort_terms,
    string_condition,
)

RUN_ENTITIES: Final = {
    "metric": METRIC,
    "metrics": METRIC,
    "param": PARAM,
    "params": PARAM,
    "parameter": PARAM,
    "parameters": PARAM,
    "tag": TAG,
    "tags": TAG,
    "attribute": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "attr": ATTRIBUTE,
    "run": ATTRIBUTE,
    "dataset": DATASET,
    "datasets": DATASET,
}

_STRING_ATTRIBUTES: Final = {
    "run_id": runs.c.run_uuid,
    "run_name": runs.c.name,
    "status": runs.c.status,
    "user_id": runs.c.user_id,
    "artifact_uri": runs.c.artifact_uri,
}
_NUMERIC_ATTRIBUTES: Final = {
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
}
_ATTRIBUTE_ALIASES: Final = {"run name": "run_name", "run_uuid": "run_id", "created": "start_time"}
_DATASET_KEYS: Final = ("name", "digest", "context")
DATASET_CONTEXT_TAG: Final = "mlflow.data.context"


def _attribute_name(key: str) -> str:
    """Canonical attribute name; `run name` in any case is run_name, created is start_time."""
    return _ATTRIBUTE_ALIASES.get(key.lower() if key.lower() == "run name" else key, key)


def _attribute_column(key: str, text: str) -> tuple[Any, bool]:
    """(column, is_numeric) of a run attribute."""
    name = _attribute_name(key)
    if name in _STRING_ATTRIBUTES:
        return _STRING_ATTRIBUTES[name], False
    if name in _NUMERIC_ATTRIBUTES:
        return _NUMERIC_ATTRIBUTES[name], True
    valid = ", ".join(sorted([*_STRING_ATTRIBUTES, *_NUMERIC_ATTRIBUTES, "created"]))
    raise InvalidParameter(f"Invalid attribute key {key!r} in {text!r}; valid attributes are {valid}")


def _metric_condition(clause: Comparison) -> ColumnElement[bool]:
    require_comparator(clause, NUMERIC_COMPARATORS, "a metric")
    number_value(clause)
    metric = latest_metrics.alias("filter_metric")
    if clause.comparator == "!=":
        value_matches = sa.or_(metric.c.is_nan, numeric_condition(metric.c.value, clause))
    else:
        value_matches = sa.and_(sa.not_(metric.c.is_nan), numeric_condition(metric.c.value, clause))
    return sa.exists().where(
        metric.c.run_uuid == runs.c.run_uuid, metric.c.key == clause.identifier.key, value_matches
    )


def _key_value_condition(table: sa.Table, clause: Comparison, what: str) -> ColumnElement[bool]:
    allowed = (*STRING_COMPARATORS, *NULL_COMPARATORS)
    require_comparator(clause, allowed, what)
    row = table.alias(f"filter_{table.name}")
    has_key = sa.and_(row.c.run_uuid == runs.c.run_uuid, row.c.key == clause.identifier.key)
    if clause.comparator == "IS NULL":
        return ~sa.exists().where(has_key)
    if clause.comparator == "IS NOT NULL":
        return sa.exists().where(has_key)
    return sa.exists().where(has_key, string_condition(row.c.value, clause))


def _attribute_condition(clause: Comparison) -> ColumnElement[bool]:
    column, numeric = _attribute_column(clause.identifier.key, clause.identifier.text)
    if numeric:
        require_comparator(clause, NUMERIC_COMPARATORS, "a numeric attribute")
        return numeric_condition(column, clause)
    is_run_id = column is runs.c.run_uuid
    allowed = (*STRING_COMPARATORS, *LIST_COMPARATORS) if is_run_id else STRING_COMPARATORS
    require_comparator(clause, allowed, f"the attribute {clause.identifier.key!r}")
    return string_condition(column, clause)


def _dataset_condition(clause: Comparison) -> ColumnElement[bool]:
    key = clause.identifier.key
    if key not in _DATASET_KEYS:
        raise InvalidParameter(
            f"Invalid dataset key {key!r} in {clause.identifier.text!r}; valid keys are "
            f"{', '.join(_DATASET_KEYS)}"
        )
    require_comparator(clause, (*STRING_COMPARATORS, *LIST_COMPARATORS), "a dataset key")
    run_input = inputs.alias("filter_input")
    dataset = datasets.alias("filter_dataset")
    source: Any = run_input.join(dataset, dataset.c.dataset_uuid == run_input.c.source_id)
    if key == "context":
        context = input_tags.alias("filter_input_tag")
        source = source.join(
            context,
            sa.and_(
                context.c.input_uuid == run_input.c.input_uuid,
                context.c.name == DATASET_CONTEXT_TAG,
            ),
        )
        column = context.c.value
    else:
        column = dataset.c[key]
    return (
        sa.exists()
        .select_from(source)
        .where(
            run_input.c.destination_type == INPUT_DESTINATION_RUN,
            run_input.c.destination_id == runs.c.run_uuid,
            run_input.c.source_type == INPUT_SOURCE_DATASET,
            string_condition(column, clause),
        )
    )


def run_filter_conditions(filter_string: str | None) -> list[ColumnElement[bool]]:
    """WHERE conditions over `runs` for a filter string; bad grammar -> InvalidParameter."""
    conditions: list[ColumnElement[bool]] = []
    for clause in parse_filter(filter_string, RUN_ENTITIES):
        entity = clause.identifier.entity
        if entity == METRIC:
            conditions.append(_metric_condition(clause))
        elif entity == PARAM:
            conditions.append(_key_value_condition(params, clause, "a param"))
        elif entity == TAG:
            conditions.append(_key_value_condition(tags, clause, "a tag"))
        elif entity == DATASET:
            conditions.append(_dataset_condition(clause))
        else:
            conditions.append(_attribute_condition(clause))
    return conditions


def ordered_runs_query(
    columns: Sequence[Any], conditions: Sequence[ColumnElement[bool]], order_by: Sequence[str]
) -> sa.Select[Any]:
    """SELECT `columns` FROM runs WHERE `conditions`, ordered by the order_by strings."""
    keys = parse_order_by(order_by, RUN_ENTITIES)
    query = sa.select(*columns).select_from(runs)
    terms: list[ColumnElement[Any]] = []
    identities: list[tuple[OrderKey, str]] = []
    for position, key in enumerate(keys):
        entity, name = key.identifier.entity, key.identifier.key
        if entity == METRIC:
            metric = latest_metrics.alias(f"order_metric_{position}")
            query = query.outerjoin(
                metric, sa.and_(metric.c.run_uuid == runs.c.run_uuid, metric.c.key == name)
            )
            rank = sa.case((metric.c.run_uuid.is_(None), 2), (metric.c.is_nan, 1), else_=0)
            value = metric.c.value
            terms += [rank, value.asc() if key.ascending else value.desc()]
        elif entity in (PARAM, TAG):
            table = params if entity == PARAM else tags
            row = table.alias(f"order_{table.name}_{position}")
            query = query.outerjoin(row, sa.and_(row.c.run_uuid == runs.c.run_uuid, row.c.key == name))
            terms += sort_terms(row.c.value, key.ascending, row.c.value.is_(None))
        elif entity == ATTRIBUTE:
            column, _ = _attribute_column(name, key.identifier.text)
            name = _attribute_name(name)
            missing = column.is_(None) if column.nullable else None
            terms += sort_terms(column, key.ascending, missing)
        else:
            raise InvalidParameter(
                f"Invalid order_by clause {key.identifier.text!r}: runs cannot be ordered by {entity}s"
            )
        identities.append((key, f"{entity}:{name}"))
    reject_repeated_keys(identities)
    named = {identity for _, identity in identities}
    if f"{ATTRIBUTE}:start_time" not in named:
        terms.append(runs.c.start_time.desc())
    if f"{ATTRIBUTE}:run_id" not in named:
        terms.append(runs.c.run_uuid.asc())
    return query.where(*conditions).order_by(*terms)
