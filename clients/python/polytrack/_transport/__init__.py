"""How the client reaches a tracking service: REST, gRPC, or the store embedded in this process.

`transport_for(uri)` picks the transport for a tracking URI; all three implement `Transport`
(`call(rpc, request) -> response`, `close()`), raise `PolytrackException` with the same error codes,
and retry transient failures only when a retry cannot duplicate data (see `base`).
"""

from polytrack._transport.auth import Credentials, TlsSettings
from polytrack._transport.base import BaseTransport, RetryPolicy, Rpc, Transport, find_rpc
from polytrack._transport.uri import DEFAULT_TRACKING_URI, resolve_tracking_uri, transport_for

__all__ = [
    "DEFAULT_TRACKING_URI",
    "BaseTransport",
    "Credentials",
    "RetryPolicy",
    "Rpc",
    "TlsSettings",
    "Transport",
    "find_rpc",
    "resolve_tracking_uri",
    "transport_for",
]
