"""Substitutions (`${name}`, `${unique}`), generators and capture paths."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import struct_pb2

from conformance.runner import values


def test_whole_placeholder_keeps_the_captured_type() -> None:
    variables = {"n": 5, "ids": ["a", "b"], "s": "x"}
    assert values.substitute({"a": "${n}", "b": "${ids}", "c": "${s}"}, variables) == {
        "a": 5,
        "b": ["a", "b"],
        "c": "x",
    }


def test_placeholders_inside_strings_are_spliced_as_text() -> None:
    variables = {"unique": "abc123", "n": 7, "flag": True}
    assert values.substitute("name = 'cf-${unique}' AND m > ${n} ${flag}", variables) == (
        "name = 'cf-abc123' AND m > 7 true"
    )


def test_placeholders_in_keys_and_nested_values() -> None:
    assert values.substitute({"k-${u}": [{"v": "${u}"}]}, {"u": "1"}) == {"k-1": [{"v": "1"}]}


def test_unknown_placeholder_names_what_is_known() -> None:
    with pytest.raises(values.TemplateError, match=r"\$\{run_id\} is not captured.*known: unique"):
        values.substitute("${run_id}", {"unique": "u"})


def test_cannot_splice_an_object_into_a_string() -> None:
    with pytest.raises(values.TemplateError, match="cannot splice a dict"):
        values.substitute("x-${obj}", {"obj": {"a": 1}})


def test_names_used() -> None:
    assert values.names_used({"a": "${x}-${y}", "${z}": [1, "${x}"]}) == {"x", "y", "z"}


def test_text_generator() -> None:
    assert values.expand({"$text": "ab", "$times": 3}) == "ababab"


def test_list_generator_with_index() -> None:
    generated = values.expand({"$list": {"key": "m${index}", "step": "${index}"}, "$times": 3})
    assert generated == [{"key": "m0", "step": 0}, {"key": "m1", "step": 1}, {"key": "m2", "step": 2}]


def test_concat_generator_and_nesting() -> None:
    assert values.expand({"$concat": ["cf-", {"$text": "x", "$times": 2}, "-end"]}) == "cf-xx-end"
    nested = values.expand({"v": {"$list": {"$text": "z", "$times": 2}, "$times": 2}})
    assert nested == {"v": ["zz", "zz"]}


def test_prepare_expands_then_substitutes() -> None:
    prepared = values.prepare({"$list": "${unique}-${index}", "$times": 2}, {"unique": "u"})
    assert prepared == ["u-0", "u-1"]


@pytest.mark.parametrize(
    "template",
    [
        {"$text": "a"},
        {"$text": 5, "$times": 2},
        {"$list": 1, "$times": -1},
        {"$list": 1, "$times": True},
        {"$text": "a", "$list": "b", "$times": 1},
        {"$concat": "ab"},
        {"$typo": 1},
    ],
)
def test_invalid_templates_are_refused(template: Any) -> None:
    with pytest.raises(values.TemplateError):
        values.validate_template({"field": template})


def test_concat_joins_strings_only() -> None:
    with pytest.raises(values.TemplateError, match="joins strings only"):
        values.expand({"$concat": ["a", {"$list": "b", "$times": 1}]})


@pytest.mark.parametrize(
    ("path", "tokens"),
    [
        ("run.info.run_id", ["run", "info", "run_id"]),
        ("runs[0].info.run_id", ["runs", 0, "info", "run_id"]),
        ("runs.1.info", ["runs", 1, "info"]),
        ("a[0][2]", ["a", 0, 2]),
    ],
)
def test_parse_path(path: str, tokens: list[Any]) -> None:
    assert values.parse_path(path) == tokens


def test_resolve_and_its_errors() -> None:
    data = {"runs": [{"info": {"run_id": "r0"}}, {"info": {"run_id": "r1"}}], "next_page_token": "t"}
    assert values.resolve(data, "runs[1].info.run_id") == "r1"
    assert values.resolve(data, "runs.0.info") == {"run_id": "r0"}
    with pytest.raises(values.TemplateError, match="runs has 2 items"):
        values.resolve(data, "runs[5].info")
    with pytest.raises(values.TemplateError, match=r"no 'run_uuid' in runs\.0\.info"):
        values.resolve(data, "runs[0].info.run_uuid")
    with pytest.raises(values.TemplateError, match="empty segment"):
        values.resolve(data, "runs..info")


def test_struct_numbers_come_back_as_integers_where_integral() -> None:
    struct = struct_pb2.Struct()
    struct.update(
        {"start_time": 1700000000000, "value": 0.5, "list": [1, 2.5], "big": 1.7976931348623157e308}
    )
    converted = values.from_proto_struct(struct)
    assert converted == {
        "start_time": 1700000000000,
        "value": 0.5,
        "list": [1, 2.5],
        "big": 1.7976931348623157e308,
    }
    assert type(converted["start_time"]) is int and type(converted["list"][0]) is int
    assert type(converted["big"]) is float
