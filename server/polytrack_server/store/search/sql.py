"""Pieces shared by the run and experiment translations of parsed clauses into SQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from polytrack_server.errors import InvalidParameter
from polytrack_server.store.search.grammar import Comparison, OrderKey

_NUMERIC_OPERATORS: Final[dict[str, Callable[[Any, Any], ColumnElement[bool]]]] = {
    "=": lambda column, value: column == value,
    "!=": lambda column, value: column != value,
    ">": lambda column, value: column > value,
    ">=": lambda column, value: column >= value,
    "<": lambda column, value: column < value,
    "<=": lambda column, value: column <= value,
}

STRING_COMPARATORS: Final = ("=", "!=", "LIKE", "ILIKE")
NUMERIC_COMPARATORS: Final = tuple(_NUMERIC_OPERATORS)


def invalid_comparator(clause: Comparison, allowed: tuple[str, ...], what: str) -> InvalidParameter:
    return InvalidParameter(
        f"Invalid comparator {clause.comparator!r} in the filter clause {clause.text!r}: {what} "
        f"supports only {', '.join(allowed)}"
    )


def require_comparator(clause: Comparison, allowed: tuple[str, ...], what: str) -> None:
    if clause.comparator not in allowed:
        raise invalid_comparator(clause, allowed, what)


def number_value(clause: Comparison) -> int | float:
    value = clause.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(
            f"Invalid filter clause {clause.text!r}: {clause.identifier.text!r} must be compared "
            f"with an unquoted number, not {value!r}"
        )
    return value


def string_value(clause: Comparison) -> str:
    if not isinstance(clause.value, str):
        raise InvalidParameter(
            f"Invalid filter clause {clause.text!r}: {clause.identifier.text!r} must be compared "
            f"with a quoted string, not {clause.value!r}"
        )
    return clause.value


def string_list(clause: Comparison) -> tuple[str, ...]:
    values = clause.value
    assert isinstance(values, tuple)
    for item in values:
        if not isinstance(item, str):
            raise InvalidParameter(
                f"Invalid filter clause {clause.text!r}: the list must hold quoted strings, not {item!r}"
            )
    return tuple(str(item) for item in values)


def numeric_condition(column: Any, clause: Comparison) -> ColumnElement[bool]:
    return _NUMERIC_OPERATORS[clause.comparator](column, number_value(clause))


def string_condition(column: ColumnElement[Any], clause: Comparison) -> ColumnElement[bool]:
    """`=`, `!=` and LIKE are case-sensitive (SQLite runs with case_sensitive_like); ILIKE is not."""
    comparator = clause.comparator
    if comparator in ("IN", "NOT IN"):
        values = string_list(clause)
        return column.in_(values) if comparator == "IN" else column.not_in(values)
    value = string_value(clause)
    if comparator == "=":
        return column == value
    if comparator == "!=":
        return column != value
    if comparator == "LIKE":
        return column.like(value)
    if comparator == "ILIKE":
        return column.ilike(value)
    raise AssertionError(f"unhandled string comparator {comparator}")


def sort_terms(column: Any, ascending: bool, missing: ColumnElement[bool] | None) -> list[ColumnElement[Any]]:
    """ORDER BY terms for `column`, rows where `missing` holds last in either direction."""
    terms: list[ColumnElement[Any]] = []
    if missing is not None:
        terms.append(sa.case((missing, 1), else_=0))
    terms.append(column.asc() if ascending else column.desc())
    return terms


def reject_repeated_keys(keys: list[tuple[OrderKey, str]]) -> None:
    """`keys` pairs each order key with its identity once aliases are resolved."""
    seen: dict[str, OrderKey] = {}
    for key, identity in keys:
        if identity in seen:
            raise InvalidParameter(
                f"Invalid order_by: {key.identifier.text!r} repeats the key "
                f"{seen[identity].identifier.text!r}; each key may appear only once"
            )
        seen[identity] = key
