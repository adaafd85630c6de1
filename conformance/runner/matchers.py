"""Expected values against actual ones: the only place where the suite decides pass or fail.

`match(expected, actual)` returns the list of mismatches (empty when it matches), each naming the
path inside the value where it was found. The rules (also in case.proto and the README):

* a plain object matches an object holding at least its keys with matching values; a plain list
  matches a list of the same length, element by element; scalars must be equal (numbers by
  value, and booleans are not numbers);
* an object whose keys all start with `$` is a matcher, true when all of its conditions hold:
  `$any`, `$absent`, `$type`, `$regex`, `$approx` (+ `$tol`), `$gt`, `$gte`, `$lt`, `$lte`,
  `$len`, `$unordered`, `$contains`, `$exact`, `$not`, `$int`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, Final

from conformance.runner import values

MATCHER_KEYS: Final = frozenset(
    {
        "$any",
        "$absent",
        "$type",
        "$regex",
        "$approx",
        "$tol",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$len",
        "$unordered",
        "$contains",
        "$exact",
        "$not",
        "$int",
    }
)
TYPES: Final = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_BOUNDS: dict[str, Callable[[float, float], bool]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}
DEFAULT_RELATIVE_TOLERANCE: Final = 1e-9
_SHOWN = 200


class MatcherError(Exception):
    """An expected value that uses a matcher wrongly (found when the case is loaded)."""


class _Missing:
    def __repr__(self) -> str:
        return "<absent>"


MISSING: Final = _Missing()


def is_matcher(value: Any) -> bool:
    """An object whose keys all start with `$` and that is not a generator."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(k, str) and k.startswith("$") for k in value)
        and not values.is_generator(value)
    )


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and bool(values.names_used(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- validation ----------------------------------------------------------------------------------
def validate_expected(expected: Any) -> None:
    """Raises MatcherError for an unknown matcher or a matcher with a wrong argument."""
    if isinstance(expected, list):
        for item in expected:
            validate_expected(item)
        return
    if not isinstance(expected, dict):
        return
    if values.is_generator(expected):
        try:
            _kind, item, _times = values.generator_parts(expected)
        except values.TemplateError as error:
            raise MatcherError(str(error)) from None
        validate_expected(item)
        return
    dollar = [key for key in expected if key.startswith("$")]
    if not dollar:
        for item in expected.values():
            validate_expected(item)
        return
    if len(dollar) != len(expected):
        raise MatcherError(f"an object mixes matchers {dollar} with field names")
    unknown = set(expected) - MATCHER_KEYS
    if unknown:
        raise MatcherError(f"unknown matcher(s) {sorted(unknown)}; known: {sorted(MATCHER_KEYS)}")
    _validate_arguments(expected)


def _validate_arguments(matcher: dict[str, Any]) -> None:
    for key in ("$any", "$absent"):
        if key in matcher and not isinstance(matcher[key], bool):
            raise MatcherError(f"{key} takes true or false")
    if "$type" in matcher and matcher["$type"] not in TYPES:
        raise MatcherError(f"$type must be one of {sorted(TYPES)}")
    if "$regex" in matcher:
        if not isinstance(matcher["$regex"], str):
            raise MatcherError("$regex takes a string")
        try:
            re.compile(matcher["$regex"])
        except re.error as error:
            raise MatcherError(f"$regex {matcher['$regex']!r}: {error}") from None
    if "$tol" in matcher and "$approx" not in matcher:
        raise MatcherError("$tol goes with $approx")
    for key in ("$approx", "$tol", *_BOUNDS):
        if key in matcher and not (_is_number(matcher[key]) or _is_placeholder(matcher[key])):
            raise MatcherError(f"{key} takes a number")
    for key in ("$unordered", "$contains"):
        if key in matcher:
            if not isinstance(matcher[key], list):
                raise MatcherError(f"{key} takes a list")
            validate_expected(matcher[key])
    if "$int" in matcher and not (
        isinstance(matcher["$int"], str) and re.fullmatch(r"-?[0-9]+", matcher["$int"])
    ):
        raise MatcherError("$int takes an integer written as a string (exact beyond 2**53)")
    for key in ("$len", "$exact", "$not"):
        if key in matcher:
            validate_expected(matcher[key])


# --- matching ------------------------------------------------------------------------------------
def show(value: Any) -> str:
    """A short JSON rendering of `value` for messages."""
    if value is MISSING:
        return "<absent>"
    try:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + f"... ({len(text)} chars)"


def _where(path: str) -> str:
    return path or "<root>"


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _has_type(value: Any, wanted: str) -> bool:
    if wanted == "integer":
        return _is_number(value) and (isinstance(value, int) or float(value).is_integer())
    return _type_of(value) == wanted


def match(expected: Any, actual: Any, path: str = "", *, exact: bool = False) -> list[str]:
    """The mismatches between `expected` and `actual` (MISSING when absent); empty when they match."""
    if is_matcher(expected):
        return _match_matcher(expected, actual, path, exact)
    if actual is MISSING:
        return [f"{_where(path)}: missing, expected {show(expected)}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{_where(path)}: expected an object, got {show(actual)}"]
        problems: list[str] = []
        for key, item in expected.items():
            problems += match(item, actual.get(key, MISSING), f"{path}.{key}" if path else key, exact=exact)
        if exact:
            extra = sorted(set(actual) - set(expected))
            if extra:
                problems.append(f"{_where(path)}: unexpected field(s) {extra}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{_where(path)}: expected a list, got {show(actual)}"]
        if len(actual) != len(expected):
            return [f"{_where(path)}: expected {len(expected)} items, got {len(actual)}: {show(actual)}"]
        problems = []
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problems += match(want, got, f"{path}[{index}]", exact=exact)
        return problems
    return _match_scalar(expected, actual, path)


def _match_scalar(expected: Any, actual: Any, path: str) -> list[str]:
    if _is_number(expected) and _is_number(actual):
        same = expected == actual or (
            isinstance(expected, float)
            and isinstance(actual, float)
            and math.isnan(expected)
            and math.isnan(actual)
        )
    else:
        same = type(expected) is type(actual) and expected == actual
    if same:
        return []
    return [f"{_where(path)}: expected {show(expected)}, got {show(actual)}"]


def _assign(expected: list[Any], actual: list[Any], path: str, exact: bool) -> list[int]:
    """Indexes of `expected` items left unmatched by the best one-to-one assignment to `actual`."""
    fits = [[not match(want, got, path, exact=exact) for got in actual] for want in expected]
    owner: dict[int, int] = {}

    def place(want: int, seen: set[int]) -> bool:
        for got, ok in enumerate(fits[want]):
            if ok and got not in seen:
                seen.add(got)
                if got not in owner or place(owner[got], seen):
                    owner[got] = want
                    return True
        return False

    return [want for want in range(len(expected)) if not place(want, set())]


def _match_matcher(matcher: dict[str, Any], actual: Any, path: str, exact: bool) -> list[str]:
    where = _where(path)
    if matcher.get("$any"):
        return []
    if "$absent" in matcher:
        if matcher["$absent"] and actual is not MISSING:
            return [f"{where}: expected absent, got {show(actual)}"]
        if not matcher["$absent"] and actual is MISSING:
            return [f"{where}: missing"]
    if actual is MISSING:
        if matcher.get("$absent") or ("$not" in matcher and match(matcher["$not"], actual, path)):
            return []
        return [f"{where}: missing, expected {show(matcher)}"]
    problems: list[str] = []
    if "$type" in matcher and not _has_type(actual, matcher["$type"]):
        problems.append(f"{where}: expected a {matcher['$type']}, got {show(actual)}")
    if "$regex" in matcher and not (isinstance(actual, str) and re.search(matcher["$regex"], actual)):
        problems.append(f"{where}: expected a string matching /{matcher['$regex']}/, got {show(actual)}")
    if "$int" in matcher and not (
        isinstance(actual, int) and not isinstance(actual, bool) and actual == int(matcher["$int"])
    ):
        problems.append(f"{where}: expected the JSON integer {matcher['$int']}, got {show(actual)}")
    if "$approx" in matcher:
        target = float(matcher["$approx"])
        tolerance = float(matcher.get("$tol", DEFAULT_RELATIVE_TOLERANCE * max(1.0, abs(target))))
        if not (_is_number(actual) and abs(float(actual) - target) <= tolerance):
            problems.append(f"{where}: expected {target} ± {tolerance}, got {show(actual)}")
    for key, holds in _BOUNDS.items():
        if key in matcher:
            bound = float(matcher[key])
            if not (_is_number(actual) and holds(float(actual), bound)):
                problems.append(
                    f"{where}: expected a number {key[1:]} {show(matcher[key])}, got {show(actual)}"
                )
    if "$len" in matcher:
        if isinstance(actual, str | list | dict):
            problems += [
                f"{where} (length): {p.split(': ', 1)[-1]}" for p in match(matcher["$len"], len(actual))
            ]
        else:
            problems.append(f"{where}: expected something with a length, got {show(actual)}")
    for key in ("$unordered", "$contains"):
        if key not in matcher:
            continue
        wanted = matcher[key]
        if not isinstance(actual, list):
            problems.append(f"{where}: expected a list, got {show(actual)}")
            continue
        if key == "$unordered" and len(actual) != len(wanted):
            problems.append(
                f"{where}: expected {len(wanted)} items in any order, got {len(actual)}: {show(actual)}"
            )
            continue
        unmatched = _assign(wanted, actual, path, exact)
        if unmatched:
            missing = ", ".join(show(wanted[i]) for i in unmatched)
            problems.append(f"{where}: no item matches {missing}; items: {show(actual)}")
    if "$exact" in matcher:
        problems += match(matcher["$exact"], actual, path, exact=True)
    if "$not" in matcher and not match(matcher["$not"], actual, path, exact=exact):
        problems.append(f"{where}: expected not {show(matcher['$not'])}, got {show(actual)}")
    return problems
