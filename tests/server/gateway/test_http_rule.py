"""Path templates of google.api.http: the grammar, matching, and property tests over generated templates."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from polytrack_server.gateway.http_rule import PathTemplate, TemplateSyntaxError


def test_a_literal_template_matches_only_its_own_path():
    template = PathTemplate.parse("/api/2.0/mlflow/runs/log-batch")
    assert template.is_literal
    assert template.match("/api/2.0/mlflow/runs/log-batch") == {}
    assert template.match("/api/2.0/mlflow/runs/log-batch/") is None
    assert template.match("/api/2.0/mlflow/runs") is None
    assert template.match("api/2.0/mlflow/runs/log-batch") is None


def test_variables_bind_the_segments_they_match():
    template = PathTemplate.parse("/v1/{name=projects/*/locations/*}/items/{item.id}")
    assert not template.is_literal
    assert template.match("/v1/projects/p1/locations/eu/items/42") == {
        "name": "projects/p1/locations/eu",
        "item.id": "42",
    }
    assert template.match("/v1/projects/p1/zones/eu/items/42") is None
    assert template.match("/v1/projects//locations/eu/items/42") is None, "* needs a non-empty segment"


def test_a_deep_wildcard_takes_every_remaining_segment_even_none():
    template = PathTemplate.parse("/api/2.0/mlflow-artifacts/artifacts/{path=**}")
    assert template.match("/api/2.0/mlflow-artifacts/artifacts/a/b/c.txt") == {"path": "a/b/c.txt"}
    assert template.match("/api/2.0/mlflow-artifacts/artifacts") == {"path": ""}
    assert template.match("/api/2.0/mlflow-artifacts/other/a") is None


def test_a_verb_is_matched_after_the_last_segment():
    template = PathTemplate.parse("/v1/{name=books/**}:publish")
    assert template.verb == "publish"
    assert template.match("/v1/books/a/b:publish") == {"name": "books/a/b"}
    assert template.match("/v1/books/a/b:unpublish") is None
    assert template.match("/v1/books/a/b") is None


def test_wildcards_without_variables_are_not_literal():
    template = PathTemplate.parse("/v1/*/x/**")
    assert not template.is_literal
    assert template.match("/v1/a/x/b/c") == {}


@pytest.mark.parametrize(
    "text",
    [
        "v1/x",
        "",
        "/",
        "/v1//x",
        "/v1/x/",
        "/v1/{a/b}",
        "/v1/**/x",
        "/v1/{a=**/x}",
        "/v1/{a={b}}",
        "/v1/{a}/{a}",
        "/v1/x:",
        "/v1/{1a}",
        "/v1/{a.}",
        "/v1/{a",
        "/v1/a}",
        "/v1/a b",
        "/v1/a%20b",
        "/v1/a:b/c",
    ],
)
def test_templates_outside_the_grammar_are_refused(text):
    with pytest.raises(TemplateSyntaxError) as caught:
        PathTemplate.parse(text)
    assert repr(text) in str(caught.value)


def test_a_variable_without_pattern_renders_in_its_short_form():
    assert str(PathTemplate.parse("/v1/{name=*}/x")) == "/v1/{name}/x"


# --- properties over generated templates -------------------------------------------------------

LITERAL_CHARACTERS = "abcxyzABC0123456789-._~!$&'()+,;=@"
literals = st.text(alphabet=LITERAL_CHARACTERS, min_size=1, max_size=6)
identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True)
# Decoded path segments may hold any character but "/".
segment_values = st.text(alphabet=st.characters(exclude_characters="/"), min_size=1, max_size=6)
# What `**` matches: any number of segments, empty ones included.
deep_values = st.lists(st.text(alphabet=st.characters(exclude_characters="/"), max_size=6), max_size=3)


@dataclass
class Generated:
    """A template's text, its canonical text, a path it matches and the values that path binds."""

    text: str
    canonical: str
    segments: list[str]
    suffix: str
    expected: dict[str, str]
    literal_positions: list[int]

    @property
    def path(self) -> str:
        return "/" + "/".join(self.segments) + self.suffix


@st.composite
def generated_templates(draw: st.DrawFn) -> Generated:
    texts: list[str] = []
    canonical: list[str] = []
    path: list[str] = []

    def add(text: str, canonical_text: str, *values: str) -> None:
        texts.append(text)
        canonical.append(canonical_text)
        path.extend(values)

    expected: dict[str, str] = {}
    literal_positions: list[int] = []
    count = draw(st.integers(1, 5))
    ends_deep = draw(st.booleans())
    for index in range(count):
        last = index == count - 1
        kind = draw(st.sampled_from(["literal", "single", "variable"]))
        if kind == "literal":
            text = draw(literals)
            literal_positions.append(len(path))
            add(text, text, text)
        elif kind == "single":
            add("*", "*", draw(segment_values))
        else:
            field = ".".join(draw(st.lists(identifiers, min_size=1, max_size=3)))
            assume(field not in expected)
            pattern = draw(st.lists(st.one_of(literals, st.just("*")), min_size=1, max_size=3))
            if last and ends_deep:
                pattern.append("**")
            values = []
            for part in pattern:
                if part == "**":
                    values.extend(draw(deep_values))
                elif part == "*":
                    values.append(draw(segment_values))
                else:
                    literal_positions.append(len(path) + len(values))
                    values.append(part)
            explicit = draw(st.booleans()) or pattern != ["*"]
            add(
                "{" + field + ("=" + "/".join(pattern) if explicit else "") + "}",
                "{" + field + ("" if pattern == ["*"] else "=" + "/".join(pattern)) + "}",
                *values,
            )
            expected[field] = "/".join(values)
        if last and ends_deep and kind != "variable":
            add("**", "**", *draw(deep_values))
    verb = draw(st.one_of(st.just(""), literals))
    suffix = ":" + verb if verb else ""
    return Generated(
        text="/" + "/".join(texts) + suffix,
        canonical="/" + "/".join(canonical) + suffix,
        segments=path,
        suffix=suffix,
        expected=expected,
        literal_positions=literal_positions,
    )


@given(generated_templates())
def test_generated_templates_parse_to_their_canonical_text(generated):
    template = PathTemplate.parse(generated.text)
    assert str(template) == generated.canonical
    assert PathTemplate.parse(str(template)) == template


@given(generated_templates())
def test_generated_paths_match_and_bind_their_values(generated):
    assert PathTemplate.parse(generated.text).match(generated.path) == generated.expected


@given(generated_templates(), st.data())
def test_changing_a_literal_segment_breaks_the_match(generated, data):
    assume(generated.literal_positions)
    position = data.draw(st.sampled_from(generated.literal_positions))
    segments = list(generated.segments)
    segments[position] += "~changed"
    changed = "/" + "/".join(segments) + generated.suffix
    assert PathTemplate.parse(generated.text).match(changed) is None


@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_fails_with_a_syntax_error(text):
    try:
        template = PathTemplate.parse(text)
    except TemplateSyntaxError:
        return
    assert PathTemplate.parse(str(template)) == template


@given(generated_templates(), st.text(max_size=40))
def test_matching_arbitrary_paths_never_fails(generated, path):
    result = PathTemplate.parse(generated.text).match(path)
    assert result is None or set(result) == set(generated.expected)
