"""The gRPC edge over a real socket: every RPC reachable, errors as google.rpc.Status with an ErrorInfo."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
import uvloop
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from polytrack.v1 import tracking_pb2 as pb
from polytrack.v1 import tracking_service_pb2 as api
from polytrack.v1 import tracking_service_pb2_grpc
from polytrack_server.errors import NotFound
from polytrack_server.grpc_edge.server import (
    ERROR_DOMAIN,
    INTERNAL_ERROR_MESSAGE,
    build_grpc_server,
    error_status,
    method_handler,
)
from polytrack_server.rpc import Invoker, RpcMethod, bind_services, implementation_name

TRACKING = api.DESCRIPTOR.services_by_name["TrackingService"]


class RecordingTracking:
    """Every RPC records its request and answers an empty response, except those written out below."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Message]] = []
        self._responses = {
            implementation_name(m.name): GetMessageClass(m.output_type) for m in TRACKING.methods
        }

    def __getattr__(self, name: str) -> Any:
        response_class = self.__dict__["_responses"].get(name)
        if response_class is None:
            raise AttributeError(name)

        def answer(request: Message) -> Message:
            self.calls.append((name, request))
            return response_class()

        return answer

    def create_experiment(self, request: api.CreateExperimentRequest) -> api.CreateExperimentResponse:
        return api.CreateExperimentResponse(experiment_id=request.name[::-1])

    def get_experiment(self, request: api.GetExperimentRequest) -> api.GetExperimentResponse:
        raise NotFound(f"No experiment with id={request.experiment_id}")

    def log_metric(self, request: api.LogMetricRequest) -> api.LogMetricResponse:
        raise RuntimeError("connection string postgres://admin:hunter2@db")


Scenario = Callable[[grpc.aio.Channel, RecordingTracking], Awaitable[None]]


async def serve_and_run(scenario: Scenario) -> None:
    servicer = RecordingTracking()
    with Invoker(max_workers=2) as invoker:
        server, port = build_grpc_server(bind_services({TRACKING: servicer}), invoker, "127.0.0.1:0")
        assert port > 0
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                await scenario(channel, servicer)
        finally:
            await server.stop(grace=None)


def run(scenario: Scenario) -> None:
    asyncio.run(serve_and_run(scenario))


def error_info(error: grpc.aio.AioRpcError) -> tuple[Any, error_details_pb2.ErrorInfo]:
    status = rpc_status.from_call(error)
    assert status is not None, "the call carries no google.rpc.Status"
    (detail,) = status.details
    info = error_details_pb2.ErrorInfo()
    assert detail.Unpack(info)
    return status, info


def test_a_call_reaches_its_servicer_method():
    async def scenario(channel: grpc.aio.Channel, servicer: RecordingTracking) -> None:
        stub = tracking_service_pb2_grpc.TrackingServiceStub(channel)
        response = await stub.CreateExperiment(api.CreateExperimentRequest(name="abc"))
        assert response == api.CreateExperimentResponse(experiment_id="cba")

    run(scenario)


def test_domain_errors_travel_as_status_with_error_info():
    async def scenario(channel: grpc.aio.Channel, servicer: RecordingTracking) -> None:
        stub = tracking_service_pb2_grpc.TrackingServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetExperiment(api.GetExperimentRequest(experiment_id="42"))
        error = caught.value
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert error.details() == "No experiment with id=42"
        status, info = error_info(error)
        assert status.code == grpc.StatusCode.NOT_FOUND.value[0]
        assert status.message == "No experiment with id=42"
        assert (info.reason, info.domain) == ("RESOURCE_DOES_NOT_EXIST", ERROR_DOMAIN)
        assert dict(info.metadata) == {"http_status": "404"}

    run(scenario)


def test_unexpected_failures_are_internal_without_details(caplog):
    async def scenario(channel: grpc.aio.Channel, servicer: RecordingTracking) -> None:
        stub = tracking_service_pb2_grpc.TrackingServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.LogMetric(api.LogMetricRequest(key="m"))
        error = caught.value
        assert error.code() == grpc.StatusCode.INTERNAL
        assert error.details() == INTERNAL_ERROR_MESSAGE
        _, info = error_info(error)
        assert info.reason == "INTERNAL_ERROR"
        assert "hunter2" not in repr(error.trailing_metadata())

    with caplog.at_level(logging.ERROR, logger="polytrack.grpc"):
        run(scenario)
    assert "TrackingService.LogMetric" in caplog.text and "hunter2" in caplog.text


def test_every_tracking_rpc_is_reachable():
    async def scenario(channel: grpc.aio.Channel, servicer: RecordingTracking) -> None:
        for method in TRACKING.methods:
            name = implementation_name(method.name)
            if name in {"create_experiment", "get_experiment", "log_metric"}:
                continue  # written out above, checked by the tests above
            request_class = GetMessageClass(method.input_type)
            response_class = GetMessageClass(method.output_type)
            call = channel.unary_unary(
                f"/{TRACKING.full_name}/{method.name}",
                request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString,
            )
            servicer.calls.clear()
            assert await call(request_class()) == response_class()
            assert servicer.calls == [(name, request_class())]

    run(scenario)


def test_the_edge_runs_on_uvloop():
    async def scenario(channel: grpc.aio.Channel, servicer: RecordingTracking) -> None:
        stub = tracking_service_pb2_grpc.TrackingServiceStub(channel)
        batch = api.LogBatchRequest(
            run_id="r", metrics=[pb.Metric(key="k", value=0.5, step=s) for s in range(100)]
        )
        assert await stub.LogBatch(batch) == api.LogBatchResponse()
        assert servicer.calls == [("log_batch", batch)]

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve_and_run(scenario))


def test_error_status_carries_code_message_and_error_info():
    status = error_status(NotFound.code, "gone")
    assert (status.code, status.message) == (grpc.StatusCode.NOT_FOUND.value[0], "gone")
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.reason == "RESOURCE_DOES_NOT_EXIST" and info.metadata["http_status"] == "404"


def test_streaming_rpcs_are_refused_until_supported():
    # Client- and server-streaming RPCs are served (test_artifacts_grpc.py); bidirectional not yet.
    service, chunk = _chunk_service("grpcedgetest", "Upload", "Send", client_streaming=True)
    method = RpcMethod(service.methods_by_name["Send"], chunk, chunk, lambda request: request, ())
    with pytest.raises(NotImplementedError, match=r"grpcedgetest\.Upload\.Send: streaming RPCs"):
        method_handler(method, Invoker.inline())


def _chunk_service(
    package: str, service_name: str, method_name: str, *, client_streaming: bool = False
) -> tuple[Any, type[Message]]:
    """A service `<package>.<service_name>` whose one server-streaming method takes and returns
    `Chunk {bytes data = 1}` messages (client-streaming too when asked)."""
    file = descriptor_pb2.FileDescriptorProto(name=f"{package}.proto", package=package, syntax="proto3")
    chunk = file.message_type.add(name="Chunk")
    chunk.field.add(
        name="data",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    service = file.service.add(name=service_name)
    service.method.add(
        name=method_name,
        input_type=f".{package}.Chunk",
        output_type=f".{package}.Chunk",
        client_streaming=client_streaming,
        server_streaming=True,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return pool.FindServiceByName(f"{package}.{service_name}"), GetMessageClass(
        pool.FindMessageTypeByName(f"{package}.Chunk")
    )


def test_a_server_stream_may_yield_messages_or_their_serialized_bytes_but_nothing_else():
    service, chunk = _chunk_service("grpcedgefeed", "Feed", "Watch")

    class Feed:
        def watch(self, request: Message) -> Any:
            yield chunk(data=b"as a message")
            yield chunk(data=b"already serialized").SerializeToString()
            if request.data == b"and then":  # type: ignore[attr-defined]
                yield "a str is neither"

    async def scenario() -> None:
        with Invoker(max_workers=2) as invoker:
            server, port = build_grpc_server(bind_services({service: Feed()}), invoker, "127.0.0.1:0")
            await server.start()
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                    watch = channel.unary_stream(
                        "/grpcedgefeed.Feed/Watch",
                        request_serializer=chunk.SerializeToString,
                        response_deserializer=chunk.FromString,
                    )
                    received = [reply.data async for reply in watch(chunk())]
                    assert received == [b"as a message", b"already serialized"]
                    call = watch(chunk(data=b"and then"))
                    with pytest.raises(grpc.aio.AioRpcError) as failure:
                        async for _ in call:
                            pass
                    assert failure.value.code() == grpc.StatusCode.INTERNAL
            finally:
                await server.stop(grace=None)

    asyncio.run(scenario())
