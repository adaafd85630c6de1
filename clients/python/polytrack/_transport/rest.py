"""The REST transport: MLflow's REST API 2.0 over HTTP(S), spoken with `httpx`.

Each RPC's HTTP method and path come from the first `google.api.http` binding in its descriptor
(`/api/2.0/mlflow/...`); there is no hand-kept path table. Requests are encoded the way MLflow's
own Python client encodes them: protobuf JSON with the original snake_case names, int64 as JSON
numbers, enums by name, NaN and infinities as the strings "NaN", "Infinity" and "-Infinity";
a GET puts its fields in the query string (repeated fields as repeated keys), other methods send a
JSON body. Error replies `{"error_code", "message"}` become `PolytrackException`; an error reply
that is not JSON (a proxy's HTML page, say) gets a code derived from its HTTP status.
"""

from __future__ import annotations

import base64
import math
import re
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

import httpx
import orjson
from google.api import annotations_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from polytrack._transport.auth import Credentials, TlsSettings
from polytrack._transport.base import (
    AttemptError,
    BaseTransport,
    RetryPolicy,
    Rpc,
    keep_inherited,
    user_agent,
)
from polytrack.errors import PolytrackException

__all__ = ["HttpRoute", "RestTransport", "error_from_response", "message_to_json", "route_of"]

DEFAULT_TIMEOUT = 120.0
DEFAULT_CONNECT_TIMEOUT = 10.0
# Statuses of a reply saying "try again later": rate limited, or a proxy in front of a server
# that is restarting or overloaded.
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})

# Error code of an error reply without a JSON body, by HTTP status (as MLflow's client does).
_CODE_OF_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    405: "ENDPOINT_NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    429: "REQUEST_LIMIT_EXCEEDED",
    499: "CANCELLED",
    501: "NOT_IMPLEMENTED",
    502: "TEMPORARILY_UNAVAILABLE",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_SHOWN_BODY = 500
_VERBS = ("get", "put", "post", "delete", "patch")
_TEMPLATE_VARIABLE = re.compile(r"\{([A-Za-z0-9_.]+)(?:=([^}]*))?\}")


# --- JSON encoding -------------------------------------------------------------------------------
def message_to_json(message: Message) -> dict[str, Any]:
    """`message` as MLflow's wire JSON: snake_case, set fields only, int64 numbers, enum names."""
    return {field.name: _field_to_json(field, value) for field, value in message.ListFields()}


def _field_to_json(field: FieldDescriptor, value: Any) -> Any:
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        value_field = message_type.fields_by_name["value"]
        return {str(key): _value_to_json(value_field, item) for key, item in value.items()}
    if field.is_repeated:
        return [_value_to_json(field, item) for item in value]
    return _value_to_json(field, value)


def _value_to_json(field: FieldDescriptor, value: Any) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type is not None and field.message_type.full_name.startswith("google.protobuf."):
            return json_format.MessageToDict(value, preserving_proto_field_name=True)
        return message_to_json(value)
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if kind == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else value
    if kind == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    return value


def _query_pairs(prefix: str, value: Any, pairs: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _query_pairs(f"{prefix}.{key}" if prefix else key, item, pairs)
    elif isinstance(value, list):
        for item in value:
            _query_pairs(prefix, item, pairs)
    elif isinstance(value, bool):
        pairs.append((prefix, "true" if value else "false"))
    else:
        pairs.append((prefix, str(value)))


# --- routes --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HttpRoute:
    """The HTTP method, path template and body selector (`*`, a field name or "") of an RPC."""

    method: str
    path: str
    body: str


@cache
def route_of(method: MethodDescriptor) -> HttpRoute:
    """The first `google.api.http` binding of `method`."""
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        raise PolytrackException(f"{method.full_name} has no REST binding", "ENDPOINT_NOT_FOUND")
    rule = options.Extensions[annotations_pb2.http]
    case = rule.WhichOneof("pattern")
    if case in _VERBS:
        return HttpRoute(case.upper(), str(getattr(rule, case)), rule.body)
    if case == "custom":
        return HttpRoute(rule.custom.kind.upper(), rule.custom.path, rule.body)
    raise PolytrackException(f"{method.full_name} has an empty REST binding", "ENDPOINT_NOT_FOUND")


def _pop_path(fields: dict[str, Any], name: str) -> Any:
    *parents, last = name.split(".")
    holder: Any = fields
    for parent in parents:
        holder = holder.get(parent, {}) if isinstance(holder, dict) else {}
    if not isinstance(holder, dict) or last not in holder:
        raise PolytrackException(f"Missing value for required parameter '{name}'.", "INVALID_PARAMETER_VALUE")
    return holder.pop(last)


_DOT_SEGMENTS = {".": "%2E", "..": "%2E%2E"}


def _fill_path(template: str, fields: dict[str, Any]) -> str:
    """`template` with each `{field}` replaced by that (removed) field's URL-quoted value."""

    def substitute(match: re.Match[str]) -> str:
        value = str(_pop_path(fields, match.group(1)))
        if "**" not in (match.group(2) or ""):
            return urllib.parse.quote(value, safe="")
        # Dot segments are encoded so that the HTTP client sends them as they are instead of
        # resolving them: the server must see (and refuse) `..`, not a different path.
        parts = value.split("/")
        return "/".join(_DOT_SEGMENTS.get(part) or urllib.parse.quote(part, safe="") for part in parts)

    return _TEMPLATE_VARIABLE.sub(substitute, template)


# --- the transport -------------------------------------------------------------------------------
def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def error_from_response(response: httpx.Response) -> PolytrackException:
    """The exception reporting an error reply: its JSON error, or one derived from its status."""
    status = response.status_code
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error_code"), str):
        return PolytrackException(str(body.get("message", "")), body["error_code"], status)
    code = _CODE_OF_STATUS.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
    text = response.text.strip()
    shown = text[:_SHOWN_BODY] + ("..." if len(text) > _SHOWN_BODY else "")
    reason = f"{status} {response.reason_phrase}".strip()
    message = f"{response.request.method} {response.request.url} answered {reason}"
    return PolytrackException(f"{message}: {shown}" if shown else message, code, status)


class RestTransport(BaseTransport):
    """Calls the REST gateway of a polytrack (or MLflow) server at `base_url`.

    `base_url` is `http(s)://host:port` with an optional path prefix. One keep-alive connection
    pool serves all calls; `timeout` bounds each attempt (connecting alone is bounded by
    `connect_timeout`). `http_transport` replaces httpx's network transport (for tests).
    """

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        tls: TlsSettings | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        retry: RetryPolicy | None = None,
        http_transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(retry)
        credentials = credentials if credentials is not None else Credentials.from_environment()
        tls = tls if tls is not None else TlsSettings.from_environment()
        headers = {"User-Agent": user_agent(), "Accept": "application/json"}
        authorization = credentials.authorization()
        if authorization is not None:
            headers["Authorization"] = authorization
        verify: bool | str = False if tls.insecure else (tls.server_cert_path or True)
        self.base_url = base_url.rstrip("/")
        self._http_settings: dict[str, Any] = {
            "base_url": self.base_url,
            "headers": headers,
            "timeout": httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
            "verify": verify,
            "transport": http_transport,
            "follow_redirects": False,
        }
        self._http = httpx.Client(**self._http_settings)

    def _after_fork_in_child(self) -> None:
        keep_inherited(self._http)
        self._http = httpx.Client(**self._http_settings)

    def _attempt(self, rpc: Rpc, request: Message, timeout: float | None) -> Message:
        route = route_of(rpc.descriptor)
        fields = message_to_json(request)
        path = _fill_path(route.path, fields)
        params: list[tuple[str, str]] = []
        content: bytes | None = None
        if route.body == "*":
            content = orjson.dumps(fields)
        elif route.body:
            content = orjson.dumps(fields.pop(route.body, {}))
            _query_pairs("", fields, params)
        else:
            _query_pairs("", fields, params)
        headers = {"Content-Type": "application/json"} if content is not None else None
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._http.request(
                route.method, path, params=tuple(params), content=content, headers=headers, **extra
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            # Nothing was sent: the connection was never established (or never obtained).
            unreachable = PolytrackException(
                f"Cannot reach the tracking server at {self.base_url}: {error}", "TEMPORARILY_UNAVAILABLE"
            )
            # A certificate the client refuses will be refused again: no point in retrying.
            transient = "CERTIFICATE_VERIFY_FAILED" not in str(error)
            raise AttemptError(unreachable, transient=transient, delivered=False) from error
        except httpx.TimeoutException as error:
            timed_out = PolytrackException(
                f"{route.method} {self.base_url}{path} timed out: {type(error).__name__}", "DEADLINE_EXCEEDED"
            )
            raise AttemptError(timed_out, transient=True, delivered=True) from error
        except httpx.TransportError as error:
            broken = PolytrackException(
                f"{route.method} {self.base_url}{path} failed: {type(error).__name__}: {error}",
                "TEMPORARILY_UNAVAILABLE",
            )
            raise AttemptError(broken, transient=True, delivered=True) from error
        if response.is_success:
            return self._decode(rpc, response)
        status = response.status_code
        raise AttemptError(
            error_from_response(response),
            transient=status in TRANSIENT_STATUSES,
            delivered=True,
            retry_after=_retry_after(response),
        )

    @staticmethod
    def _decode(rpc: Rpc, response: httpx.Response) -> Message:
        result = rpc.response_class()
        if not response.content.strip():
            return result
        try:
            body = orjson.loads(response.content)
            json_format.ParseDict(body, result, ignore_unknown_fields=True)
        except (orjson.JSONDecodeError, json_format.ParseError) as error:
            raise AttemptError(
                PolytrackException(
                    f"{rpc.name}: the server's reply is not a valid {rpc.response_class.__name__}: {error}",
                    "INTERNAL_ERROR",
                    response.status_code,
                ),
                transient=False,
                delivered=True,
            ) from error
        return result

    @property
    def http(self) -> httpx.Client:
        """The underlying HTTP client (base URL, auth headers, TLS): for routes that are not RPCs,
        such as the artifact proxy's raw file transfers."""
        return self._http

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __repr__(self) -> str:
        return f"RestTransport({self.base_url!r})"
