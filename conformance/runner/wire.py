"""RPC descriptors, and responses in MLflow's JSON wire form.

Executors may answer in any valid protobuf JSON (Java prints 64-bit integers as strings, some
printers use lowerCamelCase). The runner parses each response into the RPC's response message
and prints it again in the one form cases are written against: MLflow's wire form (snake_case,
64-bit integers as numbers, enums by name, non-finite doubles as "NaN"/"Infinity"/"-Infinity",
unset fields absent, fields set to their empty value present).
"""

from __future__ import annotations

import base64
import importlib
import math
import pkgutil
from dataclasses import dataclass
from functools import cache
from typing import Any

from google.protobuf import descriptor_pool, json_format
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass


class WireError(Exception):
    """An unknown RPC, or a request or response that does not fit its message."""


@cache
def _load_api_modules() -> None:
    """Import every generated `polytrack.v1` module so that all services are in the pool."""
    import polytrack.v1

    for module in pkgutil.iter_modules(polytrack.v1.__path__):
        if module.name.endswith("_pb2"):
            importlib.import_module(f"polytrack.v1.{module.name}")


@dataclass(frozen=True)
class Method:
    """One RPC: its descriptor and message classes."""

    descriptor: MethodDescriptor
    request_class: type[Message]
    response_class: type[Message]

    @property
    def full_name(self) -> str:
        return self.descriptor.full_name


@cache
def find_method(service: str, method: str) -> Method:
    """The RPC `method` of the fully qualified `service`."""
    _load_api_modules()
    pool = descriptor_pool.Default()
    try:
        service_descriptor = pool.FindServiceByName(service)
    except KeyError:
        raise WireError(f"unknown service {service!r}") from None
    found = service_descriptor.methods_by_name.get(method)
    if found is None:
        raise WireError(f"{service} has no method {method!r}")
    return Method(found, GetMessageClass(found.input_type), GetMessageClass(found.output_type))


def check_request(method: Method, request: dict[str, Any]) -> None:
    """Raises WireError when `request` is not a valid request message of `method` in protobuf JSON."""
    try:
        json_format.ParseDict(request, method.request_class())
    except json_format.ParseError as error:
        raise WireError(f"request is not a valid {method.descriptor.input_type.full_name}: {error}") from None


def normalize_response(method: Method, response: Any) -> dict[str, Any]:
    """An executor's response (any protobuf JSON) in MLflow's wire form."""
    if not isinstance(response, dict):
        raise WireError(f"response is not a JSON object: {response!r}")
    message = method.response_class()
    try:
        json_format.ParseDict(response, message)
    except json_format.ParseError as error:
        raise WireError(
            f"response is not a valid {method.descriptor.output_type.full_name}: {error}"
        ) from None
    return to_wire(message)


def to_wire(message: Message) -> dict[str, Any]:
    """`message` in MLflow's JSON wire form."""
    return {field.name: _field(field, value) for field, value in message.ListFields()}


def _field(field: FieldDescriptor, value: Any) -> Any:
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        value_field = message_type.fields_by_name["value"]
        return {str(key): _scalar(value_field, item) for key, item in value.items()}
    if field.is_repeated:
        return [_scalar(field, item) for item in value]
    return _scalar(field, value)


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        assert field.message_type is not None
        if field.message_type.full_name.startswith("google.protobuf."):
            return json_format.MessageToDict(value, preserving_proto_field_name=True)
        return to_wire(value)
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else value
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    return value
