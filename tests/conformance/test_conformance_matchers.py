"""The matchers: what counts as a match, what each mismatch message says, and refused matchers."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.runner.matchers import MISSING, MatcherError, match, validate_expected

MATCHING: list[tuple[str, Any, Any]] = [
    ("equal-scalars", "a", "a"),
    ("int-equals-float", 2, 2.0),
    ("subset-object", {"a": 1}, {"a": 1, "b": 2}),
    (
        "nested-subset",
        {"run": {"info": {"status": "RUNNING"}}},
        {"run": {"info": {"status": "RUNNING", "x": 1}}},
    ),
    ("list-in-order", [{"k": 1}, {"k": 2}], [{"k": 1, "v": "a"}, {"k": 2, "v": "b"}]),
    ("any-present", {"a": {"$any": True}}, {"a": [1, 2]}),
    ("any-absent", {"a": {"$any": True}}, {}),
    ("absent", {"a": {"$absent": True}}, {"b": 1}),
    ("present", {"a": {"$absent": False}}, {"a": None}),
    ("type-string", {"$type": "string"}, "x"),
    ("type-integer-int", {"$type": "integer"}, 5),
    ("type-integer-integral-float", {"$type": "integer"}, 5.0),
    ("type-number", {"$type": "number"}, 0.5),
    ("type-null", {"$type": "null"}, None),
    ("type-array", {"$type": "array"}, []),
    ("regex-search", {"$regex": "[0-9]+"}, "run-42"),
    ("regex-anchored", {"$regex": "^[0-9a-f]{32}$"}, "0123456789abcdef0123456789abcdef"),
    ("approx-default", {"$approx": 0.3}, 0.1 + 0.2),
    ("approx-tolerance", {"$approx": 1.0, "$tol": 0.1}, 1.05),
    ("bounds", {"$gt": 1, "$lte": 3}, 3),
    ("len-list", {"$len": 2}, [1, 2]),
    ("len-string", {"$len": 3}, "abc"),
    ("len-matcher", {"$len": {"$gte": 1}}, {"a": 1}),
    ("unordered", {"$unordered": [{"k": "b"}, {"k": "a"}]}, [{"k": "a", "v": 1}, {"k": "b", "v": 2}]),
    ("contains", {"$contains": [{"k": "b"}]}, [{"k": "a"}, {"k": "b"}, {"k": "c"}]),
    ("exact-empty", {"$exact": {}}, {}),
    ("exact-nested", {"$exact": {"a": [{"b": 1}]}}, {"a": [{"b": 1}]}),
    ("exact-with-matcher", {"$exact": {"id": {"$type": "string"}}}, {"id": "7"}),
    ("not", {"$not": {"$contains": [{"k": "x"}]}}, [{"k": "y"}]),
    ("not-absent", {"a": {"$not": {"$type": "string"}}}, {}),
    ("combined", {"$type": "string", "$len": 32, "$regex": "^[0-9a-f]+$"}, "0" * 32),
    ("nan-string", {"value": "NaN"}, {"value": "NaN"}),
    ("int-exact-big", {"$int": "9007199254740993"}, 9007199254740993),
]

MISMATCHING: list[tuple[str, Any, Any, str]] = [
    ("different-scalar", {"a": 1}, {"a": 2}, "a: expected 1, got 2"),
    ("bool-is-not-number", {"a": 1}, {"a": True}, "a: expected 1, got true"),
    ("string-is-not-number", {"a": 1}, {"a": "1"}, 'a: expected 1, got "1"'),
    ("missing-key", {"a": {"b": 1}}, {"a": {}}, "a.b: missing"),
    ("not-an-object", {"a": {"b": 1}}, {"a": 5}, "a: expected an object"),
    ("list-length", [1, 2], [1], "expected 2 items, got 1"),
    ("list-order", [1, 2], [2, 1], "[0]: expected 1, got 2"),
    ("absent-but-present", {"a": {"$absent": True}}, {"a": 0}, "a: expected absent"),
    ("type", {"a": {"$type": "integer"}}, {"a": 1.5}, "a: expected a integer"),
    ("regex", {"$regex": "^x"}, "yx", "matching /^x/"),
    ("regex-not-string", {"$regex": "1"}, 1, "matching /1/"),
    ("approx", {"$approx": 1.0}, 1.1, "expected 1.0 ±"),
    ("bound", {"$lt": 3}, 3, "expected a number lt 3"),
    ("len", {"k": {"$len": 3}}, {"k": "ab"}, "k (length): expected 3, got 2"),
    ("unordered-missing", {"$unordered": [1, 3]}, [1, 2], "no item matches 3"),
    ("unordered-length", {"$unordered": [1]}, [1, 1], "expected 1 items in any order, got 2"),
    ("unordered-not-reused", {"$unordered": [1, 1]}, [1, 2], "no item matches 1"),
    ("contains", {"$contains": [{"k": "z"}]}, [{"k": "a"}], 'no item matches {"k": "z"}'),
    ("exact-extra-key", {"$exact": {"a": 1}}, {"a": 1, "b": 2}, "unexpected field(s) ['b']"),
    ("exact-extra-nested", {"$exact": {"a": {}}}, {"a": {"c": 1}}, "a: unexpected field(s) ['c']"),
    ("exact-empty-not-empty", {"$exact": {}}, {"runs": []}, "unexpected field(s) ['runs']"),
    ("not", {"$not": {"$type": "string"}}, "x", "expected not"),
    ("int-not-float", {"$int": "5"}, 5.0, "expected the JSON integer 5"),
    ("int-wrong", {"$int": "9007199254740993"}, 9007199254740992, "expected the JSON integer"),
    ("missing-with-matcher", {"a": {"$type": "string"}}, {}, "a: missing"),
]


@pytest.mark.parametrize(("expected", "actual"), [c[1:] for c in MATCHING], ids=[c[0] for c in MATCHING])
def test_matches(expected: Any, actual: Any) -> None:
    validate_expected(expected)
    assert match(expected, actual) == []


@pytest.mark.parametrize(
    ("expected", "actual", "message"), [c[1:] for c in MISMATCHING], ids=[c[0] for c in MISMATCHING]
)
def test_mismatches_are_reported_with_their_path(expected: Any, actual: Any, message: str) -> None:
    validate_expected(expected)
    problems = match(expected, actual)
    assert problems, f"{expected!r} should not match {actual!r}"
    assert any(message in problem for problem in problems), problems


def test_every_mismatch_is_reported() -> None:
    problems = match({"a": 1, "b": {"c": 2}, "d": [1]}, {"a": 0, "b": {"c": 3}, "d": []})
    assert len(problems) == 3, problems


def test_missing_value_against_plain_expectation() -> None:
    assert match("x", MISSING) == ['<root>: missing, expected "x"']


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        ({"$regexp": "x"}, "unknown matcher"),
        ({"$type": "str"}, "$type must be one of"),
        ({"$regex": "("}, "$regex"),
        ({"$tol": 0.1}, "$tol goes with $approx"),
        ({"$approx": "one"}, "$approx takes a number"),
        ({"$unordered": {"a": 1}}, "$unordered takes a list"),
        ({"$any": "yes"}, "$any takes true or false"),
        ({"$type": "string", "name": "x"}, "mixes matchers"),
        ({"a": [{"b": {"$nope": 1}}]}, "unknown matcher"),
        ({"$int": 5}, "$int takes an integer written as a string"),
        ({"$list": "x"}, "generator"),
    ],
)
def test_invalid_matchers_are_refused(expected: Any, message: str) -> None:
    with pytest.raises(MatcherError, match=None) as raised:
        validate_expected(expected)
    assert message in str(raised.value)


def test_bounds_may_be_placeholders_before_substitution() -> None:
    validate_expected({"$gte": "${created}"})
