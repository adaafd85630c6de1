"""Protobuf messages -> JSON-ready dicts, with one generated Python function per message type.

MLflow's wire form: original snake_case names in field-number order, int64 as JSON numbers, enums
by name, NaN and +/-infinity as "NaN"/"Infinity"/"-Infinity", maps as objects, and only the
fields that are set (present for fields with explicit presence, non-empty for repeated and map
fields, non-default for proto3 fields without presence). Responses can hold hundreds of thousands
of messages, so instead of walking descriptors per message, each type gets straight-line code
(`if has("key"): out["key"] = m.key ...`) generated from its descriptor once, at start-up.
"""

from __future__ import annotations

import base64
import keyword
import math
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from polytrack_server.gateway.decoding import enum_type_of, is_map, is_well_known, message_type_of

Encode = Callable[[Message], dict[str, Any]]

_FLOATING = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)


def non_finite(value: float) -> str:
    """The proto-JSON spelling of a double that JSON numbers cannot carry."""
    if value != value:
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def encode_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def encode_well_known(message: Message) -> Any:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


class EncoderCompiler:
    """Generates and compiles the encoder functions of message types into one shared namespace.

    Generated functions call each other through the namespace, so recursive and mutually
    recursive message types need no special handling.
    """

    def __init__(self) -> None:
        self._namespace: dict[str, Any] = {
            "INF": math.inf,
            "non_finite": non_finite,
            "encode_bytes": encode_bytes,
            "encode_well_known": encode_well_known,
        }
        self._function_names: dict[str, str] = {}
        self._pending: list[Descriptor] = []

    def encoder(self, descriptor: Descriptor) -> Encode:
        """The encoder of `descriptor`, generating it (and those of the types it contains) if needed."""
        name = self._function_name(descriptor)
        while self._pending:
            self._compile(self._pending.pop())
        encode: Encode = self._namespace[name]
        return encode

    def _function_name(self, descriptor: Descriptor) -> str:
        name = self._function_names.get(descriptor.full_name)
        if name is None:
            name = f"encode_{len(self._function_names)}_{descriptor.name}"
            self._function_names[descriptor.full_name] = name
            self._pending.append(descriptor)
        return name

    def _constant(self, prefix: str, value: object) -> str:
        name = f"{prefix}_{len(self._namespace)}"
        self._namespace[name] = value
        return name

    def _compile(self, descriptor: Descriptor) -> None:
        lines = [f"def {self._function_names[descriptor.full_name]}(m):", "    d = {}"]
        if any(f.has_presence for f in descriptor.fields):
            lines.append("    has = m.HasField")
        for field in sorted(descriptor.fields, key=lambda f: f.number):
            lines.extend("    " + line for line in self._field_lines(field))
        lines.append("    return d")
        source = "\n".join(lines) + "\n"
        exec(compile(source, f"<encoder of {descriptor.full_name}>", "exec"), self._namespace)

    def _field_lines(self, field: FieldDescriptor) -> list[str]:
        key = repr(field.name)
        attribute = f"getattr(m, {key})" if keyword.iskeyword(field.name) else f"m.{field.name}"
        if is_map(field):
            entry = message_type_of(field).fields_by_name
            map_key = self._map_key_expression(entry["key"], "k")
            value = self._value_expression(entry["value"], "x")
            return [f"v = {attribute}", f"if v: d[{key}] = {{{map_key}: {value} for k, x in v.items()}}"]
        if field.is_repeated:
            value = self._value_expression(field, "x")
            listed = "list(v)" if value == "x" else f"[{value} for x in v]"
            return [f"v = {attribute}", f"if v: d[{key}] = {listed}"]
        value = self._value_expression(field, "v")
        if field.has_presence and field.type != FieldDescriptor.TYPE_MESSAGE:
            # Reading the value first spares the presence check whenever it is not the default
            # (NaN is truthy too); a message field is checked first, as reading it builds a wrapper.
            return [f"v = {attribute}", f"if v or has({key}):", f"    d[{key}] = {value}"]
        if field.has_presence:
            return [f"if has({key}):", f"    v = {attribute}", f"    d[{key}] = {value}"]
        # Proto3 fields without presence are emitted when they differ from their default.
        return [f"v = {attribute}", f"if v: d[{key}] = {value}"]

    def _value_expression(self, field: FieldDescriptor, variable: str) -> str:
        """Python expression turning `variable`, a value of `field`, into its JSON form."""
        if field.type in _FLOATING:
            return f"({variable} if -INF < {variable} < INF else non_finite({variable}))"
        if field.type == FieldDescriptor.TYPE_ENUM:
            names = {v.number: v.name for v in enum_type_of(field).values}
            # An enum number this server does not know is sent as the number, as proto JSON says.
            return f"{self._constant('enum_names', names)}.get({variable}, {variable})"
        if field.type == FieldDescriptor.TYPE_BYTES:
            return f"encode_bytes({variable})"
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            message_type = message_type_of(field)
            if is_well_known(message_type):
                return f"encode_well_known({variable})"
            return f"{self._function_name(message_type)}({variable})"
        return variable

    @staticmethod
    def _map_key_expression(field: FieldDescriptor, variable: str) -> str:
        if field.type == FieldDescriptor.TYPE_STRING:
            return variable
        if field.type == FieldDescriptor.TYPE_BOOL:
            return f"('true' if {variable} else 'false')"
        return f"str({variable})"


class PlainNormalizer:
    """Turns plain message values (see `polytrack_server.rpc.PlainResponse`) into the JSON the
    message encoder would write for the same message, in place.

    Only what differs needs work: NaN and infinities, enum numbers, bytes, and empty values of
    fields without presence (which the encoder leaves out). A function is generated per message
    type that has such fields, directly or in the messages it holds; other types cost nothing.
    Maps and well-known types are refused with ValueError: no plain response holds them.
    """

    def __init__(self) -> None:
        self._namespace: dict[str, Any] = {
            "INF": math.inf,
            "non_finite": non_finite,
            "encode_bytes": encode_bytes,
        }
        self._names: dict[str, str | None] = {}

    def normalizer(self, descriptor: Descriptor) -> Callable[[dict[str, Any]], None] | None:
        """The in-place normalizer of `descriptor`'s plain values; None when they need none."""
        name = self._compile(descriptor)
        return None if name is None else self._namespace[name]

    def _compile(self, descriptor: Descriptor) -> str | None:
        full_name = descriptor.full_name
        if full_name in self._names:
            return self._names[full_name]
        function = f"normalize_{len(self._names)}_{descriptor.name}"
        # Provisional, so that recursive types refer to the function being generated.
        self._names[full_name] = function
        lines: list[str] = []
        for field in sorted(descriptor.fields, key=lambda f: f.number):
            lines.extend(self._field_lines(descriptor, field))
        if not lines:
            # A recursive type may already call it: leave a function that does nothing.
            exec(f"def {function}(d):\n    return None\n", self._namespace)
            self._names[full_name] = None
            return None
        source = "\n".join([f"def {function}(d):", *("    " + line for line in lines)]) + "\n"
        exec(compile(source, f"<plain normalizer of {full_name}>", "exec"), self._namespace)
        return function

    def _field_lines(self, descriptor: Descriptor, field: FieldDescriptor) -> list[str]:
        key = repr(field.name)
        if is_map(field) or (
            field.type == FieldDescriptor.TYPE_MESSAGE and is_well_known(message_type_of(field))
        ):
            raise ValueError(
                f"{descriptor.full_name}.{field.name}: plain values cannot hold maps or well-known types"
            )
        lines: list[str] = []
        if field.is_repeated or not field.has_presence:
            # The encoder leaves out empty lists and proto3 defaults of fields without presence.
            lines += [f"v = d.get({key})", f"if v is not None and not v: del d[{key}]"]
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            inner = self._compile(message_type_of(field))
            if inner is None:
                return lines
            if field.is_repeated:
                return [*lines, f"for x in d.get({key}, ()): {inner}(x)"]
            return [*lines, f"v = d.get({key})", f"if v is not None: {inner}(v)"]
        if field.type in _FLOATING and not field.is_repeated:
            # Most values are finite numbers, already their JSON form: write only the others.
            return [
                *lines,
                f"v = d.get({key})",
                f"if v is not None and not -INF < v < INF: d[{key}] = non_finite(v)",
            ]
        value = self._value_expression(field)
        if value is None:
            return lines
        if field.is_repeated:
            return [*lines, f"v = d.get({key})", f"if v: d[{key}] = [{value.format('x')} for x in v]"]
        return [*lines, f"v = d.get({key})", f"if v is not None: d[{key}] = {value.format('v')}"]

    def _value_expression(self, field: FieldDescriptor) -> str | None:
        """The JSON form of a scalar value `{}`, or None when the value is already its JSON form."""
        if field.type in _FLOATING:
            return "({0} if -INF < {0} < INF else non_finite({0}))"
        if field.type == FieldDescriptor.TYPE_ENUM:
            names = {v.number: v.name for v in enum_type_of(field).values}
            constant = f"enum_names_{len(self._namespace)}"
            self._namespace[constant] = names
            return f"{constant}.get({{0}}, {{0}})"
        if field.type == FieldDescriptor.TYPE_BYTES:
            return "encode_bytes({0})"
        return None
