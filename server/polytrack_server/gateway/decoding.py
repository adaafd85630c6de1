"""JSON values -> protobuf constructor arguments, one precomputed decoder per message type.

Decoding is lenient the way MLflow's clients need: snake_case or lowerCamelCase keys, unknown
keys ignored, numbers as JSON numbers or numeric strings (Java sends int64 as strings, R sends
every leaf as a string), doubles also as "NaN"/"Infinity"/"-Infinity", enums by name or number,
bools also as the strings "true"/"false" in any case, and a single value where a list is expected.
A decoder turns a JSON object into keyword arguments for the message class (nested messages stay
dicts, which the protobuf runtime converts in C); the message is built once, at the top.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import math
import re
from collections.abc import Callable
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

Convert = Callable[[Any], Any]

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_FLOAT32_MAX = 3.4028234663852886e38
_SHOWN_VALUE_LIMIT = 200
# (lowest, highest, name) of each integer field type.
_INTEGER_RANGES: dict[int, tuple[int, int, str]] = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1, "an int32"),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1, "an int32"),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1, "an int32"),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1, "an int64"),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1, "an int64"),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1, "an int64"),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1, "a uint32"),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1, "a uint32"),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1, "a uint64"),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1, "a uint64"),
}


def is_well_known(descriptor: Descriptor) -> bool:
    """Well-known types (Timestamp, Struct, wrappers, ...) have special JSON forms of their own."""
    return descriptor.full_name.startswith("google.protobuf.")


def is_map(field: FieldDescriptor) -> bool:
    message_type = field.message_type
    return message_type is not None and message_type.GetOptions().map_entry


def message_type_of(field: FieldDescriptor) -> Descriptor:
    if field.message_type is None:
        raise TypeError(f"{field.full_name} is not a message field")
    return field.message_type


def enum_type_of(field: FieldDescriptor) -> EnumDescriptor:
    if field.enum_type is None:
        raise TypeError(f"{field.full_name} is not an enum field")
    return field.enum_type


class FieldError(Exception):
    """A field of the request is wrong; `path` is filled innermost-first as the error unwinds."""

    def __init__(self) -> None:
        super().__init__()
        self.path: list[str] = []

    def located(self, segment: str) -> FieldError:
        self.path.append(segment)
        return self

    def field_path(self) -> str:
        return "".join(p if p.startswith("[") else "." + p for p in reversed(self.path)).lstrip(".")

    def describe(self) -> str:
        raise NotImplementedError


class BadValue(FieldError):
    def __init__(self, value: object, expected: str) -> None:
        super().__init__()
        self.value = value
        self.expected = expected

    def describe(self) -> str:
        return (
            f"Invalid value {show_value(self.value)} for parameter '{self.field_path()}' supplied: "
            f"expected {self.expected}"
        )


class DuplicateField(FieldError):
    def __init__(self, spellings: tuple[str, str]) -> None:
        super().__init__()
        self.spellings = spellings

    def describe(self) -> str:
        first, second = self.spellings
        return (
            f"Parameter '{self.field_path()}' was supplied twice, as '{first}' and as '{second}'; "
            "send only one of them"
        )


def show_value(value: object) -> str:
    """The value as the client sent it (JSON), shortened so that errors stay readable."""
    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = repr(value)
    if len(text) > _SHOWN_VALUE_LIMIT:
        text = text[:_SHOWN_VALUE_LIMIT] + "..."
    return text


# --- scalars -----------------------------------------------------------------------------------


def decode_string(value: Any) -> str:
    if type(value) is str:
        return value
    raise BadValue(value, "a string")


def decode_bool(value: Any) -> bool:
    if value is True or value is False:
        return value
    if type(value) is str:
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    raise BadValue(value, "a boolean")


def decode_double(value: Any) -> float:
    kind = type(value)
    if kind is float:
        return value  # type: ignore[no-any-return]
    if kind is int:
        try:
            return float(value)
        except OverflowError:
            pass
    elif kind is str:
        special = _NON_FINITE.get(value)
        if special is not None:
            return special
        if _DECIMAL_TEXT.fullmatch(value):
            return float(value)
    raise BadValue(value, "a double")


def decode_float(value: Any) -> float:
    try:
        number = decode_double(value)
    except BadValue:
        raise BadValue(value, "a float") from None
    if math.isfinite(number) and abs(number) > _FLOAT32_MAX:
        raise BadValue(value, "a float")
    return number


def _integer_of(value: Any) -> int | None:
    """The integer a JSON value denotes exactly (`12`, `12.0`, `"12"`, `"1.2e+01"`), else None."""
    kind = type(value)
    if kind is int:
        return value  # type: ignore[no-any-return]
    if kind is str:
        if _INTEGER_TEXT.fullmatch(value):
            return int(value)
        # R renders numbers such as 1e5 as "1e+05": accept decimal text that denotes an integer.
        if _DECIMAL_TEXT.fullmatch(value):
            number = decimal.Decimal(value)
            # adjusted() is the exponent of the leading digit; beyond 20 no 64-bit integer fits,
            # and refusing early keeps "1e999999999" from building a huge integer.
            if number.adjusted() <= 20 and number == number.to_integral_value():
                return int(number)
        return None
    if kind is float and value.is_integer():
        return int(value)
    return None


def integer_decoder(field_type: int) -> Convert:
    lowest, highest, expected = _INTEGER_RANGES[field_type]

    def decode_integer(value: Any) -> int:
        number = _integer_of(value)
        if number is None or not lowest <= number <= highest:
            raise BadValue(value, expected)
        return number

    return decode_integer


def enum_decoder(enum: EnumDescriptor) -> Convert:
    numbers = {v.name: v.number for v in enum.values}
    known = frozenset(numbers.values())
    expected = "one of " + ", ".join(numbers) + " (or its number)"
    open_enum = not enum.is_closed

    def decode_enum(value: Any) -> int:
        if type(value) is str:
            number = numbers.get(value)
            if number is not None:
                return number
            if not _INTEGER_TEXT.fullmatch(value):
                raise BadValue(value, expected)
            number = int(value)
        elif type(value) is int:
            number = value
        else:
            raise BadValue(value, expected)
        if number in known or (open_enum and -(2**31) <= number < 2**31):
            return number
        raise BadValue(value, expected)

    return decode_enum


def decode_bytes(value: Any) -> bytes:
    if type(value) is str:
        # Proto JSON allows standard and URL-safe base64, with or without padding.
        text = value.replace("-", "+").replace("_", "/")
        try:
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            pass
    raise BadValue(value, "base64-encoded bytes")


_SCALAR_DECODERS: dict[int, Convert] = {
    FieldDescriptor.TYPE_STRING: decode_string,
    FieldDescriptor.TYPE_BOOL: decode_bool,
    FieldDescriptor.TYPE_DOUBLE: decode_double,
    FieldDescriptor.TYPE_FLOAT: decode_float,
    FieldDescriptor.TYPE_BYTES: decode_bytes,
}


# --- composites --------------------------------------------------------------------------------


def repeated_decoder(element: Convert) -> Convert:
    def decode_list(value: Any) -> list[Any]:
        items = value if type(value) is list else [value]
        try:
            return [element(item) for item in items]
        except FieldError as error:
            # Rare path: find which element failed so that the error names it.
            for index, item in enumerate(items):
                try:
                    element(item)
                except FieldError:
                    raise error.located(f"[{index}]") from None
            raise

    return decode_list


def map_decoder(key: Convert, element: Convert) -> Convert:
    def decode_map(value: Any) -> dict[Any, Any]:
        if type(value) is not dict:
            raise BadValue(value, "an object")
        decoded = {}
        for name, item in value.items():
            try:
                decoded[key(name)] = element(item)
            except FieldError as error:
                raise error.located(f"[{show_value(name)}]") from None
        return decoded

    return decode_map


def map_key_decoder(field: FieldDescriptor) -> Convert:
    """Map keys are always JSON strings; integer and bool keys are parsed from them."""
    if field.type == FieldDescriptor.TYPE_STRING:
        return decode_string
    if field.type == FieldDescriptor.TYPE_BOOL:
        return decode_bool
    return integer_decoder(field.type)


def well_known_decoder(descriptor: Descriptor) -> Convert:
    message_class = GetMessageClass(descriptor)

    def decode_well_known(value: Any) -> Message:
        try:
            return json_format.ParseDict(value, message_class())
        except (json_format.ParseError, TypeError, ValueError):
            raise BadValue(value, f"a {descriptor.full_name} in its JSON form") from None

    return decode_well_known


def element_decoder(field: FieldDescriptor, decoders: Callable[[Descriptor], Convert]) -> Convert:
    """The converter of one value of `field` (one element if it is repeated)."""
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return decoders(message_type_of(field))
    if field.type == FieldDescriptor.TYPE_ENUM:
        return enum_decoder(enum_type_of(field))
    scalar = _SCALAR_DECODERS.get(field.type)
    if scalar is not None:
        return scalar
    if field.type in _INTEGER_RANGES:
        return integer_decoder(field.type)
    raise TypeError(f"{field.full_name}: field type {field.type} has no JSON form")


class MessageDecoder:
    """Decodes JSON objects of one message type into keyword arguments of its class."""

    def __init__(self, descriptor: Descriptor) -> None:
        self.descriptor = descriptor
        self.message_class = GetMessageClass(descriptor)
        # Both spellings of every field -> (field name, converter); filled by `link`.
        self.fields: dict[str, tuple[str, Convert]] = {}

    def link(self, decoders: Callable[[Descriptor], Convert]) -> None:
        """Compute the field converters; `decoders` gives the converter of a nested message type."""
        for field in self.descriptor.fields:
            convert = self._field_decoder(field, decoders)
            self.fields[field.name] = (field.name, convert)
            self.fields[field.json_name] = (field.name, convert)

    @staticmethod
    def _field_decoder(field: FieldDescriptor, decoders: Callable[[Descriptor], Convert]) -> Convert:
        if is_map(field):
            entry = message_type_of(field).fields_by_name
            key = map_key_decoder(entry["key"])
            return map_decoder(key, element_decoder(entry["value"], decoders))
        element = element_decoder(field, decoders)
        return repeated_decoder(element) if field.is_repeated else element

    def to_kwargs(self, value: Any) -> dict[str, Any]:
        """Constructor arguments of the message denoted by the JSON object `value`."""
        if type(value) is not dict:
            raise BadValue(value, "an object")
        fields = self.fields
        kwargs: dict[str, Any] = {}
        for key, item in value.items():
            field = fields.get(key)
            if field is None:
                continue  # unknown keys are ignored, as by MLflow
            name, convert = field
            if item is None:
                continue  # JSON null means "not set"
            if name in kwargs:
                other = next(k for k in value if k != key and fields.get(k, ("",))[0] == name)
                raise DuplicateField((other, key)).located(name)
            try:
                kwargs[name] = convert(item)
            except FieldError as error:
                raise error.located(name) from None
        return kwargs

    def decode(self, value: Any) -> Message:
        return self.message_class(**self.to_kwargs(value))
