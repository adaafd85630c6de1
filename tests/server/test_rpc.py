"""Binding servicers to RPCs (and refusing to start when one is missing), and the Invoker."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import threading
import time

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from polytrack.v1 import tracking_service_pb2 as api
from polytrack_server.rpc import (
    HttpBinding,
    Invoker,
    RpcMethod,
    ServiceBindingError,
    bind_services,
    http_bindings,
    implementation_name,
)

TRACKING = api.DESCRIPTOR.services_by_name["TrackingService"]
_file_numbers = itertools.count()


def probe_service(rules: dict[str, http_pb2.HttpRule | None], streaming: bool = False) -> ServiceDescriptor:
    """A service `rpctest.Probe` of Ping -> Ping methods with the given HTTP rules, in its own pool."""
    file = descriptor_pb2.FileDescriptorProto(
        name=f"rpctest_{next(_file_numbers)}.proto", package="rpctest", syntax="proto3"
    )
    file.message_type.add(name="Ping")
    service = file.service.add(name="Probe")
    for name, rule in rules.items():
        method = service.method.add(
            name=name, input_type=".rpctest.Ping", output_type=".rpctest.Ping", server_streaming=streaming
        )
        if rule is not None:
            method.options.Extensions[annotations_pb2.http].CopyFrom(rule)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return pool.FindServiceByName("rpctest.Probe")


class EchoProbe:
    def ping(self, request: Message) -> Message:
        return request

    def pong(self, request: Message) -> Message:
        return request


@pytest.mark.parametrize(
    ("rpc", "method"),
    [
        ("CreateExperiment", "create_experiment"),
        ("GetMetricHistoryBulkInterval", "get_metric_history_bulk_interval"),
        ("LogBatch", "log_batch"),
        ("GetRunURL", "get_run_url"),
        ("HTTPGetV2", "http_get_v2"),
        ("Ping", "ping"),
    ],
)
def test_implementation_names_are_the_snake_case_of_the_rpc(rpc, method):
    assert implementation_name(rpc) == method


def test_http_bindings_list_the_primary_rule_then_the_additional_ones():
    search = TRACKING.methods_by_name["SearchExperiments"]
    assert http_bindings(search) == (
        HttpBinding("POST", "/api/2.0/mlflow/experiments/search", "*"),
        HttpBinding("GET", "/api/2.0/mlflow/experiments/search", ""),
        HttpBinding("POST", "/ajax-api/2.0/mlflow/experiments/search", "*"),
        HttpBinding("GET", "/ajax-api/2.0/mlflow/experiments/search", ""),
    )


def test_custom_rules_carry_their_own_method():
    rule = http_pb2.HttpRule(custom=http_pb2.CustomHttpPattern(kind="head", path="/ping"))
    service = probe_service({"Ping": rule})
    assert http_bindings(service.methods_by_name["Ping"]) == (HttpBinding("HEAD", "/ping", ""),)


def test_every_tracking_rpc_binds_with_its_classes_and_paths():
    class Everything:
        def __getattr__(self, name: str) -> object:
            return lambda request: request

    methods = bind_services({TRACKING: Everything()})
    assert [m.descriptor for m in methods] == list(TRACKING.methods)
    create = methods[0]
    assert create.full_name == "polytrack.v1.TrackingService.CreateExperiment"
    assert create.grpc_path == "/polytrack.v1.TrackingService/CreateExperiment"
    assert create.request_class is api.CreateExperimentRequest
    assert create.response_class is api.CreateExperimentResponse
    assert create.is_unary
    assert all(m.http_bindings for m in methods)


def test_missing_implementations_and_bindings_stop_start_up_all_listed():
    rule = http_pb2.HttpRule(post="/ping", body="*")
    service = probe_service({"Ping": rule, "Pong": None, "Missing": rule, "Gone": None})

    class HalfDone:
        ping = EchoProbe.ping
        pong = EchoProbe.pong
        missing = "not callable"

    with pytest.raises(ServiceBindingError) as caught:
        bind_services({service: HalfDone()})
    text = str(caught.value)
    assert "rpctest.Probe.Pong: no google.api.http binding" in text
    assert "rpctest.Probe.Missing: HalfDone has no method missing()" in text
    assert "rpctest.Probe.Gone: HalfDone has no method gone()" in text
    assert "rpctest.Probe.Gone: no google.api.http binding" in text
    assert "Probe.Ping" not in text


def test_streaming_rpcs_bind_but_are_not_unary():
    service = probe_service({"Ping": http_pb2.HttpRule(get="/ping")}, streaming=True)
    (method,) = bind_services({service: EchoProbe()})
    assert not method.is_unary


# --- Invoker ----------------------------------------------------------------------------------

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def probe_method(call: object) -> RpcMethod:
    service = probe_service({"Ping": http_pb2.HttpRule(post="/ping", body="*")})

    class Servicer:
        ping = staticmethod(call)

    (method,) = bind_services({service: Servicer()})
    return method


def test_the_pool_runs_calls_off_the_event_loop_with_the_callers_context():
    seen: list[tuple[int, str]] = []

    def ping(request: Message) -> Message:
        seen.append((threading.get_ident(), request_id.get()))
        return request

    method = probe_method(ping)

    async def scenario() -> int:
        request_id.set("req-7")
        response = await invoker.invoke(method, method.request_class())
        assert type(response) is method.response_class
        return threading.get_ident()

    with Invoker(max_workers=2) as invoker:
        loop_thread = asyncio.run(scenario())
    assert not invoker.is_inline
    assert seen[0][0] != loop_thread
    assert seen[0][1] == "req-7"


def test_the_pool_bounds_how_many_calls_run_at_once():
    running = 0
    peak = 0
    lock = threading.Lock()

    def ping(request: Message) -> Message:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return request

    method = probe_method(ping)

    async def scenario() -> None:
        await asyncio.gather(*(invoker.invoke(method, method.request_class()) for _ in range(6)))

    with Invoker(max_workers=2) as invoker:
        asyncio.run(scenario())
    assert peak == 2


def test_inline_calls_run_on_the_event_loop_thread():
    threads: list[int] = []

    def ping(request: Message) -> Message:
        threads.append(threading.get_ident())
        return request

    method = probe_method(ping)
    invoker = Invoker.inline()

    async def scenario() -> int:
        await invoker.invoke(method, method.request_class())
        return threading.get_ident()

    assert invoker.is_inline
    assert threads == [] and asyncio.run(scenario()) == threads[0]
    invoker.shutdown()


@pytest.mark.parametrize("inline", [True, False])
def test_a_response_of_the_wrong_type_is_a_type_error(inline):
    method = probe_method(lambda request: api.LogBatchResponse())
    invoker = Invoker(inline=inline)
    with pytest.raises(TypeError, match=r"Probe\.Ping returned LogBatchResponse, expected Ping"):
        asyncio.run(invoker.invoke(method, method.request_class()))
    invoker.shutdown()


@pytest.mark.parametrize("inline", [True, False])
def test_servicer_exceptions_reach_the_caller_unchanged(inline):
    def ping(request: Message) -> Message:
        raise KeyError("boom")

    method = probe_method(ping)
    with Invoker(inline=inline) as invoker, pytest.raises(KeyError, match="boom"):
        asyncio.run(invoker.invoke(method, method.request_class()))


def test_a_pool_needs_a_worker():
    with pytest.raises(ValueError, match="max_workers must be at least 1, got 0"):
        Invoker(max_workers=0)
