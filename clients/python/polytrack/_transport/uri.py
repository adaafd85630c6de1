"""Tracking URIs: which one applies, and which transport speaks to it.

| URI | Transport |
|---|---|
| `http://host:port[/prefix]`, `https://...` | REST (`RestTransport`) |
| `grpc://host:port`, `grpcs://host:port` | gRPC (`GrpcTransport`), TLS for grpcs |
| `sqlite:///path`, `postgresql://...`, `postgresql+psycopg://...` | in-process (`EmbeddedTransport`) |

Without an explicit URI the client reads $POLYTRACK_TRACKING_URI, then $MLFLOW_TRACKING_URI, and
falls back to `sqlite:///polytrack.db` in the working directory.
"""

from __future__ import annotations

import urllib.parse

from polytrack._transport.base import BaseTransport, environment_value
from polytrack.errors import PolytrackException

__all__ = ["DEFAULT_TRACKING_URI", "TRACKING_URI_VARIABLES", "resolve_tracking_uri", "transport_for"]

DEFAULT_TRACKING_URI = "sqlite:///polytrack.db"
TRACKING_URI_VARIABLES = ("POLYTRACK_TRACKING_URI", "MLFLOW_TRACKING_URI")

_REST_SCHEMES = frozenset({"http", "https"})
_GRPC_SCHEMES = frozenset({"grpc", "grpcs"})
_DATABASE_SCHEMES = frozenset({"sqlite", "postgresql", "postgres", "postgresql+psycopg"})


def resolve_tracking_uri(uri: str | None = None) -> str:
    """`uri` if given, else the environment's tracking URI, else `sqlite:///polytrack.db`."""
    if uri:
        return uri
    return environment_value(*TRACKING_URI_VARIABLES) or DEFAULT_TRACKING_URI


def _invalid(uri: str, reason: str) -> PolytrackException:
    return PolytrackException(f"Invalid tracking URI {uri!r}: {reason}", "INVALID_PARAMETER_VALUE")


def transport_for(uri: str | None = None) -> BaseTransport:
    """A new transport to the tracking service at `uri` (resolved with `resolve_tracking_uri`)."""
    uri = resolve_tracking_uri(uri)
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme in _REST_SCHEMES:
        parts = urllib.parse.urlsplit(uri)
        if not parts.hostname:
            raise _invalid(uri, "no host")
        if parts.query or parts.fragment:
            raise _invalid(uri, "a tracking URI takes no query string or fragment")
        from polytrack._transport.rest import RestTransport

        return RestTransport(uri)
    if scheme in _GRPC_SCHEMES:
        parts = urllib.parse.urlsplit(uri)
        try:
            port = parts.port
        except ValueError:
            raise _invalid(uri, "the port is not a number between 0 and 65535") from None
        if not parts.hostname or port is None:
            raise _invalid(uri, "give the server's host and gRPC port: grpc://host:port")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise _invalid(uri, "a gRPC tracking URI is only grpc://host:port")
        from polytrack._transport.grpc import GrpcTransport

        return GrpcTransport(parts.netloc, secure=scheme == "grpcs")
    if scheme in _DATABASE_SCHEMES:
        from polytrack._transport.embedded import EmbeddedTransport

        return EmbeddedTransport(uri)
    raise _invalid(
        uri,
        "expected http(s)://host:port, grpc(s)://host:port, sqlite:///path or postgresql://... "
        "(MLflow's file store and databricks URIs are not supported)",
    )
