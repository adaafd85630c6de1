"""Path templates of `google.api.http` rules, parsed into matchers.

The grammar (from google/api/http.proto):

    Template  = "/" Segments [ Verb ] ;
    Segments  = Segment { "/" Segment } ;
    Segment   = "*" | "**" | LITERAL | Variable ;
    Variable  = "{" FieldPath [ "=" Segments ] "}" ;
    FieldPath = IDENT { "." IDENT } ;
    Verb      = ":" LITERAL ;

`*` matches one non-empty path segment, `**` any number of segments (and must come last), and a
variable binds the text its segments matched (`{name}` is `{name=*}`) to a request field. Paths
are matched after percent-decoding, as ASGI servers deliver them, so a `**` variable receives
`a/b/c.txt` for `.../a/b/c.txt`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SINGLE = "*"
DEEP = "**"

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters of a literal segment or verb: RFC 3986 pchar without ":" (the verb delimiter), "*"
# (wildcards) and "%" (paths are matched decoded).
_LITERAL = re.compile(r"[A-Za-z0-9\-._~!$&'()+,;=@]+")


class TemplateSyntaxError(ValueError):
    """A path template does not follow the `google.api.http` grammar."""

    def __init__(self, template: str, reason: str) -> None:
        super().__init__(f"Invalid path template {template!r}: {reason}")
        self.template = template
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Variable:
    """A request field bound to the path segments `segments[start:end]` of its template."""

    field_path: str
    start: int
    end: int

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self.field_path.split("."))


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A parsed path template: segments (literals, `*`, `**`), the variables over them, a verb."""

    segments: tuple[str, ...]
    variables: tuple[Variable, ...]
    verb: str

    @classmethod
    def parse(cls, template: str) -> PathTemplate:
        return _Parser(template).parse()

    @property
    def is_literal(self) -> bool:
        """True when the template matches exactly one path (no wildcards)."""
        return not self.variables and SINGLE not in self.segments and DEEP not in self.segments

    def match(self, path: str) -> dict[str, str] | None:
        """The values of the variables if `path` matches, keyed by field path; None otherwise."""
        if self.verb:
            suffix = ":" + self.verb
            if not path.endswith(suffix):
                return None
            path = path[: -len(suffix)]
        if not path.startswith("/"):
            return None
        parts = path[1:].split("/")
        segments = self.segments
        deep = segments[-1] == DEEP
        fixed = len(segments) - 1 if deep else len(segments)
        if len(parts) < fixed or (not deep and len(parts) != fixed):
            return None
        for index in range(fixed):
            expected = segments[index]
            part = parts[index]
            if expected == SINGLE:
                if not part:
                    return None
            elif part != expected:
                return None
        return {
            v.field_path: "/".join(parts[v.start : v.end if v.end >= 0 else None]) for v in self.variables
        }

    def __str__(self) -> str:
        rendered: list[str] = []
        index = 0
        by_start = {v.start: v for v in self.variables}
        while index < len(self.segments):
            variable = by_start.get(index)
            if variable is None:
                rendered.append(self.segments[index])
                index += 1
                continue
            end = len(self.segments) if variable.end < 0 else variable.end
            pattern = self.segments[index:end]
            inner = "" if pattern == (SINGLE,) else "=" + "/".join(pattern)
            rendered.append("{" + variable.field_path + inner + "}")
            index = end
        return "/" + "/".join(rendered) + (":" + self.verb if self.verb else "")


class _Parser:
    """A recursive-descent parser over one template string."""

    def __init__(self, template: str) -> None:
        self.text = template
        self.position = 0
        self.segments: list[str] = []
        self.variables: list[Variable] = []

    def fail(self, reason: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(self.text, f"{reason} at offset {self.position}")

    def parse(self) -> PathTemplate:
        if not self.text.startswith("/"):
            raise TemplateSyntaxError(self.text, "must start with '/'")
        self.position = 1
        self.parse_segments(inside_variable=False)
        verb = ""
        if self.peek() == ":":
            self.position += 1
            verb = self.parse_literal("verb")
        if self.position != len(self.text):
            raise self.fail(f"unexpected {self.text[self.position]!r}")
        if DEEP in self.segments[:-1]:
            raise TemplateSyntaxError(self.text, "'**' must be the last segment")
        fields = [v.field_path for v in self.variables]
        if len(set(fields)) != len(fields):
            raise TemplateSyntaxError(self.text, "a field is bound by more than one variable")
        return PathTemplate(tuple(self.segments), tuple(self.variables), verb)

    def peek(self) -> str:
        return self.text[self.position] if self.position < len(self.text) else ""

    def parse_segments(self, inside_variable: bool) -> None:
        while True:
            self.parse_segment(inside_variable)
            if self.peek() != "/":
                return
            self.position += 1

    def parse_segment(self, inside_variable: bool) -> None:
        if self.text.startswith(DEEP, self.position):
            self.position += 2
            self.segments.append(DEEP)
        elif self.peek() == SINGLE:
            self.position += 1
            self.segments.append(SINGLE)
        elif self.peek() == "{":
            if inside_variable:
                raise self.fail("variables cannot be nested")
            self.parse_variable()
        else:
            self.segments.append(self.parse_literal("segment"))

    def parse_variable(self) -> None:
        self.position += 1
        names = [self.parse_ident()]
        while self.peek() == ".":
            self.position += 1
            names.append(self.parse_ident())
        start = len(self.segments)
        if self.peek() == "=":
            self.position += 1
            self.parse_segments(inside_variable=True)
        else:
            self.segments.append(SINGLE)
        if self.peek() != "}":
            raise self.fail("expected '}'")
        self.position += 1
        # A variable ending in `**` takes every remaining segment: its end is open (-1).
        end = -1 if self.segments[-1] == DEEP else len(self.segments)
        self.variables.append(Variable(".".join(names), start, end))

    def parse_ident(self) -> str:
        found = _IDENT.match(self.text, self.position)
        if found is None:
            raise self.fail("expected a field name")
        self.position = found.end()
        return found.group()

    def parse_literal(self, what: str) -> str:
        found = _LITERAL.match(self.text, self.position)
        if found is None:
            raise self.fail(f"expected a {what}")
        self.position = found.end()
        return found.group()
