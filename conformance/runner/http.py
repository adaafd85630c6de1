"""Raw HTTP steps, sent by the runner itself with httpx (REST only).

Client libraries hide the wire (they always send snake_case, numbers as numbers, a JSON content
type); these steps check what other clients and proxies send: numeric strings, lowerCamelCase,
repeated query keys, odd content types, the `/ajax-api` twin of every route.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class HttpRequest:
    """A prepared request (substitutions applied)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes | None

    def describe(self) -> dict[str, Any]:
        """The request as shown in reports."""
        shown: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.query:
            shown["query"] = [list(pair) for pair in self.query]
        if self.headers:
            shown["headers"] = self.headers
        if self.body is not None:
            text = self.body.decode("utf-8", errors="replace")
            try:
                shown["json"] = json.loads(text)
            except json.JSONDecodeError:
                shown["raw"] = text
        return shown


@dataclass(frozen=True)
class HttpAnswer:
    """What the server answered: status, headers (lower-case names) and the body."""

    status: int
    headers: dict[str, str]
    body: Any  # the decoded JSON, or the text when the body is not JSON
    is_json: bool


def prepare(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    json_body: Any = None,
    raw_body: str | None = None,
    has_json: bool = False,
) -> HttpRequest:
    """The request to send: a JSON body gets `Content-Type: application/json` unless one is given."""
    body: bytes | None = None
    sent_headers = dict(headers)
    if has_json:
        body = json.dumps(json_body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        if not any(name.lower() == "content-type" for name in sent_headers):
            sent_headers["Content-Type"] = "application/json"
    elif raw_body is not None:
        body = raw_body.encode("utf-8")
    return HttpRequest(method.upper(), path, query, sent_headers, body)


def send(client: httpx.Client, request: HttpRequest) -> HttpAnswer:
    """Send `request` with `client` (whose base URL is the server's)."""
    response = client.request(
        request.method,
        request.path,
        params=tuple(request.query) if request.query else None,
        headers=request.headers,
        content=request.body,
    )
    try:
        body: Any = response.json()
        is_json = True
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = response.text
        is_json = False
    headers = {name.lower(): value for name, value in response.headers.items()}
    return HttpAnswer(response.status_code, headers, body, is_json)


def new_client(base_url: str) -> httpx.Client:
    """An HTTP client for raw steps against `base_url`."""
    return httpx.Client(base_url=base_url.rstrip("/"), timeout=DEFAULT_TIMEOUT, follow_redirects=False)
