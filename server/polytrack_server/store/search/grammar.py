"""Tokenizer and parser of the search grammar shared by runs and experiments.

A filter is a conjunction `<clause> [AND <clause>]...`; a clause is `<identifier> <comparator>
<value>` or `<identifier> IS [NOT] NULL`. An identifier is `<entity>.<key>` (split on the first
dot, the key optionally quoted with backticks, double or single quotes) or a bare attribute. An
order_by item is `<identifier> [ASC|DESC]`. What each entity accepts is checked by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from polytrack_server.errors import InvalidParameter

ATTRIBUTE: Final = "attribute"
METRIC: Final = "metric"
PARAM: Final = "param"
TAG: Final = "tag"
DATASET: Final = "dataset"

Literal = str | int | float
Value = Literal | tuple[Literal, ...] | None

# Comparators spelled with symbols, then those spelled with words (matched case-insensitively).
SYMBOL_COMPARATORS: Final = ("=", "!=", ">", ">=", "<", "<=")
LIKE_COMPARATORS: Final = ("LIKE", "ILIKE")
LIST_COMPARATORS: Final = ("IN", "NOT IN")
NULL_COMPARATORS: Final = ("IS NULL", "IS NOT NULL")


@dataclass(frozen=True, slots=True)
class Identifier:
    """`entity` is canonical (ATTRIBUTE, METRIC, ...); `text` is how the user wrote it."""

    entity: str
    key: str
    text: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """One clause. `value` is a str for a quoted string, int/float for a number, a tuple for an
    IN list and None for IS [NOT] NULL."""

    identifier: Identifier
    comparator: str
    value: Value
    text: str


@dataclass(frozen=True, slots=True)
class OrderKey:
    identifier: Identifier
    ascending: bool


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # IDENT, STRING, NUMBER, OP, LPAREN, RPAREN, COMMA
    text: str  # as written
    value: str  # unquoted string / identifier text / operator
    start: int
    end: int
    # For IDENT: the entity prefix before the first dot (None when bare); `value` is then the key.
    prefix: str | None = None
    quoted: bool = False


_QUOTED = r"`[^`]*`|\"(?:[^\"\\]|\\.|\"\")*\"|'(?:[^'\\]|\\.|'')*'"
_TOKEN_RE: Final = re.compile(
    rf"""
    (?P<ws>\s+)
  | (?P<ident>[A-Za-z_]\w*(?:\.(?:{_QUOTED}|[\w./:\-]+))?)
  | (?P<quoted>{_QUOTED})
  | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<op>!=|>=|<=|=|>|<)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
    """,
    re.VERBOSE,
)


def _unquote(text: str) -> str:
    quote, body = text[0], text[1:-1]
    if quote == "`":
        return body
    body = body.replace(quote * 2, quote)
    return re.sub(r"\\(.)", r"\1", body)


def _tokenize(source: str, what: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN_RE.match(source, position)
        if match is None:
            raise InvalidParameter(
                f"Invalid {what} {source!r}: unexpected character {source[position]!r} at position {position}"
            )
        kind = match.lastgroup
        text = match.group()
        start, position = match.start(), match.end()
        if kind == "ws":
            continue
        if kind == "ident":
            prefix, dot, key = text.partition(".")
            if dot:
                quoted = key[:1] in ("`", '"', "'")
                key = _unquote(key) if quoted else key
                tokens.append(_Token("IDENT", text, key, start, position, prefix, quoted))
            else:
                tokens.append(_Token("IDENT", text, text, start, position))
        elif kind == "quoted":
            kind_name = "BACKTICK" if text[0] == "`" else "STRING"
            tokens.append(_Token(kind_name, text, _unquote(text), start, position))
        else:
            assert kind is not None
            tokens.append(_Token(kind.upper(), text, text, start, position))
    return tokens


class _Parser:
    def __init__(self, source: str, what: str, entities: Mapping[str, str]) -> None:
        self.source = source
        self.what = what
        self.entities = entities
        self.tokens = _tokenize(source, what)
        self.index = 0

    # --- token helpers ---------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> _Token | None:
        index = self.index + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self, expected: str) -> _Token:
        token = self.peek()
        if token is None:
            raise self.error(f"expected {expected} but the {self.what} ended")
        self.index += 1
        return token

    def peek_word(self, offset: int = 0) -> str | None:
        """The upper-cased text of a bare word token, for keywords (AND, IN, NOT, ASC, ...)."""
        token = self.peek(offset)
        if token is None or token.kind != "IDENT" or token.prefix is not None:
            return None
        return token.text.upper()

    def error(self, problem: str) -> InvalidParameter:
        return InvalidParameter(f"Invalid {self.what} {self.source!r}: {problem}")

    def at_end(self) -> bool:
        return self.index >= len(self.tokens)

    # --- grammar ---------------------------------------------------------------------------------
    def identifier(self) -> Identifier:
        token = self.next("an identifier")
        if token.kind == "BACKTICK":
            return Identifier(ATTRIBUTE, token.value, token.text)
        if token.kind != "IDENT":
            raise self.error(f"expected an identifier but found {token.text!r}")
        if token.prefix is None:
            if token.text.upper() in _KEYWORDS:
                raise self.error(f"expected an identifier but found the keyword {token.text!r}")
            return Identifier(ATTRIBUTE, token.text, token.text)
        entity = self.entities.get(token.prefix.lower())
        if entity is None:
            valid = ", ".join(sorted(self.entities))
            raise self.error(
                f"invalid entity type {token.prefix!r} in {token.text!r}; valid types are {valid}"
            )
        if not token.value:
            raise self.error(f"missing key after {token.prefix!r} in {token.text!r}")
        return Identifier(entity, token.value, token.text)

    def comparator(self, identifier: Identifier) -> str:
        token = self.next(f"a comparison operator after {identifier.text!r}")
        if token.kind == "OP":
            return token.value
        word = token.text.upper() if token.kind == "IDENT" and token.prefix is None else None
        if word in LIKE_COMPARATORS or word == "IN":
            return word
        if word == "NOT" and self.peek_word() == "IN":
            self.index += 1
            return "NOT IN"
        if word == "IS":
            if self.peek_word() == "NULL":
                self.index += 1
                return "IS NULL"
            if self.peek_word() == "NOT" and self.peek_word(1) == "NULL":
                self.index += 2
                return "IS NOT NULL"
            raise self.error(f"expected NULL or NOT NULL after 'IS' in the clause on {identifier.text!r}")
        raise self.error(f"expected a comparison operator after {identifier.text!r} but found {token.text!r}")

    def literal(self, context: str) -> Literal:
        token = self.next(f"a value {context}")
        if token.kind == "STRING":
            return token.value
        if token.kind == "NUMBER":
            return _number(token.value)
        raise self.error(f"expected a quoted string or a number {context} but found {token.text!r}")

    def value(self, identifier: Identifier, comparator: str) -> Value:
        context = f"after '{identifier.text} {comparator}'"
        if comparator in NULL_COMPARATORS:
            return None
        if comparator not in LIST_COMPARATORS:
            return self.literal(context)
        opening = self.next(f"a parenthesised list {context}")
        if opening.kind != "LPAREN":
            raise self.error(f"expected a parenthesised list {context} but found {opening.text!r}")
        items: list[Literal] = []
        while True:
            items.append(self.literal(f"in the list {context}"))
            separator = self.next(f"',' or ')' in the list {context}")
            if separator.kind == "RPAREN":
                return tuple(items)
            if separator.kind != "COMMA":
                raise self.error(f"expected ',' or ')' in the list {context} but found {separator.text!r}")

    def clause_text(self, start_index: int) -> str:
        first, last = self.tokens[start_index], self.tokens[self.index - 1]
        return self.source[first.start : last.end]

    def filter(self) -> list[Comparison]:
        clauses: list[Comparison] = []
        while not self.at_end():
            start = self.index
            identifier = self.identifier()
            comparator = self.comparator(identifier)
            value = self.value(identifier, comparator)
            clauses.append(Comparison(identifier, comparator, value, self.clause_text(start)))
            if self.at_end():
                break
            word = self.peek_word()
            if word != "AND":
                found = self.tokens[self.index].text
                hint = " (only AND is supported)" if word == "OR" else ""
                raise self.error(
                    f"expected AND or the end after {clauses[-1].text!r} but found {found!r}{hint}"
                )
            self.index += 1
            if self.at_end():
                raise self.error("expected a clause after the final AND")
        return clauses

    def order_key(self) -> OrderKey:
        identifier = self.identifier()
        ascending = True
        word = self.peek_word()
        if word in ("ASC", "DESC"):
            ascending = word == "ASC"
            self.index += 1
        if not self.at_end():
            raise self.error(
                f"expected ASC, DESC or the end after {identifier.text!r} but found "
                f"{self.tokens[self.index].text!r}"
            )
        return OrderKey(identifier, ascending)


_KEYWORDS: Final = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "ASC", "DESC"})


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse_filter(source: str | None, entities: Mapping[str, str]) -> list[Comparison]:
    """Parse a filter; `entities` maps each accepted lower-case prefix to its canonical entity."""
    if source is None or not source.strip():
        return []
    return _Parser(source, "filter", entities).filter()


def parse_order_by(items: Sequence[str], entities: Mapping[str, str]) -> list[OrderKey]:
    """Parse order_by items (the caller rejects keys that repeat once aliases are resolved)."""
    keys: list[OrderKey] = []
    for item in items:
        if not item.strip():
            raise InvalidParameter("Invalid order_by clause '': it is empty")
        keys.append(_Parser(item, "order_by clause", entities).order_key())
    return keys
