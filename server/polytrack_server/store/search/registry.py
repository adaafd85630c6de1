"""Registry search: filters and orderings of registered models and of model versions.

Registered models: attribute `name` (`= != LIKE ILIKE IN NOT IN`) and `tags.<key>` (`= != LIKE
ILIKE`); ordered by name, timestamp or last_updated_timestamp (both timestamps mean the last
update), ties broken by name ASC.

Model versions: attributes `name` and `run_id` (`= != LIKE ILIKE IN NOT IN`), `source_path`
(`= != LIKE ILIKE`), `version_number` (numeric, integers only) and `tags.<key>`; ordered by name,
version_number, creation_timestamp or last_updated_timestamp; the default order is
`last_updated_timestamp DESC, name ASC, version_number DESC`, and name ASC, version_number DESC
always break ties.

Both searches leave out prompts (entities tagged `mlflow.prompt.is_prompt = 'true'`) unless the
filter asks for them (see `_split_prompt_clauses`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from polytrack_server.errors import InvalidParameter
from polytrack_server.store.schema import (
    model_version_tags,
    model_versions,
    registered_model_tags,
    registered_models,
)
from polytrack_server.store.search.grammar import (
    ATTRIBUTE,
    LIST_COMPARATORS,
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

PROMPT_TAG: Final = "mlflow.prompt.is_prompt"

REGISTRY_ENTITIES: Final = {
    "attribute": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "tag": TAG,
    "tags": TAG,
}

_LISTABLE_STRING: Final = (*STRING_COMPARATORS, *LIST_COMPARATORS)

_MODEL_ORDER: Final = {
    "name": registered_models.c.name,
    "timestamp": registered_models.c.last_updated_timestamp,
    "last_updated_timestamp": registered_models.c.last_updated_timestamp,
}
_VERSION_ORDER: Final = {
    "name": model_versions.c.name,
    "version_number": model_versions.c.version,
    "creation_timestamp": model_versions.c.creation_timestamp,
    "last_updated_timestamp": model_versions.c.last_updated_timestamp,
}


def _is_prompt_clause(clause: Comparison) -> bool:
    return clause.identifier.entity == TAG and clause.identifier.key == PROMPT_TAG


def _split_prompt_clauses(clauses: Sequence[Comparison]) -> tuple[list[Comparison], bool]:
    """The clauses to apply, and whether prompts are what is searched for.

    The first clause on the prompt tag decides: `= 'true'` or `!= 'false'` searches prompts (the
    clauses then apply as written); anything else, or no such clause, searches everything but
    prompts, and the prompt-tag clauses are dropped (MLflow's clients add `!= 'true'` to every
    search, which models lacking the tag would otherwise fail).
    """
    first = next((clause for clause in clauses if _is_prompt_clause(clause)), None)
    if first is not None and isinstance(first.value, str):
        wanted = (first.comparator, first.value.lower())
        if wanted in (("=", "true"), ("!=", "false")):
            return list(clauses), True
    return [clause for clause in clauses if not _is_prompt_clause(clause)], False


def _tag_condition(clause: Comparison, tag_table: sa.Table, link: Any) -> ColumnElement[bool]:
    require_comparator(clause, STRING_COMPARATORS, "a tag")
    tag = tag_table.alias("filter_tag")
    return sa.exists().where(
        *link(tag), tag.c.key == clause.identifier.key, string_condition(tag.c.value, clause)
    )


def _model_tag_link(tag: Any) -> list[ColumnElement[bool]]:
    return [tag.c.name == registered_models.c.name]


def _version_tag_link(tag: Any) -> list[ColumnElement[bool]]:
    return [tag.c.name == model_versions.c.name, tag.c.version == model_versions.c.version]


def _is_prompt(tag_table: sa.Table, link: Any) -> ColumnElement[bool]:
    tag = tag_table.alias("prompt_tag")
    return sa.exists().where(*link(tag), tag.c.key == PROMPT_TAG, sa.func.lower(tag.c.value) == "true")


def registered_model_filter_conditions(filter_string: str | None) -> list[ColumnElement[bool]]:
    clauses, prompts = _split_prompt_clauses(parse_filter(filter_string, REGISTRY_ENTITIES))
    conditions: list[ColumnElement[bool]] = []
    for clause in clauses:
        if clause.identifier.entity == TAG:
            conditions.append(_tag_condition(clause, registered_model_tags, _model_tag_link))
            continue
        if clause.identifier.key != "name":
            raise InvalidParameter(
                f"Invalid attribute key {clause.identifier.key!r} in {clause.identifier.text!r}: "
                "registered models can be filtered by the attribute 'name' and by tags only"
            )
        require_comparator(clause, _LISTABLE_STRING, "the attribute 'name'")
        conditions.append(_string_or_list_condition(registered_models.c.name, clause))
    if not prompts:
        conditions.append(~_is_prompt(registered_model_tags, _model_tag_link))
    return conditions


def _string_or_list_condition(column: Any, clause: Comparison) -> ColumnElement[bool]:
    if clause.comparator in LIST_COMPARATORS and not isinstance(clause.value, tuple):
        raise InvalidParameter(f"Invalid filter clause {clause.text!r}: {clause.comparator} needs a list")
    if isinstance(clause.value, tuple) and clause.comparator not in LIST_COMPARATORS:
        raise InvalidParameter(f"Invalid filter clause {clause.text!r}: a list needs IN or NOT IN")
    return string_condition(column, clause)


def _version_number_condition(clause: Comparison) -> ColumnElement[bool]:
    require_comparator(clause, NUMERIC_COMPARATORS, "the attribute 'version_number'")
    if not isinstance(clause.value, int) or isinstance(clause.value, bool):
        raise InvalidParameter(
            f"Invalid filter clause {clause.text!r}: version_number must be compared with an integer"
        )
    return numeric_condition(model_versions.c.version, clause)


def model_version_filter_conditions(filter_string: str | None) -> list[ColumnElement[bool]]:
    clauses, prompts = _split_prompt_clauses(parse_filter(filter_string, REGISTRY_ENTITIES))
    conditions: list[ColumnElement[bool]] = []
    for clause in clauses:
        key = clause.identifier.key
        if clause.identifier.entity == TAG:
            conditions.append(_tag_condition(clause, model_version_tags, _version_tag_link))
        elif key in ("name", "run_id"):
            require_comparator(clause, _LISTABLE_STRING, f"the attribute {key!r}")
            conditions.append(_string_or_list_condition(model_versions.c[key], clause))
        elif key == "source_path":
            require_comparator(clause, STRING_COMPARATORS, "the attribute 'source_path'")
            conditions.append(string_condition(model_versions.c.source, clause))
        elif key == "version_number":
            conditions.append(_version_number_condition(clause))
        else:
            raise InvalidParameter(
                f"Invalid attribute key {key!r} in {clause.identifier.text!r}; model versions can be "
                "filtered by name, run_id, source_path, version_number and tags"
            )
    if not prompts:
        conditions.append(~_is_prompt(model_version_tags, _version_tag_link))
        model_tag = registered_model_tags.alias("model_prompt_tag")
        conditions.append(
            ~sa.exists().where(
                model_tag.c.name == model_versions.c.name,
                model_tag.c.key == PROMPT_TAG,
                sa.func.lower(model_tag.c.value) == "true",
            )
        )
    return conditions


def _order_terms(
    order_by: Sequence[str], columns: dict[str, Any], what: str
) -> tuple[list[ColumnElement[Any]], set[str]]:
    terms: list[ColumnElement[Any]] = []
    identities: list[tuple[OrderKey, str]] = []
    for key in parse_order_by(order_by, REGISTRY_ENTITIES):
        name = key.identifier.key
        if key.identifier.entity != ATTRIBUTE or name not in columns:
            raise InvalidParameter(
                f"Invalid order_by clause {key.identifier.text!r}: {what} can be ordered only by "
                f"{', '.join(columns)}"
            )
        terms += sort_terms(columns[name], key.ascending, None)
        # Both timestamps of registered models are one column: ordering by both is a repeat.
        identities.append((key, str(columns[name].name)))
    reject_repeated_keys(identities)
    return terms, {identity for _, identity in identities}


def registered_model_order_terms(order_by: Sequence[str]) -> list[ColumnElement[Any]]:
    terms, used = _order_terms(order_by, _MODEL_ORDER, "registered models")
    if "name" not in used:
        terms.append(registered_models.c.name.asc())
    return terms


def model_version_order_terms(order_by: Sequence[str]) -> list[ColumnElement[Any]]:
    if not order_by:
        return [
            model_versions.c.last_updated_timestamp.desc(),
            model_versions.c.name.asc(),
            model_versions.c.version.desc(),
        ]
    terms, used = _order_terms(order_by, _VERSION_ORDER, "model versions")
    if "name" not in used:
        terms.append(model_versions.c.name.asc())
    if "version" not in used:
        terms.append(model_versions.c.version.desc())
    return terms
