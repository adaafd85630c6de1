"""The MLflow-compatible REST gateway: an ASGI app transcoding JSON requests into RPC calls.

Routes come from the RPCs' `google.api.http` bindings (see `routes`); nothing here knows any
service. Requests are read the way MLflow reads them (reference section 1.2):

* POST and PUT need `Content-Type: application/json`; POST, PUT, PATCH and DELETE take the request
  from the JSON body only.
* GET takes it from the query string, or from the JSON body when the query string is empty.
* A body that is a JSON string holding JSON (sent by legacy clients) is decoded twice; anything
  but an object is refused, and so is malformed JSON (MLflow would treat it as `{}`).

Every reply is JSON, errors included: `{"error_code", "message"}` with the code's HTTP status.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import urllib.parse
from collections.abc import Sequence
from typing import Any

import orjson
from google.protobuf.message import Message
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from polytrack_server.errors import InvalidParameter, PolytrackError
from polytrack_server.gateway.codec import JsonCodecs
from polytrack_server.gateway.errors import (
    error_reply,
    http_exception_handler,
    internal_error_reply,
    method_not_allowed_reply,
    send_json,
    unexpected_exception_handler,
)
from polytrack_server.gateway.routes import Endpoint, RouteMatch, RouteTable, build_route_table
from polytrack_server.rpc import Invoker, RpcMethod

log = logging.getLogger("polytrack.gateway")

_MATCH_KEY = "polytrack.route_match"
_JSON_MEDIA_TYPE = "application/json"
_METHODS_NEEDING_JSON_TYPE = frozenset({"POST", "PUT"})
_SHOWN_CONTENT_TYPE_LIMIT = 100


def build_gateway(
    methods: Sequence[RpcMethod], invoker: Invoker, extra_routes: Sequence[BaseRoute] = ()
) -> Gateway:
    """The REST app serving every HTTP binding of `methods`, `/health`, `/version` and `extra_routes`.

    Raises `RouteConfigurationError` when a binding cannot be served (bad template, clashing
    routes, a body rule outside MLflow's dialect).
    """
    rpc_routes = RpcRoutes(build_route_table(methods, JsonCodecs()), invoker)
    starlette = Starlette(
        routes=[rpc_routes, *info_routes(), *extra_routes],
        exception_handlers={HTTPException: http_exception_handler, Exception: unexpected_exception_handler},
    )
    return Gateway(rpc_routes, starlette)


def info_routes() -> list[BaseRoute]:
    """`GET /health` (answers `OK` while the process serves) and `GET /version`."""
    version = importlib.metadata.version("polytrack")

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("OK")

    async def show_version(request: Request) -> PlainTextResponse:
        return PlainTextResponse(version)

    return [Route("/health", health, methods=["GET"]), Route("/version", show_version, methods=["GET"])]


class Gateway:
    """The gateway's ASGI app: RPC requests go straight to their endpoint, everything else (extra
    routes, 404s, 405s, lifespan) through Starlette.

    Starlette's middleware stack and route loop cost about as much as transcoding a small request,
    so the RPC routes, which carry nearly all traffic, bypass them. Wrap this app (not `starlette`)
    to add middleware that must see every request.
    """

    def __init__(self, rpc_routes: RpcRoutes, starlette: Starlette) -> None:
        self.rpc_routes = rpc_routes
        self.starlette = starlette

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self.rpc_routes.table.lookup(_route_path(scope), scope["method"])
            if found is not None and found.endpoint is not None:
                await self.rpc_routes.serve(found.endpoint, found.variables, scope, receive, send)
                return
        await self.starlette(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The request path below the app's mount point."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :]
    return path


class RpcRoutes(BaseRoute):
    """All RPC endpoints as one Starlette route, matched by dict lookup instead of one regex each."""

    def __init__(self, table: RouteTable, invoker: Invoker) -> None:
        self.table = table
        self.invoker = invoker

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        found = self.table.lookup(_route_path(scope), scope["method"])
        if found is None:
            return Match.NONE, {}
        # PARTIAL lets a later route serve the method; failing that, handle() answers 405.
        match = Match.FULL if found.endpoint else Match.PARTIAL
        return match, {_MATCH_KEY: found, "path_params": found.variables}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        found: RouteMatch = scope[_MATCH_KEY]
        if found.endpoint is not None:
            await self.serve(found.endpoint, found.variables, scope, receive, send)
            return
        allowed = list(found.allowed_methods)
        status, body = method_not_allowed_reply(scope["method"], _route_path(scope), allowed)
        await send_json(send, status, body, [(b"allow", ", ".join(allowed).encode())])

    async def serve(
        self, endpoint: Endpoint, variables: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Transcode one HTTP request into a call of the endpoint's RPC and send its reply."""
        try:
            request = await read_request(endpoint, variables, scope, receive)
            response = await self.invoker.invoke_plain(endpoint.rpc, request)
            status, body = 200, endpoint.response_codec.encode(response)
        except PolytrackError as error:
            status, body = error_reply(error)
        except Exception:
            log.exception("Unexpected failure in %s", endpoint.rpc.full_name)
            status, body = internal_error_reply()
        await send_json(send, status, body)


async def read_request(
    endpoint: Endpoint, variables: dict[str, str], scope: Scope, receive: Receive
) -> Message:
    """The RPC request carried by an HTTP request: from its query string or JSON body, then its path."""
    codec = endpoint.request_codec
    method = scope["method"]
    query = scope.get("query_string", b"")
    if endpoint.reads_query_string and query:
        pairs = urllib.parse.parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True)
        request = codec.decode_query(pairs)
    else:
        if method in _METHODS_NEEDING_JSON_TYPE:
            _require_json_content_type(scope)
        request = codec.decode(parse_json_body(await read_body(receive)))
    for field_path, set_field in endpoint.path_fields:
        set_field(request, variables[field_path])
    return request


def _require_json_content_type(scope: Scope) -> None:
    received = ""
    for name, value in scope["headers"]:
        if name == b"content-type":
            received = value.decode("latin-1")
            break
    if received.split(";", 1)[0].strip().lower() == _JSON_MEDIA_TYPE:
        return
    shown = repr(received[:_SHOWN_CONTENT_TYPE_LIMIT]) if received else "none"
    raise InvalidParameter(f"Bad Request. Content-Type must be '{_JSON_MEDIA_TYPE}', got {shown}")


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in a request body; an empty body is `{}`."""
    if not raw.strip():
        return {}
    value = _parse_json(raw)
    if type(value) is str:
        # Legacy clients double-encode: the body is a JSON string whose text is the JSON object.
        value = _parse_json(value)
    if type(value) is not dict:
        raise InvalidParameter(f"The request body must be a JSON object, got {_json_type(value)}")
    return value


def _parse_json(text: bytes | str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        try:
            # orjson refuses the NaN/Infinity literals and integers beyond 64 bits that Python's
            # json module writes and reads; accept them, the codec checks the ranges.
            return json.loads(text)
        except (ValueError, RecursionError):
            raise InvalidParameter(f"Malformed JSON request body: {error}") from None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "null"
