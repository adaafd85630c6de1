"""One keep-alive HTTP/1.1 JSON client, used identically against every server.

`http.client` on a persistent connection is the leanest client in the standard library (a few tens
of microseconds per request, against a few hundred for httpx), so the figures measure the servers,
not the client. Bodies are encoded once with orjson (a polytrack dependency, else the stdlib json)
and sent with the headers in one `send()`; TCP_NODELAY is set so small requests never wait for
Nagle's algorithm.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from typing import Any

try:
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

    def loads(data: bytes) -> Any:
        return orjson.loads(data)

except ImportError:  # pragma: no cover - orjson ships with polytrack

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

    def loads(data: bytes) -> Any:
        return json.loads(data)


API = "/api/2.0/mlflow/"
_RETRYABLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class HttpError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:500]!r}")
        self.status = status
        self.body = body


class RestClient:
    """A single persistent connection speaking MLflow's JSON wire format."""

    def __init__(self, host: str, port: int, timeout: float = 600.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._post_headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        self._get_headers = {"Connection": "keep-alive"}

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            conn.connect()
            assert conn.sock is not None
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request_raw(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """Send one request and return the whole response body; raise HttpError unless 200.

        The request is re-sent once on a fresh connection if the server had closed the idle
        keep-alive connection before answering (uvicorn closes idle connections after 5 s).
        """
        headers = self._post_headers if body is not None else self._get_headers
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except _RETRYABLE:
                self.close()
                if attempt:
                    raise
                continue
            if response.will_close:
                self.close()
            if response.status != 200:
                raise HttpError(method, path, response.status, data)
            return data
        raise AssertionError("unreachable")

    def post_raw(self, endpoint: str, body: bytes) -> bytes:
        return self.request_raw("POST", API + endpoint, body)

    def post(self, endpoint: str, payload: dict[str, Any]) -> Any:
        return loads(self.post_raw(endpoint, dumps(payload)))

    def get_raw(self, endpoint: str, params: dict[str, Any]) -> bytes:
        return self.request_raw("GET", API + endpoint + "?" + urllib.parse.urlencode(params, doseq=True))

    def get(self, endpoint: str, params: dict[str, Any]) -> Any:
        return loads(self.get_raw(endpoint, params))

    def health(self) -> bool:
        try:
            self.request_raw("GET", "/health")
        except (OSError, HttpError, http.client.HTTPException):
            self.close()
            return False
        return True
