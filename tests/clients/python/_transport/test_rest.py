"""The REST transport: routes from the descriptors, MLflow's wire encoding, error replies, retries and
credentials, checked on the requests a real HTTP server receives."""

from __future__ import annotations

import json
import math
import urllib.parse

import pytest

from polytrack._transport.auth import Credentials
from polytrack._transport.base import KNOWN_SERVICES, RetryPolicy
from polytrack._transport.rest import RestTransport, message_to_json, route_of
from polytrack.errors import PolytrackException
from polytrack.v1 import tracking_pb2 as pb
from polytrack.v1 import tracking_service_pb2 as api

TRACKING = api.DESCRIPTOR.services_by_name["TrackingService"]
FAST_RETRIES = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05, max_elapsed=10.0)


def transport(url: str, **kwargs: object) -> RestTransport:
    options: dict[str, object] = {"retry": FAST_RETRIES, "credentials": Credentials(), **kwargs}
    return RestTransport(url, **options)  # type: ignore[arg-type]


# --- encoding and routes -------------------------------------------------------------------------
def test_message_to_json_speaks_mlflows_wire_format() -> None:
    request = api.LogBatchRequest(
        run_id="r1",
        metrics=[
            pb.Metric(key="a", value=math.nan, timestamp=1_700_000_000_000, step=3),
            pb.Metric(key="b", value=-math.inf, timestamp=0),
            pb.Metric(key="c", value=math.inf, timestamp=1),
        ],
        params=[pb.Param(key="p", value="")],
    )
    assert message_to_json(request) == {
        "run_id": "r1",
        "metrics": [
            {"key": "a", "value": "NaN", "timestamp": 1_700_000_000_000, "step": 3},
            {"key": "b", "value": "-Infinity", "timestamp": 0},
            {"key": "c", "value": "Infinity", "timestamp": 1},
        ],
        "params": [{"key": "p", "value": ""}],
    }
    search = api.SearchRunsRequest(experiment_ids=["1", "2"], run_view_type=pb.ALL, max_results=5)
    assert message_to_json(search) == {
        "experiment_ids": ["1", "2"],
        "run_view_type": "ALL",
        "max_results": 5,
    }
    assert message_to_json(api.SearchRunsRequest()) == {}


def test_routes_are_the_first_http_binding_of_each_rpc() -> None:
    create = route_of(TRACKING.methods_by_name["CreateExperiment"])
    assert (create.method, create.path, create.body) == ("POST", "/api/2.0/mlflow/experiments/create", "*")
    search = route_of(TRACKING.methods_by_name["SearchExperiments"])
    assert (search.method, search.path) == ("POST", "/api/2.0/mlflow/experiments/search")
    get_run = route_of(TRACKING.methods_by_name["GetRun"])
    assert (get_run.method, get_run.path, get_run.body) == ("GET", "/api/2.0/mlflow/runs/get", "")
    for service in KNOWN_SERVICES:
        for method in service.methods:
            if method.client_streaming or method.server_streaming:
                # Streaming RPCs (artifact transfer) are gRPC-only; REST has raw-body routes instead.
                with pytest.raises(PolytrackException, match="has no REST binding"):
                    route_of(method)
                continue
            route = route_of(method)
            assert route.path.startswith(("/api/2.0/", "/api/3.0/")), method.full_name
            assert route.method in {"GET", "POST", "PATCH", "DELETE", "PUT"}


def test_post_sends_a_json_body(http_stub) -> None:
    with transport(http_stub.url) as rest:
        rest.call(
            "LogMetric", api.LogMetricRequest(run_id="r", key="k", value=math.nan, timestamp=12, step=2)
        )
    (received,) = http_stub.received
    assert (received.method, received.path) == ("POST", "/api/2.0/mlflow/runs/log-metric")
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"].startswith("polytrack-python-client")
    assert json.loads(received.body) == {
        "run_id": "r",
        "key": "k",
        "value": "NaN",
        "timestamp": 12,
        "step": 2,
    }


def test_get_sends_a_query_string_with_repeated_keys(http_stub) -> None:
    request = api.GetMetricHistoryBulkIntervalRequest(run_ids=["a", "b"], metric_key="loss", max_results=5)
    with transport(http_stub.url) as rest:
        rest.call("GetMetricHistoryBulkInterval", request)
    (received,) = http_stub.received
    path, _, query = received.path.partition("?")
    assert (received.method, path) == ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval")
    assert urllib.parse.parse_qsl(query) == [
        ("run_ids", "a"),
        ("run_ids", "b"),
        ("metric_key", "loss"),
        ("max_results", "5"),
    ]
    assert received.body == b""


def test_a_path_prefix_is_kept(http_stub) -> None:
    with transport(f"{http_stub.url}/tracking/") as rest:
        rest.call("GetExperiment", api.GetExperimentRequest(experiment_id="7"))
    assert http_stub.received[0].path == "/tracking/api/2.0/mlflow/experiments/get?experiment_id=7"


def test_responses_are_decoded_leniently(http_stub) -> None:
    http_stub.reply(
        body={"experiment": {"experiment_id": "3", "name": "n", "creation_time": "17"}, "extra": 1}
    )
    http_stub.reply(body=b"")
    with transport(http_stub.url) as rest:
        first = rest.call("GetExperiment", api.GetExperimentRequest(experiment_id="3"))
        assert first == api.GetExperimentResponse(
            experiment=pb.Experiment(experiment_id="3", name="n", creation_time=17)
        )
        assert rest.call("DeleteRun", api.DeleteRunRequest(run_id="r")) == api.DeleteRunResponse()


# --- errors --------------------------------------------------------------------------------------
def error_of(rest: RestTransport, rpc: str, request: object) -> PolytrackException:
    with pytest.raises(PolytrackException) as caught:
        rest.call(rpc, request)  # type: ignore[arg-type]
    return caught.value


def test_error_replies_become_polytrack_exceptions(http_stub) -> None:
    http_stub.reply(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "No run 'x'"})
    http_stub.reply(404, "<html>Not Found</html>", {"Content-Type": "text/html"})
    http_stub.reply(401, b"")
    http_stub.reply(200, b"not json")
    with transport(http_stub.url, retry=RetryPolicy.never()) as rest:
        error = error_of(rest, "GetRun", api.GetRunRequest(run_id="x"))
        assert (error.error_code, error.message, error.http_status) == (
            "RESOURCE_DOES_NOT_EXIST",
            "No run 'x'",
            404,
        )
        html = error_of(rest, "GetRun", api.GetRunRequest(run_id="x"))
        assert (html.error_code, html.http_status) == ("ENDPOINT_NOT_FOUND", 404)
        assert "<html>Not Found</html>" in html.message and "/api/2.0/mlflow/runs/get" in html.message
        assert error_of(rest, "GetRun", api.GetRunRequest(run_id="x")).error_code == "UNAUTHENTICATED"
        garbled = error_of(rest, "GetRun", api.GetRunRequest(run_id="x"))
        assert (garbled.error_code, garbled.http_status) == ("INTERNAL_ERROR", 200)


def test_live_server_errors(rest_uri: str) -> None:
    with transport(rest_uri) as rest:
        error = error_of(rest, "GetRun", api.GetRunRequest(run_id="f" * 32))
        assert (error.error_code, error.http_status) == ("RESOURCE_DOES_NOT_EXIST", 404)
        response = rest.call("GetExperiment", api.GetExperimentRequest(experiment_id="0"))
        assert isinstance(response, api.GetExperimentResponse) and response.experiment.name == "Default"


# --- retries -------------------------------------------------------------------------------------
def test_safe_calls_are_retried_on_transient_statuses(http_stub) -> None:
    http_stub.reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "db locked"})
    http_stub.reply(502, "<html>bad gateway</html>")
    http_stub.reply(429, b"", {"Retry-After": "0"})
    http_stub.reply(200, {"experiment": {"experiment_id": "1"}})
    with transport(http_stub.url) as rest:
        response = rest.call("GetExperiment", api.GetExperimentRequest(experiment_id="1"))
    assert response == api.GetExperimentResponse(experiment=pb.Experiment(experiment_id="1"))
    assert len(http_stub.received) == 4


def test_retries_stop_after_the_policys_attempts(http_stub) -> None:
    http_stub.reply(503, b"", times=10)
    with transport(http_stub.url) as rest:
        error = error_of(rest, "SearchRuns", api.SearchRunsRequest(experiment_ids=["1"]))
    assert (error.error_code, error.http_status) == ("TEMPORARILY_UNAVAILABLE", 503)
    assert len(http_stub.received) == FAST_RETRIES.max_attempts


def test_unsafe_calls_are_not_repeated_once_sent(http_stub) -> None:
    http_stub.reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"})
    with transport(http_stub.url) as rest:
        error = error_of(rest, "CreateRun", api.CreateRunRequest(experiment_id="1"))
    assert (error.error_code, error.http_status) == ("TEMPORARILY_UNAVAILABLE", 503)
    assert len(http_stub.received) == 1


def test_client_errors_are_never_retried(http_stub) -> None:
    http_stub.reply(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "bad"})
    with transport(http_stub.url) as rest:
        assert error_of(rest, "GetRun", api.GetRunRequest(run_id="x")).error_code == "INVALID_PARAMETER_VALUE"
    assert len(http_stub.received) == 1


def test_read_timeouts_retry_only_safe_calls(http_stub) -> None:
    http_stub.reply(delay=1.0)
    with transport(http_stub.url, timeout=0.3) as rest:
        error = error_of(rest, "CreateExperiment", api.CreateExperimentRequest(name="once"))
        assert error.error_code == "DEADLINE_EXCEEDED" and error.http_status is None
        assert len(http_stub.received) == 1

        http_stub.reply(delay=1.0)
        http_stub.reply(200, {"experiment_id": "5"})
        # GetExperiment is a read: the slow first attempt is abandoned and the second answers.
        response = rest.call("GetExperiment", api.GetExperimentRequest(experiment_id="5"))
        assert isinstance(response, api.GetExperimentResponse)
        assert len(http_stub.received) == 3


def test_unsafe_calls_are_retried_when_the_connection_was_refused(free_port, http_stub_on) -> None:
    port = free_port()
    started = []

    def start_server_then_wait(_seconds: float) -> None:
        # The first attempt was refused; the server comes up before the retry.
        if not started:
            started.append(http_stub_on(port))
            started[0].reply(200, {"experiment_id": "42"})

    policy = RetryPolicy(max_attempts=3, initial_backoff=0.01, sleep=start_server_then_wait)
    with transport(f"http://127.0.0.1:{port}", retry=policy) as rest:
        response = rest.call("CreateExperiment", api.CreateExperimentRequest(name="made-once"))
    assert response == api.CreateExperimentResponse(experiment_id="42")
    assert [json.loads(r.body) for r in started[0].received] == [{"name": "made-once"}]


def test_unreachable_server_gives_up_within_the_policy(free_port) -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.01, sleep=waits.append)
    port = free_port()
    with transport(f"http://127.0.0.1:{port}", retry=policy) as rest:
        error = error_of(rest, "CreateRun", api.CreateRunRequest(experiment_id="1"))
    assert (error.error_code, error.http_status) == ("TEMPORARILY_UNAVAILABLE", None)
    assert f"127.0.0.1:{port}" in error.message
    assert len(waits) == 2


# --- credentials ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"POLYTRACK_TRACKING_TOKEN": "pt-token", "MLFLOW_TRACKING_TOKEN": "ml-token"}, "Bearer pt-token"),
        ({"MLFLOW_TRACKING_TOKEN": "ml-token"}, "Bearer ml-token"),
        ({"MLFLOW_TRACKING_USERNAME": "ada", "MLFLOW_TRACKING_PASSWORD": "s3cret"}, "Basic YWRhOnMzY3JldA=="),
        ({"POLYTRACK_TRACKING_USERNAME": "ada", "MLFLOW_TRACKING_PASSWORD": "pw"}, "Basic YWRhOnB3"),
        ({}, None),
    ],
)
def test_credentials_from_the_environment_are_sent(http_stub, monkeypatch, variables, expected) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with RestTransport(http_stub.url, retry=FAST_RETRIES) as rest:
        rest.call("GetExperiment", api.GetExperimentRequest(experiment_id="1"))
    assert http_stub.received[0].headers.get("authorization") == expected


def test_credentials_never_show_in_reprs() -> None:
    assert "s3cret" not in repr(Credentials(token="s3cret"))
    assert "s3cret" not in repr(Credentials(username="ada", password="s3cret"))
