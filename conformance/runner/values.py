"""JSON values in cases: conversion from protobuf Struct/Value, generators, substitutions, paths.

* Generators (`{"$text": "ab", "$times": 3}`, `{"$list": ITEM, "$times": 3}`,
  `{"$concat": ["prefix-", {"$text": "x", "$times": 490}]}`) build long strings and lists without
  writing them out; `${index}` inside a `$list` item is the item's position.
* Substitutions: `${unique}` and `${name}` of captured values. A string that is exactly `${x}`
  becomes the value itself; elsewhere the value is spliced in as text.
* Paths: `runs[0].info.run_id` or `runs.0.info.run_id` address a value inside a response.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format

GENERATOR_KEYS = frozenset({"$text", "$list", "$concat"})
RESERVED_NAMES = frozenset({"unique", "index"})
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WHOLE_PLACEHOLDER = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_MAX_GENERATED = 1_000_000


class TemplateError(Exception):
    """A generator, substitution or path that cannot be applied."""


# --- protobuf JSON -> plain Python ---------------------------------------------------------------
def _integral(value: Any) -> Any:
    """Struct numbers are doubles; give back integers where the case wrote integers."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def from_proto_value(value: Any) -> Any:
    """A `google.protobuf.Value` as plain JSON data (integral numbers as int)."""
    return _integral(json_format.MessageToDict(value))


def from_proto_struct(struct: Any) -> dict[str, Any]:
    """A `google.protobuf.Struct` as a dict (integral numbers as int)."""
    data: dict[str, Any] = _integral(json_format.MessageToDict(struct))
    return data


# --- generators ----------------------------------------------------------------------------------
def is_generator(value: Any) -> bool:
    return isinstance(value, dict) and bool(GENERATOR_KEYS & set(value))


def generator_parts(value: dict[str, Any]) -> tuple[str, Any, int]:
    kinds = set(GENERATOR_KEYS & set(value))
    if set(value) == {"$concat"}:
        if not isinstance(value["$concat"], list):
            raise TemplateError("$concat takes a list of strings (or $text generators)")
        return "$concat", value["$concat"], 1
    if len(kinds) != 1 or set(value) != {*kinds, "$times"}:
        shapes = "{'$text' or '$list': ..., '$times': N} or {'$concat': [...]}"
        raise TemplateError(f"a generator is {shapes}, got {sorted(value)}")
    kind = kinds.pop()
    times = value["$times"]
    if not isinstance(times, int) or isinstance(times, bool) or not 0 <= times <= _MAX_GENERATED:
        raise TemplateError(f"$times must be a whole number from 0 to {_MAX_GENERATED}, got {times!r}")
    if kind == "$text" and not isinstance(value[kind], str):
        raise TemplateError("$text repeats a string")
    return kind, value[kind], times


def validate_template(value: Any) -> None:
    """Checks the generators in a request; `$` keys other than generators are refused."""
    if isinstance(value, dict):
        if is_generator(value):
            _kind, item, _times = generator_parts(value)
            validate_template(item)
            return
        for key, item in value.items():
            if key.startswith("$"):
                raise TemplateError(f"unknown generator or misplaced matcher {key!r} in a request")
            validate_template(item)
    elif isinstance(value, list):
        for item in value:
            validate_template(item)


def _replace_index(value: Any, index: int) -> Any:
    if isinstance(value, str):
        if value == "${index}":
            return index
        return value.replace("${index}", str(index))
    if isinstance(value, dict):
        return {key: _replace_index(item, index) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_index(item, index) for item in value]
    return value


def expand(value: Any) -> Any:
    """`value` with every generator replaced by the string or list it stands for."""
    if isinstance(value, dict):
        if is_generator(value):
            kind, item, times = generator_parts(value)
            if kind == "$text":
                return item * times
            if kind == "$concat":
                parts = [expand(part) for part in item]
                if not all(isinstance(part, str) for part in parts):
                    raise TemplateError("$concat joins strings only")
                return "".join(parts)
            return [expand(_replace_index(item, index)) for index in range(times)]
        return {key: expand(item) for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item) for item in value]
    return value


# --- substitutions -------------------------------------------------------------------------------
def names_used(value: Any) -> set[str]:
    """The `${name}` placeholders in `value` (strings, keys and nested values)."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(_PLACEHOLDER.findall(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            found.update(_PLACEHOLDER.findall(key))
            found |= names_used(item)
    elif isinstance(value, list):
        for item in value:
            found |= names_used(item)
    return found


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise TemplateError(f"cannot splice a {type(value).__name__} into a string")


def substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    """`value` with `${name}` placeholders replaced from `variables`."""
    if isinstance(value, str):
        whole = _WHOLE_PLACEHOLDER.match(value)
        if whole:
            return _lookup(whole.group(1), variables)
        return _PLACEHOLDER.sub(lambda m: as_text(_lookup(m.group(1), variables)), value)
    if isinstance(value, dict):
        return {substitute(key, variables): substitute(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    return value


def _lookup(name: str, variables: Mapping[str, Any]) -> Any:
    if name not in variables:
        known = ", ".join(sorted(variables)) or "none"
        raise TemplateError(f"${{{name}}} is not captured by an earlier step (known: {known})")
    return variables[name]


def prepare(value: Any, variables: Mapping[str, Any]) -> Any:
    """Generators expanded, then placeholders substituted: what is sent or compared."""
    return substitute(expand(value), variables)


# --- paths ---------------------------------------------------------------------------------------
def parse_path(path: str) -> list[str | int]:
    """`runs[0].info.run_id` -> ["runs", 0, "info", "run_id"]; digits-only segments are indexes."""
    tokens: list[str | int] = []
    for part in path.split("."):
        if not part:
            raise TemplateError(f"empty segment in path {path!r}")
        position = 0
        for match in _PATH_TOKEN.finditer(part):
            if match.start() != position:
                raise TemplateError(f"cannot parse path {path!r}")
            name, index = match.groups()
            if index is not None:
                tokens.append(int(index))
            else:
                tokens.append(int(name) if name.isdigit() else name)
            position = match.end()
        if position != len(part):
            raise TemplateError(f"cannot parse path {path!r}")
    return tokens


def resolve(data: Any, path: str) -> Any:
    """The value at `path` in `data`; TemplateError saying where the path stops."""
    current = data
    walked: list[str] = []
    for token in parse_path(path):
        if isinstance(token, int) and isinstance(current, list):
            if token >= len(current):
                raise TemplateError(f"{path}: {'.'.join(walked) or 'the response'} has {len(current)} items")
            current = current[token]
        elif isinstance(current, dict) and str(token) in current:
            current = current[str(token)]
        else:
            raise TemplateError(f"{path}: no {token!r} in {'.'.join(walked) or 'the response'}")
        walked.append(str(token))
    return current
