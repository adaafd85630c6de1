"""The gRPC transport: errors from google.rpc.Status, retries and credentials, against real gRPC
servers (the live polytrack server, and a scripted one for failures a healthy server never shows)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from polytrack._transport.auth import Credentials
from polytrack._transport.base import RetryPolicy
from polytrack._transport.grpc import DEFAULT_CHANNEL_OPTIONS, GrpcTransport
from polytrack.errors import PolytrackException
from polytrack.v1 import tracking_pb2 as pb
from polytrack.v1 import tracking_service_pb2 as api

TRACKING = api.DESCRIPTOR.services_by_name["TrackingService"]
FAST_RETRIES = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05, max_elapsed=10.0)
# Reconnect quickly after a refused connection, so that a retry finds a server that just started.
QUICK_RECONNECT = (
    *DEFAULT_CHANNEL_OPTIONS,
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 100),
)

Action = Callable[[Message, grpc.ServicerContext], Message | None]


def abort_with(
    code: grpc.StatusCode, message: str, reason: str | None = None, http: int | None = None
) -> Action:
    """An action ending the call with `code`, and an ErrorInfo when `reason` is given."""

    def act(_request: Message, context: grpc.ServicerContext) -> None:
        details = []
        if reason is not None:
            detail = any_pb2.Any()
            metadata = {"http_status": str(http)} if http is not None else {}
            detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="test", metadata=metadata))
            details.append(detail)
        context.abort_with_status(
            rpc_status.to_status(status_pb2.Status(code=code.value[0], message=message, details=details))
        )

    return act


def answer(response: Message, delay: float = 0.0) -> Action:
    def act(_request: Message, _context: grpc.ServicerContext) -> Message:
        if delay:
            time.sleep(delay)
        return response

    return act


class ScriptedGrpcServer:
    """Serves TrackingService: each RPC runs its queued actions in order (then answers empty
    responses) and records the request metadata of every call."""

    def __init__(self, port: int = 0) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.actions: dict[str, list[Action]] = {}
        self._lock = threading.Lock()
        handlers = {method.name: self._handler(method) for method in TRACKING.methods}
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(TRACKING.full_name, handlers),)
        )
        self.port = self._server.add_insecure_port(f"127.0.0.1:{port}")
        self.target = f"127.0.0.1:{self.port}"
        self._server.start()

    def _handler(self, method: Any) -> grpc.RpcMethodHandler:
        request_class = GetMessageClass(method.input_type)
        response_class = GetMessageClass(method.output_type)

        def behaviour(request: Message, context: grpc.ServicerContext) -> Message:
            with self._lock:
                self.calls.append((method.name, dict(context.invocation_metadata())))
                queued = self.actions.get(method.name)
                action = queued.pop(0) if queued else None
            if action is None:
                return response_class()
            result = action(request, context)
            return result if result is not None else response_class()

        return grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=request_class.FromString,
            response_serializer=response_class.SerializeToString,
        )

    def script(self, rpc: str, *actions: Action) -> None:
        with self._lock:
            self.actions.setdefault(rpc, []).extend(actions)

    def count(self, rpc: str) -> int:
        return sum(1 for name, _ in self.calls if name == rpc)

    def stop(self) -> None:
        self._server.stop(grace=None).wait(5)


@pytest.fixture
def grpc_stub_on() -> Iterator[Callable[[int], ScriptedGrpcServer]]:
    started: list[ScriptedGrpcServer] = []

    def start(port: int = 0) -> ScriptedGrpcServer:
        server = ScriptedGrpcServer(port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def grpc_stub(grpc_stub_on: Callable[[int], ScriptedGrpcServer]) -> ScriptedGrpcServer:
    return grpc_stub_on(0)


def transport(target: str, **kwargs: Any) -> GrpcTransport:
    options: dict[str, Any] = {"retry": FAST_RETRIES, "credentials": Credentials(), **kwargs}
    return GrpcTransport(target, **options)


def error_of(rpc_transport: GrpcTransport, rpc: str, request: Message) -> PolytrackException:
    with pytest.raises(PolytrackException) as caught:
        rpc_transport.call(rpc, request)
    return caught.value


# --- against the live server ---------------------------------------------------------------------
def test_calls_the_live_server(grpc_uri: str) -> None:
    with transport(grpc_uri.removeprefix("grpc://")) as rpc:
        response = rpc.call("GetExperiment", api.GetExperimentRequest(experiment_id="0"))
        assert isinstance(response, api.GetExperimentResponse) and response.experiment.name == "Default"
        error = error_of(rpc, "GetRun", api.GetRunRequest(run_id="e" * 32))
        assert (error.error_code, error.http_status) == ("RESOURCE_DOES_NOT_EXIST", 404)
        invalid = error_of(rpc, "SearchExperiments", api.SearchExperimentsRequest())
        assert (invalid.error_code, invalid.http_status) == ("INVALID_PARAMETER_VALUE", 400)
        assert "max_results" in invalid.message


# --- errors --------------------------------------------------------------------------------------
def test_error_info_gives_the_code_and_status(grpc_stub: ScriptedGrpcServer) -> None:
    grpc_stub.script(
        "GetRun",
        abort_with(grpc.StatusCode.NOT_FOUND, "No run 'x'", "RESOURCE_DOES_NOT_EXIST", 404),
        abort_with(grpc.StatusCode.FAILED_PRECONDITION, "deleted", "INVALID_STATE"),
        abort_with(grpc.StatusCode.PERMISSION_DENIED, "go away"),
    )
    with transport(grpc_stub.target, retry=RetryPolicy.never()) as rpc:
        first = error_of(rpc, "GetRun", api.GetRunRequest(run_id="x"))
        assert (first.error_code, first.message, first.http_status) == (
            "RESOURCE_DOES_NOT_EXIST",
            "No run 'x'",
            404,
        )
        # Without http_status metadata the status is MLflow's for the code.
        second = error_of(rpc, "GetRun", api.GetRunRequest(run_id="x"))
        assert (second.error_code, second.http_status) == ("INVALID_STATE", 500)
        # A bare gRPC status (from a proxy, say) maps to the nearest MLflow code.
        third = error_of(rpc, "GetRun", api.GetRunRequest(run_id="x"))
        assert (third.error_code, third.message, third.http_status) == ("PERMISSION_DENIED", "go away", None)


# --- retries -------------------------------------------------------------------------------------
def test_safe_calls_are_retried_on_unavailable(grpc_stub: ScriptedGrpcServer) -> None:
    grpc_stub.script(
        "SearchRuns",
        abort_with(grpc.StatusCode.UNAVAILABLE, "db locked", "TEMPORARILY_UNAVAILABLE", 503),
        abort_with(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down"),
        answer(api.SearchRunsResponse(next_page_token="t")),
    )
    with transport(grpc_stub.target) as rpc:
        response = rpc.call("SearchRuns", api.SearchRunsRequest(experiment_ids=["1"]))
    assert response == api.SearchRunsResponse(next_page_token="t")
    assert grpc_stub.count("SearchRuns") == 3


def test_unsafe_calls_are_not_repeated_once_sent(grpc_stub: ScriptedGrpcServer) -> None:
    grpc_stub.script(
        "CreateRun", abort_with(grpc.StatusCode.UNAVAILABLE, "db locked", "TEMPORARILY_UNAVAILABLE", 503)
    )
    grpc_stub.script("CreateExperiment", answer(api.CreateExperimentResponse(), delay=1.0))
    with transport(grpc_stub.target, timeout=0.3) as rpc:
        error = error_of(rpc, "CreateRun", api.CreateRunRequest(experiment_id="1"))
        assert (error.error_code, error.http_status) == ("TEMPORARILY_UNAVAILABLE", 503)
        timed_out = error_of(rpc, "CreateExperiment", api.CreateExperimentRequest(name="once"))
        assert timed_out.error_code == "DEADLINE_EXCEEDED"
    assert grpc_stub.count("CreateRun") == 1
    assert grpc_stub.count("CreateExperiment") == 1


def test_deadlines_retry_safe_calls(grpc_stub: ScriptedGrpcServer) -> None:
    grpc_stub.script("GetExperiment", answer(api.GetExperimentResponse(), delay=1.0))
    with transport(grpc_stub.target, timeout=0.3) as rpc:
        rpc.call("GetExperiment", api.GetExperimentRequest(experiment_id="1"))
    assert grpc_stub.count("GetExperiment") == 2


def test_unsafe_calls_are_retried_when_the_connection_was_refused(free_port, grpc_stub_on) -> None:
    port = free_port()
    started: list[ScriptedGrpcServer] = []

    def start_server_then_wait(seconds: float) -> None:
        if not started:
            started.append(grpc_stub_on(port))
            started[0].script("CreateExperiment", answer(api.CreateExperimentResponse(experiment_id="42")))
        time.sleep(max(seconds, 0.1))

    policy = RetryPolicy(max_attempts=20, initial_backoff=0.05, max_backoff=0.2, sleep=start_server_then_wait)
    with transport(f"127.0.0.1:{port}", retry=policy, options=QUICK_RECONNECT) as rpc:
        response = rpc.call("CreateExperiment", api.CreateExperimentRequest(name="made-once"))
    assert response == api.CreateExperimentResponse(experiment_id="42")
    assert started[0].count("CreateExperiment") == 1


def test_unreachable_server_gives_up_within_the_policy(free_port) -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.01, sleep=waits.append)
    with transport(f"127.0.0.1:{free_port()}", retry=policy) as rpc:
        error = error_of(
            rpc,
            "LogBatch",
            api.LogBatchRequest(run_id="r", metrics=[pb.Metric(key="m", value=1.0, timestamp=1)]),
        )
    assert (error.error_code, error.http_status) == ("TEMPORARILY_UNAVAILABLE", None)
    assert len(waits) == 2


# --- credentials ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"POLYTRACK_TRACKING_TOKEN": "pt-token"}, "Bearer pt-token"),
        ({"MLFLOW_TRACKING_USERNAME": "ada", "MLFLOW_TRACKING_PASSWORD": "s3cret"}, "Basic YWRhOnMzY3JldA=="),
        ({}, None),
    ],
)
def test_credentials_travel_as_authorization_metadata(grpc_stub, monkeypatch, variables, expected) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with GrpcTransport(grpc_stub.target, retry=FAST_RETRIES) as rpc:
        rpc.call("GetExperiment", api.GetExperimentRequest(experiment_id="1"))
    _, metadata = grpc_stub.calls[0]
    assert metadata.get("authorization") == expected
    assert metadata["user-agent"].startswith("polytrack-python-client")
