"""Binding servicers to RPCs (and refusing to start when one is missing), and the Invoker."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import math
import threading
import time

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from polytrack.v1 import tracking_pb2 as pb
from polytrack.v1 import tracking_service_pb2 as api
from polytrack_server.rpc import (
    HttpBinding,
    Invoker,
    PlainResponse,
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


# --- PlainResponse ----------------------------------------------------------------------------


def history_response(elements: list[dict[str, object]], token: str | None = None) -> PlainResponse:
    message = api.GetMetricHistoryResponse()
    if token is not None:
        message.next_page_token = token
    return PlainResponse(message, "metrics", elements)


def test_materialize_adds_one_element_per_plain_value():
    response = history_response(
        [
            {"key": "loss", "value": 0.5, "timestamp": 1, "step": -(2**63)},
            {"key": "loss", "value": math.nan, "timestamp": 2, "step": 2**63 - 1, "model_id": "m-1"},
            {"key": "loss", "value": -0.0, "timestamp": 3, "step": 0, "dataset_name": ""},
        ],
        token="next",
    )
    message = response.materialize()
    assert message is response.message
    assert message.next_page_token == "next"
    first, second, third = message.metrics
    assert first == pb.Metric(key="loss", value=0.5, timestamp=1, step=-(2**63))
    assert not first.HasField("model_id")
    assert math.isnan(second.value) and (second.step, second.model_id) == (2**63 - 1, "m-1")
    # Zero and empty values are set (these fields have presence).
    assert third.HasField("value") and math.copysign(1.0, third.value) == -1.0
    assert third.HasField("dataset_name") and third.HasField("step")


def test_materialize_of_nested_values():
    runs = api.SearchRunsResponse()
    response = PlainResponse(
        runs,
        "runs",
        [{"info": {"run_id": "r1", "status": pb.FINISHED}, "data": {"tags": [{"key": "a", "value": "b"}]}}],
    )
    (run,) = response.materialize().runs
    assert run.info.run_id == "r1" and run.info.status == pb.FINISHED
    assert [(tag.key, tag.value) for tag in run.data.tags] == [("a", "b")]


def test_materialize_of_no_elements_is_the_message_alone():
    assert history_response([], token="t").materialize() == api.GetMetricHistoryResponse(next_page_token="t")


def test_materialize_refuses_unknown_fields():
    with pytest.raises(ValueError, match="no_such_field"):
        history_response([{"key": "k", "no_such_field": 1}]).materialize()


# --- plain servicer methods -------------------------------------------------------------------


class PlainProbe(EchoProbe):
    def ping_plain(self, request: Message) -> PlainResponse:
        return PlainResponse(type(request)(), "unused", [])


def test_bind_services_picks_up_the_plain_method():
    servicer = PlainProbe()
    (ping,) = bind_services({probe_service({"Ping": http_pb2.HttpRule(post="/ping", body="*")}): servicer})
    assert ping.call_plain == servicer.ping_plain
    (plain,) = bind_services(
        {probe_service({"Ping": http_pb2.HttpRule(post="/ping", body="*")}): EchoProbe()}
    )
    assert plain.call_plain is None


def test_the_tracking_servicer_offers_plain_forms_of_its_bulk_reads():
    from polytrack_server.services.tracking import TrackingServicer

    class Everything:
        def __getattr__(self, name: str) -> object:
            if name.endswith("_plain"):
                return getattr(TrackingServicer, name, None)
            return lambda request: request

    methods = bind_services({TRACKING: Everything()})
    plain = {method.descriptor.name for method in methods if method.call_plain is not None}
    assert {"GetMetricHistory", "SearchRuns"} <= plain
    assert "LogBatch" not in plain


def plain_probe_method(call: object, plain: object | None) -> RpcMethod:
    service = probe_service({"Ping": http_pb2.HttpRule(post="/ping", body="*")})

    class Servicer:
        ping = staticmethod(call)

    if plain is not None:
        Servicer.ping_plain = staticmethod(plain)  # type: ignore[attr-defined]
    (method,) = bind_services({service: Servicer()})
    return method


@pytest.mark.parametrize("inline", [True, False])
def test_invoke_plain_falls_back_to_the_plain_call(inline):
    calls: list[str] = []

    def ping(request: Message) -> Message:
        calls.append(request_id.get())
        return request

    method = plain_probe_method(ping, None)

    async def scenario() -> Message | PlainResponse:
        request_id.set("req-9")
        return await invoker.invoke_plain(method, method.request_class())

    with Invoker(inline=inline) as invoker:
        response = asyncio.run(scenario())
    assert type(response) is method.response_class
    assert calls == ["req-9"]


@pytest.mark.parametrize("inline", [True, False])
def test_invoke_plain_prefers_the_plain_method(inline):
    calls: list[tuple[str, str, int]] = []

    def ping(request: Message) -> Message:
        calls.append(("message", request_id.get(), threading.get_ident()))
        return request

    def ping_plain(request: Message) -> PlainResponse:
        calls.append(("plain", request_id.get(), threading.get_ident()))
        return PlainResponse(type(request)(), "unused", [])

    method = plain_probe_method(ping, ping_plain)

    async def scenario() -> tuple[Message | PlainResponse, int]:
        request_id.set("req-3")
        return await invoker.invoke_plain(method, method.request_class()), threading.get_ident()

    with Invoker(inline=inline) as invoker:
        response, loop_thread = asyncio.run(scenario())
        # invoke itself still calls the message form.
        assert type(asyncio.run(invoker.invoke(method, method.request_class()))) is method.response_class
    assert isinstance(response, PlainResponse)
    assert type(response.message) is method.response_class
    assert [(kind, rid) for kind, rid, _ in calls] == [("plain", "req-3"), ("message", "-")]
    assert (calls[0][2] == loop_thread) is inline


@pytest.mark.parametrize("inline", [True, False])
def test_invoke_plain_checks_the_message_type(inline):
    wrong = plain_probe_method(
        lambda request: request,
        lambda request: PlainResponse(api.LogBatchResponse(), "metrics", []),
    )
    fallback_wrong = plain_probe_method(lambda request: api.LogBatchResponse(), None)
    with Invoker(inline=inline) as invoker:
        for method in (wrong, fallback_wrong):
            with pytest.raises(TypeError, match=r"Probe\.Ping returned LogBatchResponse, expected Ping"):
                asyncio.run(invoker.invoke_plain(method, method.request_class()))
