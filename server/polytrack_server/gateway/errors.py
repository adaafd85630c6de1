"""Error replies of the REST gateway: MLflow's `{"error_code", "message"}` JSON body, always.

Clients branch on `error_code` (the Python client falls back from POST to GET only on
ENDPOINT_NOT_FOUND), so even unknown paths and wrong methods answer in JSON, never in HTML.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Send

from polytrack_server.errors import ErrorCode, PolytrackError

JSON_CONTENT_TYPE = "application/json"
INTERNAL_ERROR_MESSAGE = "Internal server error; see the server log for details"


def error_body(code: ErrorCode, message: str) -> bytes:
    return orjson.dumps({"error_code": code.name, "message": message})


def error_reply(error: PolytrackError) -> tuple[int, bytes]:
    """The HTTP status and body reporting `error`."""
    return error.code.http_status, error_body(error.code, error.message)


def internal_error_reply() -> tuple[int, bytes]:
    """The HTTP status and body reporting an unexpected failure, with nothing of its internals."""
    return ErrorCode.INTERNAL_ERROR.http_status, error_body(ErrorCode.INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE)


def method_not_allowed_reply(method: str, path: str, allowed: list[str]) -> tuple[int, bytes]:
    message = f"{path} does not accept {method}; use {' or '.join(allowed)}"
    return 405, error_body(ErrorCode.ENDPOINT_NOT_FOUND, message)


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send a complete JSON response straight to the ASGI server."""
    response_headers = [
        (b"content-type", JSON_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if headers:
        response_headers.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": body})


def json_response(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> Response:
    return Response(body, status_code=status, headers=headers, media_type=JSON_CONTENT_TYPE)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own 404s and 405s (unknown paths, routes outside the RPCs), in JSON."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if exc.status_code == 404:
        message = f"No endpoint at {request.method} {path}"
        return json_response(404, error_body(ErrorCode.ENDPOINT_NOT_FOUND, message))
    if exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        status, body = method_not_allowed_reply(request.method, path, allow.split(", ") if allow else [])
        return json_response(status, body, {"Allow": allow})
    code = ErrorCode.BAD_REQUEST if exc.status_code < 500 else ErrorCode.INTERNAL_ERROR
    return json_response(exc.status_code, error_body(code, exc.detail), exc.headers)


async def unexpected_exception_handler(request: Request, exc: Exception) -> Response:
    """Failures escaping the extra routes, answered generically. Starlette re-raises them after
    this reply, so the ASGI server logs their traceback; logging here would log it twice."""
    status, body = internal_error_reply()
    return json_response(status, body)
