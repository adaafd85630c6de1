"""The REST gateway end to end in-process (httpx over ASGI): routing from annotations, MLflow's request
rules, JSON replies for every error, and every TrackingService binding reaching its servicer method."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
import logging
import math
from typing import Any

import httpx
import orjson
import pytest
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from polytrack.v1 import tracking_pb2 as pb
from polytrack.v1 import tracking_service_pb2 as api
from polytrack_server.errors import AlreadyExists, InvalidState, NotFound
from polytrack_server.gateway.app import Gateway, build_gateway
from polytrack_server.gateway.routes import RouteConfigurationError
from polytrack_server.rpc import HttpBinding, Invoker, RpcMethod, bind_services, implementation_name

TRACKING = api.DESCRIPTOR.services_by_name["TrackingService"]
API = "/api/2.0/mlflow"


class RecordingTracking:
    """Implements every TrackingService RPC by recording the request and answering an empty response."""

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


class FakeTracking(RecordingTracking):
    """Answers computed from each request, so that tests see what the gateway decoded."""

    def create_experiment(self, request: api.CreateExperimentRequest) -> api.CreateExperimentResponse:
        self.calls.append(("create_experiment", request))
        if request.name == "taken":
            raise AlreadyExists(f"Experiment(name={request.name}) already exists.")
        return api.CreateExperimentResponse(experiment_id=str(len(request.name)))

    def get_experiment(self, request: api.GetExperimentRequest) -> api.GetExperimentResponse:
        self.calls.append(("get_experiment", request))
        if request.experiment_id == "404":
            raise NotFound(f"No experiment with id={request.experiment_id}")
        experiment = pb.Experiment(
            experiment_id=request.experiment_id,
            name=f"experiment {request.experiment_id}",
            creation_time=2**62 + 1,
            tags=[pb.ExperimentTag(key="k", value="")],
        )
        return api.GetExperimentResponse(experiment=experiment)

    def search_experiments(self, request: api.SearchExperimentsRequest) -> api.SearchExperimentsResponse:
        self.calls.append(("search_experiments", request))
        token = f"{request.max_results}|{pb.ViewType.Name(request.view_type)}|{request.filter}"
        return api.SearchExperimentsResponse(
            experiments=[pb.Experiment(name=key) for key in request.order_by], next_page_token=token
        )

    def log_metric(self, request: api.LogMetricRequest) -> api.LogMetricResponse:
        self.calls.append(("log_metric", request))
        if request.key == "explode":
            raise RuntimeError("database password is hunter2")
        return api.LogMetricResponse()

    def get_metric_history(self, request: api.GetMetricHistoryRequest) -> api.GetMetricHistoryResponse:
        self.calls.append(("get_metric_history", request))
        values = [1.5, math.nan, math.inf, -math.inf]
        return api.GetMetricHistoryResponse(
            metrics=[pb.Metric(key=request.metric_key, value=v, step=i) for i, v in enumerate(values)]
        )

    def update_run(self, request: api.UpdateRunRequest) -> api.UpdateRunResponse:
        self.calls.append(("update_run", request))
        raise InvalidState(f"Run {request.run_id} is deleted")

    def delete_run(self, request: api.DeleteRunRequest) -> Message:
        return api.RestoreRunResponse()  # the wrong type: a servicer bug


class FakeLibrary:
    """The test proto's Library service: echoes the book it was sent."""

    def __init__(self, testproto: Any) -> None:
        self.testproto = testproto
        self.calls: list[tuple[str, Message]] = []

    def get_book(self, request: Message) -> Message:
        self.calls.append(("get_book", request))
        return request

    def update_book(self, request: Message) -> Message:
        self.calls.append(("update_book", request))
        return request

    def delete_book(self, request: Message) -> Message:
        self.calls.append(("delete_book", request))
        return self.testproto.Empty()

    def size_book(self, request: Message) -> Message:
        self.calls.append(("size_book", request))
        return request


@pytest.fixture
def invoker():
    with Invoker(max_workers=2) as invoker:
        yield invoker


@pytest.fixture
def tracking() -> FakeTracking:
    return FakeTracking()


@pytest.fixture
def library(testproto) -> FakeLibrary:
    return FakeLibrary(testproto)


@pytest.fixture
def app(tracking, library, testproto, invoker) -> Gateway:
    return build_gateway(bind_services({TRACKING: tracking, testproto.Library: library}), invoker)


def send(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def exchange() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(exchange())


def post_json(app: Any, path: str, body: Any) -> httpx.Response:
    return send(app, "POST", path, content=orjson.dumps(body), headers={"Content-Type": "application/json"})


def post_json_raw(app: Any, body: bytes, endpoint: str = "experiments/create") -> httpx.Response:
    return send(app, "POST", f"{API}/{endpoint}", content=body, headers={"Content-Type": "application/json"})


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error_code"] == code
    return str(body["message"])


# --- requests and replies ---------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"])
def test_post_decodes_the_json_body_and_encodes_the_reply(app, tracking, prefix):
    response = post_json(app, f"{prefix}/experiments/create", {"name": "abcd", "tags": [{"key": "t"}]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"experiment_id": "4"}
    assert tracking.calls == [
        ("create_experiment", api.CreateExperimentRequest(name="abcd", tags=[pb.ExperimentTag(key="t")]))
    ]


def test_content_type_parameters_are_ignored(app):
    response = send(
        app,
        "POST",
        f"{API}/experiments/create",
        content=b'{"name": "x"}',
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert response.json() == {"experiment_id": "1"}


def test_post_without_a_json_content_type_is_refused_in_json(app, tracking):
    message = assert_error(
        send(app, "POST", f"{API}/experiments/create", content=b'{"name": "x"}'),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "Content-Type must be 'application/json'" in message and "none" in message
    hostile = "text/html<script>alert(1)</script>"
    response = send(
        app, "POST", f"{API}/experiments/create", content=b'{"name": "x"}', headers={"Content-Type": hostile}
    )
    assert hostile in assert_error(response, 400, "INVALID_PARAMETER_VALUE")
    assert tracking.calls == []


def test_malformed_json_is_refused(app):
    message = assert_error(post_json_raw(app, b'{"name": '), 400, "INVALID_PARAMETER_VALUE")
    assert message.startswith("Malformed JSON request body: ")


@pytest.mark.parametrize(("body", "kind"), [(b"[1]", "an array"), (b"3", "a number"), (b"null", "null")])
def test_json_that_is_not_an_object_is_refused(app, body, kind):
    message = assert_error(post_json_raw(app, body), 400, "INVALID_PARAMETER_VALUE")
    assert message == f"The request body must be a JSON object, got {kind}"


def test_a_json_string_holding_json_is_decoded_twice(app, tracking):
    response = post_json(app, f"{API}/experiments/create", orjson.dumps({"name": "twice"}).decode())
    assert response.json() == {"experiment_id": "5"}


def test_an_empty_body_is_an_empty_request(app, tracking):
    assert post_json_raw(app, b"").status_code == 200
    assert tracking.calls == [("create_experiment", api.CreateExperimentRequest())]


def test_python_json_nan_literals_are_accepted(app, tracking):
    response = post_json_raw(
        app, b'{"run_id": "r", "key": "m", "value": NaN, "timestamp": 1}', "runs/log-metric"
    )
    assert response.status_code == 200
    assert math.isnan(tracking.calls[0][1].value)


def test_lone_surrogates_are_refused(app, tracking):
    message = assert_error(post_json_raw(app, b'{"name": "\\ud800"}'), 400, "INVALID_PARAMETER_VALUE")
    assert "not valid Unicode" in message


def test_json_nested_too_deeply_is_malformed(app):
    message = assert_error(post_json_raw(app, b"[" * 5000 + b"]" * 5000), 400, "INVALID_PARAMETER_VALUE")
    assert message.startswith("Malformed JSON request body: ")


def test_integers_beyond_64_bits_are_refused_naming_the_field(app):
    body = b'{"max_results": 123456789012345678901234567890}'
    message = assert_error(post_json_raw(app, body, "experiments/search"), 400, "INVALID_PARAMETER_VALUE")
    assert message.endswith("for parameter 'max_results' supplied: expected an int64")


def test_get_reads_the_query_string_and_replies_with_int64_numbers(app, tracking):
    response = send(app, "GET", f"{API}/experiments/get", params={"experiment_id": "7"})
    assert response.status_code == 200
    assert response.content.count(b"4611686018427387905") == 1  # 2**62 + 1, exact, not a string
    assert response.json() == {
        "experiment": {
            "experiment_id": "7",
            "name": "experiment 7",
            "creation_time": 2**62 + 1,
            "tags": [{"key": "k", "value": ""}],
        }
    }


def test_get_reads_repeated_keys_and_converts_strings(app, tracking):
    query = (
        "max_results=25&order_by=name&order_by=creation_time&view_type=ALL&filter=name%20LIKE%20%27a%25%27"
    )
    response = send(app, "GET", f"{API}/experiments/search?{query}")
    assert response.json() == {
        "experiments": [{"name": "name"}, {"name": "creation_time"}],
        "next_page_token": "25|ALL|name LIKE 'a%'",
    }


def test_get_without_a_query_string_reads_the_json_body(app, tracking):
    response = send(app, "GET", f"{API}/experiments/get", content=b'{"experiment_id": "3"}')
    assert response.json()["experiment"]["experiment_id"] == "3"
    both = send(app, "GET", f"{API}/experiments/get?experiment_id=9", content=b'{"experiment_id": "3"}')
    assert both.json()["experiment"]["experiment_id"] == "9"


def test_query_values_of_the_wrong_type_are_refused_naming_the_field(app):
    response = send(app, "GET", f"{API}/experiments/search?max_results=lots")
    message = assert_error(response, 400, "INVALID_PARAMETER_VALUE")
    assert message == "Invalid value \"lots\" for parameter 'max_results' supplied: expected an int64"


def test_body_values_of_the_wrong_type_are_refused_naming_the_field(app, tracking):
    response = post_json(app, f"{API}/runs/log-metric", {"run_id": "r", "key": "m", "value": "abc"})
    message = assert_error(response, 400, "INVALID_PARAMETER_VALUE")
    assert message == "Invalid value \"abc\" for parameter 'value' supplied: expected a double"
    assert tracking.calls == []


def test_non_finite_doubles_are_sent_as_strings(app):
    response = send(app, "GET", f"{API}/metrics/get-history?run_id=r&metric_key=loss")
    assert [m["value"] for m in response.json()["metrics"]] == [1.5, "NaN", "Infinity", "-Infinity"]


# --- path variables, PATCH and DELETE ---------------------------------------------------------


def test_path_variables_fill_fields_and_win_over_the_query(app, library):
    response = send(app, "GET", "/v1/shelves/s%201/books/a/b/c.txt?shelf=ignored&authors=x&authors=y&pages=3")
    assert response.json() == {"shelf": "s 1", "name": "a/b/c.txt", "pages": 3, "authors": ["x", "y"]}


def test_path_variables_are_converted_to_the_field_type(app):
    assert send(app, "GET", "/v1/books/12/size").json() == {"pages": 12}
    message = assert_error(send(app, "GET", "/v1/books/twelve/size"), 400, "INVALID_PARAMETER_VALUE")
    assert "'pages'" in message and '"twelve"' in message


def test_a_custom_verb_binding_takes_body_and_path(app, library):
    response = post_json(app, "/v1/shelves/s/books/n:update", {"pages": "5", "name": "overridden"})
    assert response.json() == {"shelf": "s", "name": "n", "pages": 5}
    # Another verb is no UpdateBook: the path only matches GetBook's `{name=**}`, which takes GET.
    response = post_json(app, "/v1/shelves/s/books/n:shred", {})
    assert_error(response, 405, "ENDPOINT_NOT_FOUND")
    assert response.headers["allow"] == "GET"
    assert [name for name, _ in library.calls] == ["update_book"]


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_patch_and_delete_read_the_json_body_only_without_a_content_type(app, library, method):
    response = send(app, method, "/v1/books?name=from-query", content=b'{"color": "GREEN"}')
    assert response.status_code == 200
    ((name, request),) = library.calls
    assert name == {"PATCH": "update_book", "DELETE": "delete_book"}[method]
    assert not request.HasField("name") and request.color == 2


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", f"{API}/experiments/get?experiment_id=404", None, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("POST", f"{API}/experiments/create", {"name": "taken"}, 400, "RESOURCE_ALREADY_EXISTS"),
        ("POST", f"{API}/runs/update", {"run_id": "r9"}, 500, "INVALID_STATE"),
    ],
)
def test_domain_errors_carry_their_code_status_and_message(app, method, path, body, status, code):
    response = send(app, method, path) if body is None else post_json(app, path, body)
    message = assert_error(response, status, code)
    assert message in {
        "No experiment with id=404",
        "Experiment(name=taken) already exists.",
        "Run r9 is deleted",
    }


def test_unexpected_failures_are_500_without_details_and_logged(app, caplog):
    with caplog.at_level(logging.ERROR, logger="polytrack.gateway"):
        response = post_json(app, f"{API}/runs/log-metric", {"key": "explode"})
    message = assert_error(response, 500, "INTERNAL_ERROR")
    assert "hunter2" not in message
    assert "polytrack.v1.TrackingService.LogMetric" in caplog.text and "hunter2" in caplog.text


def test_a_servicer_returning_the_wrong_type_is_an_internal_error(app, caplog):
    with caplog.at_level(logging.ERROR, logger="polytrack.gateway"):
        response = post_json(app, f"{API}/runs/delete", {"run_id": "r"})
    assert_error(response, 500, "INTERNAL_ERROR")
    assert "returned RestoreRunResponse, expected DeleteRunResponse" in caplog.text


def test_unknown_paths_are_json_404s(app):
    message = assert_error(send(app, "GET", f"{API}/experiments/nope"), 404, "ENDPOINT_NOT_FOUND")
    assert message == f"No endpoint at GET {API}/experiments/nope"


def test_wrong_methods_are_json_405s_listing_the_allowed_ones(app):
    response = send(app, "GET", f"{API}/experiments/create")
    assert_error(response, 405, "ENDPOINT_NOT_FOUND")
    assert response.headers["allow"] == "POST"
    response = send(app, "PUT", f"{API}/experiments/search", content=b"{}")
    message = assert_error(response, 405, "ENDPOINT_NOT_FOUND")
    assert response.headers["allow"] == "GET, POST"
    assert message == f"{API}/experiments/search does not accept PUT; use GET or POST"


def test_health_and_version(app):
    health = send(app, "GET", "/health")
    assert (health.status_code, health.text) == (200, "OK")
    assert send(app, "GET", "/version").text == importlib.metadata.version("polytrack")
    response = send(app, "POST", "/health")
    assert_error(response, 405, "ENDPOINT_NOT_FOUND")
    assert "GET" in response.headers["allow"]


def test_extra_routes_are_served_beside_the_rpcs(tracking, invoker):
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.path_params["rest"])

    app = build_gateway(
        bind_services({TRACKING: tracking}), invoker, extra_routes=[Route("/extra/{rest:path}", echo)]
    )
    assert send(app, "GET", "/extra/a/b").text == "a/b"
    assert send(app, "POST", f"{API}/experiments/create", json={"name": "ab"}).json() == {
        "experiment_id": "2"
    }


def test_the_starlette_app_behind_the_fast_path_serves_rpcs_alike(app, tracking):
    # Requests the fast path does not take (405s, extra routes) reach the RPC routes through Starlette.
    response = post_json(app.starlette, f"{API}/experiments/create", {"name": "abc"})
    assert response.json() == {"experiment_id": "3"}
    response = send(app.starlette, "GET", f"{API}/experiments/get?experiment_id=404")
    assert_error(response, 404, "RESOURCE_DOES_NOT_EXIST")
    assert [name for name, _ in tracking.calls] == ["create_experiment", "get_experiment"]


# --- every binding of every RPC ---------------------------------------------------------------


def test_every_tracking_rpc_is_reachable_on_every_binding(invoker):
    recorder = RecordingTracking()
    methods = bind_services({TRACKING: recorder})
    app = build_gateway(methods, invoker)
    assert {m.descriptor.name for m in methods} == {m.name for m in TRACKING.methods}
    bindings = [(m, b) for m in methods for b in m.http_bindings]
    assert len(bindings) >= 2 * len(methods), "each RPC has an /api and an /ajax-api binding"
    for method, binding in bindings:
        recorder.calls.clear()
        if binding.method == "GET":
            response = send(app, "GET", binding.path + "?unknown_key=1")
        else:
            response = send(app, binding.method, binding.path, json={"unknown_key": 1})
        assert (response.status_code, response.content) == (200, b"{}"), binding
        expected_call = (implementation_name(method.descriptor.name), method.request_class())
        assert recorder.calls == [expected_call], binding


# --- start-up checks --------------------------------------------------------------------------


def tracking_methods() -> list[RpcMethod]:
    return bind_services({TRACKING: RecordingTracking()})


def with_bindings(method: RpcMethod, *bindings: HttpBinding) -> RpcMethod:
    return dataclasses.replace(method, http_bindings=bindings)


@pytest.mark.parametrize(
    ("binding", "complaint"),
    [
        (HttpBinding("POST", "/x", ""), 'must declare body: "*"'),
        (HttpBinding("DELETE", "/x", "name"), 'must declare body: "*"'),
        (HttpBinding("GET", "/x", "*"), "must not declare a body"),
        (HttpBinding("GET", "x/{", ""), "Invalid path template"),
        (HttpBinding("GET", "/x/{no_such_field}", ""), "no singular scalar field 'no_such_field'"),
    ],
)
def test_bindings_the_gateway_cannot_serve_stop_start_up(invoker, binding, complaint):
    first, *rest = tracking_methods()
    with pytest.raises(RouteConfigurationError, match="CreateExperiment") as caught:
        build_gateway([with_bindings(first, binding), *rest], invoker)
    assert complaint in str(caught.value)


def test_two_rpcs_on_one_route_stop_start_up(invoker):
    first, second, *_ = tracking_methods()
    clash = HttpBinding("POST", "/same", "*")
    with pytest.raises(RouteConfigurationError, match="POST /same is bound by both"):
        build_gateway([with_bindings(first, clash), with_bindings(second, clash)], invoker)
