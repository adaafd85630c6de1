from __future__ import annotations

import pytest

from polytrack_server.errors import InvalidParameter
from polytrack_server.store.search.grammar import (
    ATTRIBUTE,
    METRIC,
    PARAM,
    TAG,
    Comparison,
    Identifier,
    parse_filter,
    parse_order_by,
)
from polytrack_server.store.search.runs import RUN_ENTITIES


def parse_one(text: str) -> Comparison:
    clauses = parse_filter(text, RUN_ENTITIES)
    assert len(clauses) == 1
    return clauses[0]


def test_empty_or_blank_filter_has_no_clauses():
    assert parse_filter(None, RUN_ENTITIES) == []
    assert parse_filter("", RUN_ENTITIES) == []
    assert parse_filter("   ", RUN_ENTITIES) == []


@pytest.mark.parametrize("comparator", ["=", "!=", ">", ">=", "<", "<="])
def test_symbol_comparators_with_numbers(comparator):
    clause = parse_one(f"metrics.acc {comparator} 0.5")
    assert clause.identifier == Identifier(METRIC, "acc", "metrics.acc")
    assert clause.comparator == comparator
    assert clause.value == 0.5


def test_numbers_keep_integers_exact_and_accept_signs_and_exponents():
    assert parse_one("attributes.start_time >= 1700000000123").value == 1700000000123
    assert parse_one("metrics.loss > -2").value == -2
    assert parse_one("metrics.loss > +2.5").value == 2.5
    assert parse_one("metrics.loss < 1e-3").value == 0.001
    assert parse_one("metrics.loss < .5").value == 0.5


def test_no_spaces_around_operators():
    clause = parse_one("metrics.m0>-1")
    assert (clause.identifier.key, clause.comparator, clause.value) == ("m0", ">", -1)
    clause = parse_one("params.lr='0.1'")
    assert (clause.identifier.key, clause.comparator, clause.value) == ("lr", "=", "0.1")


@pytest.mark.parametrize(
    ("prefix", "entity"),
    [
        ("metric", METRIC),
        ("metrics", METRIC),
        ("param", PARAM),
        ("params", PARAM),
        ("parameter", PARAM),
        ("parameters", PARAM),
        ("tag", TAG),
        ("tags", TAG),
        ("attribute", ATTRIBUTE),
        ("attributes", ATTRIBUTE),
        ("attr", ATTRIBUTE),
        ("run", ATTRIBUTE),
        ("METRICS", METRIC),
    ],
)
def test_entity_prefix_aliases(prefix, entity):
    assert parse_one(f"{prefix}.x = 'v'").identifier.entity == entity


def test_bare_identifier_is_an_attribute():
    clause = parse_one("status = 'FINISHED'")
    assert clause.identifier == Identifier(ATTRIBUTE, "status", "status")


def test_key_splits_on_the_first_dot():
    clause = parse_one("tags.mlflow.runName = 'x'")
    assert (clause.identifier.entity, clause.identifier.key) == (TAG, "mlflow.runName")


@pytest.mark.parametrize("identifier", ["metrics.`my metric`", 'metrics."my metric"', "metrics.'my metric'"])
def test_quoted_keys(identifier):
    clause = parse_one(f"{identifier} > 1")
    assert (clause.identifier.entity, clause.identifier.key) == (METRIC, "my metric")


def test_quoted_keys_may_hold_dots_and_operators():
    assert parse_one("params.`a.b >= c` = 'x'").identifier.key == "a.b >= c"


def test_backticked_bare_identifier_is_an_attribute():
    clause = parse_one("`run name` = 'x'")
    assert (clause.identifier.entity, clause.identifier.key) == (ATTRIBUTE, "run name")


def test_unquoted_keys_may_hold_slashes_dashes_and_colons():
    assert parse_one("metrics.val/loss-2:a < 1").identifier.key == "val/loss-2:a"


def test_string_values_in_either_quote_with_escapes():
    assert parse_one("params.a = 'x y'").value == "x y"
    assert parse_one('params.a = "x y"').value == "x y"
    assert parse_one("params.a = 'it''s'").value == "it's"
    assert parse_one(r"params.a = 'it\'s'").value == "it's"


@pytest.mark.parametrize("comparator", ["LIKE", "ILIKE", "like", "iLike"])
def test_like_comparators_are_case_insensitive_keywords(comparator):
    clause = parse_one(f"params.model {comparator} 'res%'")
    assert clause.comparator == comparator.upper()
    assert clause.value == "res%"


def test_in_and_not_in_lists():
    clause = parse_one("attributes.run_id IN ('a', 'b','c')")
    assert (clause.comparator, clause.value) == ("IN", ("a", "b", "c"))
    clause = parse_one("attributes.run_id not in ('a')")
    assert (clause.comparator, clause.value) == ("NOT IN", ("a",))


def test_is_null_and_is_not_null():
    clause = parse_one("tags.note IS NULL")
    assert (clause.comparator, clause.value) == ("IS NULL", None)
    clause = parse_one("tags.note is not null")
    assert (clause.comparator, clause.value) == ("IS NOT NULL", None)


def test_conjunction_with_and_in_any_case():
    clauses = parse_filter("metrics.a > 1 AND params.b = 'x' and tags.c != 'y'", RUN_ENTITIES)
    assert [clause.identifier.key for clause in clauses] == ["a", "b", "c"]
    assert [clause.text for clause in clauses] == ["metrics.a > 1", "params.b = 'x'", "tags.c != 'y'"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("metrics.a > 1 OR metrics.b > 1", "only AND is supported"),
        ("metrics.a > 1 AND", "after the final AND"),
        ("metrics.a > 1 metrics.b > 2", "expected AND"),
        ("metrics.a", "expected a comparison operator"),
        ("metrics.a ~ 1", "unexpected character '~'"),
        ("metrics.a == 1", "expected a quoted string or a number"),
        ("params.a = unquoted", "expected a quoted string or a number"),
        ("foo.bar = 'x'", "invalid entity type 'foo'"),
        ("metrics. = 1", "unexpected character '.'"),
        ("AND = 1", "keyword 'AND'"),
        ("'quoted' = 1", "expected an identifier"),
        ("tags.a IS 'x'", "expected NULL or NOT NULL"),
        ("attributes.run_id IN 'a'", "parenthesised list"),
        ("attributes.run_id IN ('a' 'b')", "expected ',' or ')'"),
        ("attributes.run_id IN ('a',", "ended"),
        ("(metrics.a > 1)", "expected an identifier"),
        ("params.a = 'open", "unexpected character"),
    ],
)
def test_bad_filters_name_the_problem(text, fragment):
    with pytest.raises(InvalidParameter) as error:
        parse_filter(text, RUN_ENTITIES)
    assert fragment in error.value.message
    assert repr(text) in error.value.message


def test_order_by_directions():
    keys = parse_order_by(["metrics.acc DESC", "params.lr asc", "start_time"], RUN_ENTITIES)
    assert [(key.identifier.entity, key.identifier.key, key.ascending) for key in keys] == [
        (METRIC, "acc", False),
        (PARAM, "lr", True),
        (ATTRIBUTE, "start_time", True),
    ]


def test_order_by_quoted_key():
    (key,) = parse_order_by(["metrics.`my metric` DESC"], RUN_ENTITIES)
    assert (key.identifier.key, key.ascending) == ("my metric", False)


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("", "it is empty"),
        ("metrics.a DESC extra", "expected ASC, DESC or the end"),
        ("metrics.a sideways", "expected ASC, DESC or the end"),
        ("bogus.a", "invalid entity type"),
    ],
)
def test_bad_order_by(item, fragment):
    with pytest.raises(InvalidParameter) as error:
        parse_order_by([item], RUN_ENTITIES)
    assert fragment in error.value.message
