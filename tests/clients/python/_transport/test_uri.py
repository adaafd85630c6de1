"""Tracking URIs: which one applies, and the transport each scheme selects."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytrack._transport.embedded import EmbeddedTransport
from polytrack._transport.grpc import GrpcTransport
from polytrack._transport.rest import RestTransport
from polytrack._transport.uri import DEFAULT_TRACKING_URI, resolve_tracking_uri, transport_for
from polytrack.errors import PolytrackException


def test_explicit_uri_then_polytrack_then_mlflow_variable_then_default(monkeypatch) -> None:
    assert resolve_tracking_uri(None) == DEFAULT_TRACKING_URI == "sqlite:///polytrack.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert resolve_tracking_uri(None) == "http://mlflow:5000"
    monkeypatch.setenv("POLYTRACK_TRACKING_URI", "grpc://polytrack:5001")
    assert resolve_tracking_uri(None) == "grpc://polytrack:5001"
    assert resolve_tracking_uri("sqlite:///x.db") == "sqlite:///x.db"
    monkeypatch.setenv("POLYTRACK_TRACKING_URI", "  ")
    assert resolve_tracking_uri(None) == "http://mlflow:5000"


@pytest.mark.parametrize(
    ("uri", "kind", "where"),
    [
        ("http://127.0.0.1:5000", RestTransport, "http://127.0.0.1:5000"),
        ("https://tracking.example.com/prefix/", RestTransport, "https://tracking.example.com/prefix"),
        ("HTTP://127.0.0.1:5000", RestTransport, "HTTP://127.0.0.1:5000"),
        ("grpc://127.0.0.1:5001", GrpcTransport, "127.0.0.1:5001"),
        ("grpcs://tracking.example.com:443", GrpcTransport, "tracking.example.com:443"),
    ],
)
def test_remote_schemes(uri: str, kind: type, where: str) -> None:
    transport = transport_for(uri)
    try:
        assert isinstance(transport, kind)
        assert (transport.base_url if isinstance(transport, RestTransport) else transport.target) == where  # type: ignore[union-attr]
    finally:
        transport.close()


def test_database_schemes_embed_the_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    transport = transport_for(None)
    try:
        assert isinstance(transport, EmbeddedTransport)
        assert (tmp_path / "polytrack.db").exists()
    finally:
        transport.close()


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("file:///tmp/mlruns", "expected http(s)://host:port"),
        ("./mlruns", "expected http(s)://host:port"),
        ("databricks", "expected http(s)://host:port"),
        ("http://", "no host"),
        ("http://host:5000/?x=1", "no query string"),
        ("grpc://127.0.0.1", "grpc://host:port"),
        ("grpc://127.0.0.1:99999", "port"),
        ("grpc://127.0.0.1:5001/prefix", "only grpc://host:port"),
    ],
)
def test_invalid_uris_are_refused(uri: str, reason: str) -> None:
    with pytest.raises(PolytrackException) as caught:
        transport_for(uri)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert reason in caught.value.message and repr(uri) in caught.value.message
