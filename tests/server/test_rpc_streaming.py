"""Streaming RPCs bind without HTTP bindings; the gateway leaves them out; unary RPCs still need one."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool

from polytrack.v1 import artifacts_service_pb2
from polytrack_server.gateway.codec import JsonCodecs
from polytrack_server.gateway.routes import build_route_table
from polytrack_server.rpc import ServiceBindingError, bind_services

ARTIFACTS = artifacts_service_pb2.DESCRIPTOR.services_by_name["ArtifactsService"]


class Anything:
    def __getattr__(self, name: str) -> Any:
        return lambda request: request


def test_streaming_rpcs_bind_without_http_rules_and_get_no_routes() -> None:
    methods = bind_services({ARTIFACTS: Anything()})
    streaming = {m.descriptor.name for m in methods if not m.is_unary}
    assert streaming == {"UploadArtifact", "DownloadArtifact"}
    assert all(not m.http_bindings for m in methods if not m.is_unary)
    table = build_route_table(methods, JsonCodecs())
    assert {e.rpc.descriptor.name for e in table.endpoints()} == {
        "ListArtifactFiles",
        "DeleteArtifact",
        "GetServerInfo",
    }


def test_a_unary_rpc_without_a_rule_still_stops_start_up() -> None:
    pool = descriptor_pool.DescriptorPool()
    proto = descriptor_pb2.FileDescriptorProto(name="bare.proto", package="bare", syntax="proto3")
    proto.message_type.add(name="M")
    service = proto.service.add(name="Bare")
    service.method.add(name="Unary", input_type=".bare.M", output_type=".bare.M")
    service.method.add(name="Stream", input_type=".bare.M", output_type=".bare.M", client_streaming=True)
    descriptor = pool.Add(proto) and pool.FindServiceByName("bare.Bare")
    with pytest.raises(ServiceBindingError) as failure:
        bind_services({descriptor: Anything()})
    assert "bare.Bare.Unary: no google.api.http binding" in str(failure.value)
    assert "Stream" not in str(failure.value)
