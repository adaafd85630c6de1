"""Page tokens: base64 of the JSON `{"offset": N}`, opaque to clients."""

from __future__ import annotations

import base64
import binascii
import json

from polytrack_server.errors import InvalidParameter


def encode_page_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    """The offset a token stands for; no token -> 0; anything malformed -> InvalidParameter."""
    if not token:
        return 0
    try:
        decoded = json.loads(base64.b64decode(token.encode(), validate=True))
    except (binascii.Error, ValueError, UnicodeError) as error:
        raise InvalidParameter(f"Invalid page token {token!r}: it is not base64-encoded JSON") from error
    offset = decoded.get("offset") if isinstance(decoded, dict) else None
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidParameter(f"Invalid page token {token!r}: it holds no non-negative offset")
    return offset
