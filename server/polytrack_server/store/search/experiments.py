"""Experiment search: attributes name, experiment_id, creation_time, last_update_time; tags.

Default order: creation_time DESC, experiment_id ASC; experiment_id ASC always breaks ties.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from polytrack_server.errors import InvalidParameter
from polytrack_server.store.schema import experiment_tags, experiments
from polytrack_server.store.search.grammar import (
    ATTRIBUTE,
    LIST_COMPARATORS,
    NULL_COMPARATORS,
    TAG,
    Comparison,
    OrderKey,
    parse_filter,
    parse_order_by,
)
from polytrack_server.store.search.sql import (
    NUMERIC_COMPARATORS,
    STRING_COMPARATORS,
    numeric_condition,
    reject_repeated_keys,
    require_comparator,
    sort_terms,
    string_condition,
)

EXPERIMENT_ENTITIES: Final = {
    "attribute": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "tag": TAG,
    "tags": TAG,
}

_NUMERIC_ATTRIBUTES: Final = {
    "creation_time": experiments.c.creation_time,
    "last_update_time": experiments.c.last_update_time,
}
_ORDER_ATTRIBUTES: Final = {
    "name": experiments.c.name,
    "experiment_id": experiments.c.experiment_id,
    **_NUMERIC_ATTRIBUTES,
}


def parse_experiment_id_literal(value: object, context: str) -> int:
    """An experiment id written as a number or a string of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise InvalidParameter(f"Invalid experiment ID {value!r} in {context}: it must be an integer")


def _experiment_id_condition(clause: Comparison) -> ColumnElement[bool]:
    require_comparator(clause, ("=", "!=", *LIST_COMPARATORS), "experiment_id")
    column = experiments.c.experiment_id
    if isinstance(clause.value, tuple):
        ids = [parse_experiment_id_literal(item, repr(clause.text)) for item in clause.value]
        return column.in_(ids) if clause.comparator == "IN" else column.not_in(ids)
    if clause.comparator in LIST_COMPARATORS:
        raise InvalidParameter(f"Invalid filter clause {clause.text!r}: {clause.comparator} needs a list")
    experiment_id = parse_experiment_id_literal(clause.value, repr(clause.text))
    return column == experiment_id if clause.comparator == "=" else column != experiment_id


def _attribute_condition(clause: Comparison) -> ColumnElement[bool]:
    key = clause.identifier.key
    if key == "name":
        require_comparator(clause, STRING_COMPARATORS, "the attribute 'name'")
        return string_condition(experiments.c.name, clause)
    if key == "experiment_id":
        return _experiment_id_condition(clause)
    if key in _NUMERIC_ATTRIBUTES:
        require_comparator(clause, NUMERIC_COMPARATORS, f"the attribute {key!r}")
        return numeric_condition(_NUMERIC_ATTRIBUTES[key], clause)
    raise InvalidParameter(
        f"Invalid attribute key {key!r} in {clause.identifier.text!r}; valid attributes are "
        f"{', '.join(_ORDER_ATTRIBUTES)}"
    )


def _tag_condition(clause: Comparison) -> ColumnElement[bool]:
    require_comparator(clause, (*STRING_COMPARATORS, *NULL_COMPARATORS), "a tag")
    tag = experiment_tags.alias("filter_tag")
    has_key = sa.and_(tag.c.experiment_id == experiments.c.experiment_id, tag.c.key == clause.identifier.key)
    if clause.comparator == "IS NULL":
        return ~sa.exists().where(has_key)
    if clause.comparator == "IS NOT NULL":
        return sa.exists().where(has_key)
    return sa.exists().where(has_key, string_condition(tag.c.value, clause))


def experiment_filter_conditions(filter_string: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for clause in parse_filter(filter_string, EXPERIMENT_ENTITIES):
        if clause.identifier.entity == TAG:
            conditions.append(_tag_condition(clause))
        else:
            conditions.append(_attribute_condition(clause))
    return conditions


def experiment_order_terms(order_by: Sequence[str]) -> list[ColumnElement[Any]]:
    keys = parse_order_by(order_by, EXPERIMENT_ENTITIES)
    if not keys:
        return [experiments.c.creation_time.desc(), experiments.c.experiment_id.asc()]
    terms: list[ColumnElement[Any]] = []
    identities: list[tuple[OrderKey, str]] = []
    for key in keys:
        name = key.identifier.key
        if key.identifier.entity != ATTRIBUTE or name not in _ORDER_ATTRIBUTES:
            raise InvalidParameter(
                f"Invalid order_by clause {key.identifier.text!r}: experiments can be ordered only by "
                f"{', '.join(_ORDER_ATTRIBUTES)}"
            )
        terms += sort_terms(_ORDER_ATTRIBUTES[name], key.ascending, None)
        identities.append((key, name))
    reject_repeated_keys(identities)
    if "experiment_id" not in {name for _, name in identities}:
        terms.append(experiments.c.experiment_id.asc())
    return terms
