"""The MLflow REST wire contract, checked with raw HTTP against a live server.

These are the details that no official Python client exercises but that other clients rely on:
Java sends int64 as strings and lowerCamelCase is legal protobuf JSON, R sends every leaf as a
string, the UI uses the `/ajax-api` prefix, and every client needs JSON error bodies with the
right `error_code`. Runs against polytrack by default; with POLYTRACK_TEST_E2E_SERVER=mlflow the
checks that describe MLflow's contract run against the real MLflow server too (the few places
where polytrack deliberately answers better than MLflow are skipped there, with the reason).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import ServerHandle, ServerKind, start_server

pytestmark = pytest.mark.e2e

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"
FLOAT_MAX = sys.float_info.max


# --------------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture(scope="module")
def http(live_server: ServerHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=60.0) as client:
        yield client


def unique(label: str = "wire") -> str:
    return f"e2e-{label}-{uuid.uuid4().hex[:12]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def ok_json(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a successful reply; fails with the status and body otherwise."""
    assert response.status_code == 200, (
        f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text[:2000]}"
    )
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    return body


def error_json(response: httpx.Response, status: int, code: str | None, kind: ServerKind) -> dict[str, Any]:
    """Checks an error reply: its status, JSON content type, body shape and `error_code`."""
    request = response.request
    assert response.status_code == status, (
        f"{request.method} {request.url} -> {response.status_code}, expected {status}: {response.text[:2000]}"
    )
    assert response.headers.get("content-type", "").startswith("application/json"), (
        f"error reply is not JSON: {response.headers.get('content-type')!r} {response.text[:500]!r}"
    )
    body = response.json()
    assert isinstance(body, dict), body
    if kind == "polytrack":
        assert set(body) == {"error_code", "message"}, body
    else:  # MLflow 3.x may add `sqlstate` and `error_class`.
        assert {"error_code", "message"} <= set(body), body
    assert isinstance(body["error_code"], str) and body["error_code"], body
    assert isinstance(body["message"], str) and body["message"], body
    if code is not None:
        assert body["error_code"] == code, body
    return body


def create_experiment(http: httpx.Client, prefix: str = API, **fields: Any) -> str:
    body = ok_json(http.post(f"{prefix}/experiments/create", json={"name": unique(), **fields}))
    experiment_id = body["experiment_id"]
    assert isinstance(experiment_id, str) and experiment_id.isdigit(), body
    return experiment_id


def create_run(http: httpx.Client, experiment_id: str, **fields: Any) -> dict[str, Any]:
    body = ok_json(
        http.post(
            f"{API}/runs/create", json={"experiment_id": experiment_id, "start_time": now_ms(), **fields}
        )
    )
    return body["run"]


def get_run(http: httpx.Client, run_id: str) -> dict[str, Any]:
    return ok_json(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]


@pytest.fixture
def experiment_id(http: httpx.Client) -> str:
    return create_experiment(http)


@pytest.fixture
def run_id(http: httpx.Client, experiment_id: str) -> str:
    return create_run(http, experiment_id)["info"]["run_id"]


# --------------------------------------------------------------------------------------------------
# Routing


@pytest.mark.parametrize("prefix", [API, AJAX])
def test_both_prefixes_serve_every_kind_of_call(http: httpx.Client, prefix: str) -> None:
    name = unique("prefix")
    experiment_id = ok_json(http.post(f"{prefix}/experiments/create", json={"name": name}))["experiment_id"]
    experiment = ok_json(http.get(f"{prefix}/experiments/get", params={"experiment_id": experiment_id}))
    assert experiment["experiment"]["name"] == name
    by_name = ok_json(http.get(f"{prefix}/experiments/get-by-name", params={"experiment_name": name}))
    assert by_name["experiment"]["experiment_id"] == experiment_id
    run = ok_json(http.post(f"{prefix}/runs/create", json={"experiment_id": experiment_id, "start_time": 1}))
    run_id = run["run"]["info"]["run_id"]
    ok_json(
        http.post(
            f"{prefix}/runs/log-metric",
            json={"run_id": run_id, "key": "m", "value": 2.5, "timestamp": 5, "step": 1},
        )
    )
    history = ok_json(http.get(f"{prefix}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}))
    assert history["metrics"] == [{"key": "m", "value": 2.5, "timestamp": 5, "step": 1}]
    found = ok_json(http.post(f"{prefix}/runs/search", json={"experiment_ids": [experiment_id]}))
    assert [r["info"]["run_id"] for r in found["runs"]] == [run_id]
    searched = ok_json(
        http.post(f"{prefix}/experiments/search", json={"max_results": 10, "filter": f"name = '{name}'"})
    )
    assert [e["experiment_id"] for e in searched["experiments"]] == [experiment_id]
    # What one prefix wrote, the other reads.
    other = AJAX if prefix == API else API
    assert (
        ok_json(http.get(f"{other}/runs/get", params={"run_id": run_id}))["run"]["info"]["run_id"] == run_id
    )


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", f"{API}/experiments/does-not-exist"),
        ("POST", f"{API}/runs/unknown-verb"),
        ("GET", f"{AJAX}/metrics/nothing"),
        ("GET", "/api/2.0/mlflow"),
        ("GET", "/api/9.0/mlflow/experiments/get?experiment_id=0"),
        ("POST", "/api/2.0/preview/mlflow/experiments/create"),
        ("GET", "/definitely/not/here"),
    ],
)
def test_unknown_route_is_json_404(
    http: httpx.Client, server_kind: ServerKind, method: str, path: str
) -> None:
    if server_kind == "mlflow":
        pytest.skip("MLflow answers unknown routes with an HTML 404 page; polytrack answers in JSON")
    response = http.request(method, path, json={} if method == "POST" else None)
    error_json(response, 404, "ENDPOINT_NOT_FOUND", server_kind)


@pytest.mark.parametrize(
    "method,path,allowed",
    [
        ("GET", f"{API}/runs/create", "POST"),
        ("POST", f"{API}/experiments/get", "GET"),
        ("DELETE", f"{API}/runs/search", "POST"),
        ("PUT", f"{AJAX}/experiments/create", "POST"),
        ("PATCH", f"{API}/metrics/get-history", "GET"),
    ],
)
def test_wrong_method_is_405(
    http: httpx.Client, server_kind: ServerKind, method: str, path: str, allowed: str
) -> None:
    response = http.request(method, path, json={} if method != "GET" else None)
    assert response.status_code == 405, (response.status_code, response.text[:500])
    assert allowed in response.headers.get("allow", ""), response.headers
    if server_kind == "polytrack":  # MLflow's 405 page is HTML.
        error_json(response, 405, None, server_kind)


def test_health_and_version(http: httpx.Client) -> None:
    health = http.get("/health")
    assert health.status_code == 200 and health.text.strip() == "OK"
    version = http.get("/version")
    assert version.status_code == 200 and version.text.strip(), version.text


# --------------------------------------------------------------------------------------------------
# Request decoding


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "application/jsonp"},
        {},
    ],
    ids=["text-plain", "form", "jsonp", "missing"],
)
def test_wrong_content_type_is_400(
    http: httpx.Client, server_kind: ServerKind, headers: dict[str, str]
) -> None:
    body = json.dumps({"name": unique("ctype")}).encode()
    response = http.post(f"{API}/experiments/create", content=body, headers=headers)
    if not headers:
        # httpx sends no Content-Type for raw bytes; make sure of it.
        assert "content-type" not in response.request.headers
    error_json(response, 400, "INVALID_PARAMETER_VALUE", server_kind)


def test_json_content_type_parameters_are_ignored(http: httpx.Client) -> None:
    name = unique("charset")
    response = http.post(
        f"{API}/experiments/create",
        content=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    experiment_id = ok_json(response)["experiment_id"]
    got = ok_json(http.get(f"{API}/experiments/get", params={"experiment_id": experiment_id}))
    assert got["experiment"]["name"] == name


@pytest.mark.parametrize(
    "raw",
    [b'{"name": ', b"{name: 'x'}", b'{"name": "x",}', b"\xff\xfe{}", b"nul"],
    ids=["truncated", "unquoted", "trailing-comma", "not-utf8", "bad-literal"],
)
def test_malformed_json_is_400(http: httpx.Client, server_kind: ServerKind, raw: bytes) -> None:
    # MLflow reads an unparsable body as {} and then misses `name`; polytrack refuses the JSON.
    # Either way the client gets 400 INVALID_PARAMETER_VALUE.
    response = http.post(
        f"{API}/experiments/create", content=raw, headers={"Content-Type": "application/json"}
    )
    error_json(response, 400, "INVALID_PARAMETER_VALUE", server_kind)


def test_numeric_strings_like_java_and_r(http: httpx.Client, experiment_id: str) -> None:
    # Java sends int64 as JSON strings; R sends every leaf as a string, doubles included.
    created = ok_json(
        http.post(
            f"{API}/runs/create",
            json={"experiment_id": experiment_id, "start_time": "1700000000000", "run_name": "strings"},
        )
    )
    info = created["run"]["info"]
    assert info["start_time"] == 1700000000000 and info["run_name"] == "strings", info
    run_id = info["run_id"]
    metric = {"run_id": run_id, "key": "m", "value": "1.5", "timestamp": "123", "step": "7"}
    ok_json(http.post(f"{API}/runs/log-metric", json=metric))
    ok_json(
        http.post(
            f"{API}/runs/log-metric", json={"run_id": run_id, "key": "m", "value": "-2", "timestamp": "124"}
        )
    )
    batch = {"run_id": run_id, "metrics": [{"key": "b", "value": "0.25", "timestamp": "9", "step": "-4"}]}
    ok_json(http.post(f"{API}/runs/log-batch", json=batch))
    history = ok_json(http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}))
    assert history["metrics"] == [
        {"key": "m", "value": 1.5, "timestamp": 123, "step": 7},
        {"key": "m", "value": -2.0, "timestamp": 124, "step": 0},
    ], history
    ok_json(
        http.post(
            f"{API}/runs/update", json={"run_id": run_id, "status": "FINISHED", "end_time": "1700000000500"}
        )
    )
    run = get_run(http, run_id)
    assert run["info"]["status"] == "FINISHED" and run["info"]["end_time"] == 1700000000500, run["info"]
    assert {"key": "b", "value": 0.25, "timestamp": 9, "step": -4} in run["data"]["metrics"], run["data"]
    # String max_results, numeric and named enum values.
    for body in (
        {"experiment_ids": [experiment_id], "max_results": "5", "run_view_type": 1},
        {"experiment_ids": [experiment_id], "max_results": 5, "run_view_type": "ALL"},
        {"experiment_ids": [experiment_id], "max_results": "5", "run_view_type": "3"},
    ):
        found = ok_json(http.post(f"{API}/runs/search", json=body))
        assert [r["info"]["run_id"] for r in found["runs"]] == [run_id], body
    experiments = ok_json(
        http.post(f"{API}/experiments/search", json={"max_results": "2", "view_type": "ALL"})
    )
    assert len(experiments["experiments"]) == 2 and experiments["next_page_token"], experiments


def test_camel_case_field_names(http: httpx.Client, experiment_id: str) -> None:
    # lowerCamelCase is the canonical protobuf JSON spelling; MLflow accepts it where it does not
    # check required fields by their snake_case name (creating and searching runs and experiments).
    created = ok_json(
        http.post(
            f"{API}/runs/create", json={"experimentId": experiment_id, "startTime": "42", "runName": "camel"}
        )
    )
    info = created["run"]["info"]
    assert (info["start_time"], info["run_name"], info["experiment_id"]) == (42, "camel", experiment_id), info
    found = ok_json(
        http.post(
            f"{API}/runs/search", json={"experimentIds": [experiment_id], "maxResults": "5", "runViewType": 1}
        )
    )
    assert [r["info"]["run_id"] for r in found["runs"]] == [info["run_id"]]
    experiments = ok_json(
        http.post(
            f"{API}/experiments/search", json={"maxResults": "3", "viewType": "ALL", "orderBy": ["name"]}
        )
    )
    assert 1 <= len(experiments["experiments"]) <= 3


def test_camel_case_required_fields(http: httpx.Client, server_kind: ServerKind, experiment_id: str) -> None:
    if server_kind == "mlflow":
        pytest.skip("MLflow checks required fields by their snake_case name: `runId` -> 400 missing run_id")
    run_id = create_run(http, experiment_id)["info"]["run_id"]
    ok_json(
        http.post(f"{API}/runs/log-metric", json={"runId": run_id, "key": "m", "value": 2, "timestamp": 124})
    )
    ok_json(http.post(f"{API}/runs/log-parameter", json={"runId": run_id, "key": "p", "value": "v"}))
    ok_json(http.post(f"{API}/runs/update", json={"runId": run_id, "status": "KILLED", "endTime": "99"}))
    ok_json(
        http.post(f"{API}/experiments/set-experiment-tag", json={"experimentId": experiment_id, "key": "k"})
    )
    history = ok_json(http.get(f"{API}/metrics/get-history", params={"runId": run_id, "metricKey": "m"}))
    assert history["metrics"] == [{"key": "m", "value": 2.0, "timestamp": 124, "step": 0}], history
    run = get_run(http, run_id)
    assert run["info"]["status"] == "KILLED" and run["info"]["end_time"] == 99, run["info"]
    assert run["data"]["params"] == [{"key": "p", "value": "v"}]
    experiment = ok_json(http.get(f"{API}/experiments/get", params={"experimentId": experiment_id}))
    assert {"key": "k", "value": ""} in experiment["experiment"]["tags"], experiment
    # Both spellings of one field in one request is ambiguous.
    both = http.post(
        f"{API}/runs/set-tag", json={"run_id": run_id, "runId": run_id, "key": "t", "value": "v"}
    )
    error_json(both, 400, "INVALID_PARAMETER_VALUE", server_kind)


def test_unknown_fields_are_ignored(http: httpx.Client) -> None:
    name = unique("unknown-field")
    body = {"name": name, "not_a_field": {"nested": [1, 2]}, "alsoUnknown": "x"}
    experiment_id = ok_json(http.post(f"{API}/experiments/create", json=body))["experiment_id"]
    got = ok_json(http.get(f"{API}/experiments/get", params={"experiment_id": experiment_id, "bogus": "1"}))
    assert got["experiment"]["name"] == name


def test_nan_and_infinity_round_trip(http: httpx.Client, run_id: str) -> None:
    for key, value in [("nan", "NaN"), ("pinf", "Infinity"), ("ninf", "-Infinity")]:
        ok_json(
            http.post(
                f"{API}/runs/log-metric", json={"run_id": run_id, "key": key, "value": value, "timestamp": 10}
            )
        )
    ok_json(
        http.post(
            f"{API}/runs/log-batch",
            json={
                "run_id": run_id,
                "metrics": [{"key": "batch", "value": "NaN", "timestamp": 11, "step": 0}],
            },
        )
    )
    metrics = {m["key"]: m["value"] for m in get_run(http, run_id)["data"]["metrics"]}
    assert metrics["nan"] == "NaN" and metrics["batch"] == "NaN", metrics
    # MLflow clamps infinities to +/-max double; sending the infinity itself back is equally valid JSON.
    assert metrics["pinf"] in ("Infinity", FLOAT_MAX), metrics
    assert metrics["ninf"] in ("-Infinity", -FLOAT_MAX), metrics
    history = ok_json(http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "nan"}))
    assert history["metrics"] == [{"key": "nan", "value": "NaN", "timestamp": 10, "step": 0}], history
    # The response is standard JSON: no bare NaN/Infinity literals.
    raw = http.get(f"{API}/runs/get", params={"run_id": run_id}).text
    json.loads(raw, parse_constant=lambda literal: pytest.fail(f"bare {literal} literal in {raw[:300]}"))


def test_run_uuid_alias(http: httpx.Client, run_id: str) -> None:
    fetched = ok_json(http.get(f"{API}/runs/get", params={"run_uuid": run_id}))
    assert fetched["run"]["info"]["run_id"] == run_id
    assert fetched["run"]["info"]["run_uuid"] == run_id
    ok_json(
        http.post(f"{API}/runs/log-metric", json={"run_uuid": run_id, "key": "m", "value": 1, "timestamp": 1})
    )
    ok_json(http.post(f"{API}/runs/log-parameter", json={"run_uuid": run_id, "key": "p", "value": "v"}))
    ok_json(http.post(f"{API}/runs/set-tag", json={"run_uuid": run_id, "key": "t", "value": "w"}))
    history = ok_json(http.get(f"{API}/metrics/get-history", params={"run_uuid": run_id, "metric_key": "m"}))
    assert [m["value"] for m in history["metrics"]] == [1.0]
    ok_json(http.post(f"{API}/runs/update", json={"run_uuid": run_id, "status": "KILLED", "end_time": 2}))
    # run_id wins when both are present.
    ok_json(http.get(f"{API}/runs/get", params={"run_id": run_id, "run_uuid": uuid.uuid4().hex}))
    run = get_run(http, run_id)
    assert run["info"]["status"] == "KILLED"
    assert run["data"]["params"] == [{"key": "p", "value": "v"}]
    assert {"key": "t", "value": "w"} in run["data"]["tags"]


def test_get_reads_repeated_query_keys(http: httpx.Client) -> None:
    prefix = unique("repeat")
    names = [f"{prefix}-b", f"{prefix}-a", f"{prefix}-c"]
    for name in names:
        ok_json(http.post(f"{API}/experiments/create", json={"name": name}))
    query = [
        ("max_results", "10"),
        ("filter", f"name LIKE '{prefix}-%'"),
        ("order_by", "name DESC"),
        ("order_by", "creation_time ASC"),
        ("view_type", "ACTIVE_ONLY"),
    ]
    found = ok_json(http.get(f"{API}/experiments/search", params=query))
    assert [e["name"] for e in found["experiments"]] == sorted(names, reverse=True)


def test_bulk_interval_reads_repeated_run_ids(http: httpx.Client, experiment_id: str) -> None:
    first = create_run(http, experiment_id)["info"]["run_id"]
    second = create_run(http, experiment_id)["info"]["run_id"]
    for run_id, base in ((first, 0.0), (second, 100.0)):
        metrics = [
            {"key": "loss", "value": base + step, "timestamp": 1000 + step, "step": step} for step in range(4)
        ]
        ok_json(http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}))
    query = [("run_ids", first), ("run_ids", second), ("metric_key", "loss"), ("max_results", "10")]
    body = ok_json(http.get(f"{API}/metrics/get-history-bulk-interval", params=query))
    points = [(m["run_id"], m["step"], m["value"]) for m in body["metrics"]]
    expected = [(first, s, float(s)) for s in range(4)] + [(second, s, 100.0 + s) for s in range(4)]
    assert points == expected, points


def test_get_without_query_string_reads_json_body(http: httpx.Client, experiment_id: str) -> None:
    response = http.request("GET", f"{API}/experiments/get", json={"experiment_id": experiment_id})
    assert ok_json(response)["experiment"]["experiment_id"] == experiment_id


# --------------------------------------------------------------------------------------------------
# Response encoding


def test_int64_fields_are_json_numbers(http: httpx.Client, experiment_id: str) -> None:
    big_step = 2**53 + 1  # Not representable as a double: must travel as an exact integer.
    start = 1_700_000_000_123
    run = create_run(http, experiment_id, start_time=start)
    run_id = run["info"]["run_id"]
    assert run["info"]["start_time"] == start and type(run["info"]["start_time"]) is int, run["info"]
    ok_json(
        http.post(
            f"{API}/runs/log-metric",
            json={"run_id": run_id, "key": "m", "value": 1.0, "timestamp": start + 1, "step": big_step},
        )
    )
    ok_json(
        http.post(f"{API}/runs/update", json={"run_id": run_id, "status": "FINISHED", "end_time": start + 2})
    )
    fetched = get_run(http, run_id)
    info = fetched["info"]
    assert type(info["start_time"]) is int and type(info["end_time"]) is int, info
    (metric,) = fetched["data"]["metrics"]
    assert metric == {"key": "m", "value": 1.0, "timestamp": start + 1, "step": big_step}, metric
    assert type(metric["timestamp"]) is int and type(metric["step"]) is int
    experiment = ok_json(http.get(f"{API}/experiments/get", params={"experiment_id": experiment_id}))[
        "experiment"
    ]
    assert type(experiment["creation_time"]) is int and type(experiment["last_update_time"]) is int, (
        experiment
    )
    # Enums travel by name; ids of experiments are strings.
    assert info["status"] == "FINISHED" and info["lifecycle_stage"] == "active"
    assert info["experiment_id"] == experiment_id


def test_empty_responses_are_empty_objects(http: httpx.Client, run_id: str) -> None:
    response = http.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "k", "value": "v"})
    assert ok_json(response) == {}
    unknown = ok_json(
        http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "absent"})
    )
    assert unknown.get("metrics", []) == []
    empty_search = ok_json(http.post(f"{API}/runs/search", json={"experiment_ids": []}))
    assert empty_search.get("runs", []) == [] and "next_page_token" not in empty_search


def test_run_shape(http: httpx.Client, experiment_id: str) -> None:
    created = create_run(http, experiment_id, run_name="shape", tags=[{"key": "a", "value": "b"}])
    info = created["info"]
    run_id = info["run_id"]
    assert len(run_id) == 32 and info["run_uuid"] == run_id
    assert info["status"] == "RUNNING" and "end_time" not in info, info
    assert info["artifact_uri"] == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts", info
    assert {"key": "mlflow.runName", "value": "shape"} in created["data"]["tags"]
    fetched = get_run(http, run_id)
    assert "inputs" in fetched, fetched
    assert "params" not in fetched["data"] and "metrics" not in fetched["data"], fetched["data"]


def test_search_paging_token_round_trip(http: httpx.Client, experiment_id: str) -> None:
    ids = [create_run(http, experiment_id, start_time=1000 + i)["info"]["run_id"] for i in range(5)]
    seen: list[str] = []
    token: str | None = None
    for _ in range(5):
        body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": 2}
        if token:
            body["page_token"] = token
        page = ok_json(http.post(f"{API}/runs/search", json=body))
        seen.extend(r["info"]["run_id"] for r in page.get("runs", []))
        token = page.get("next_page_token")
        if not token:
            break
        assert isinstance(token, str)
    assert seen == list(reversed(ids)), seen


# --------------------------------------------------------------------------------------------------
# Errors


def test_error_body_shape(http: httpx.Client, server_kind: ServerKind, experiment_id: str) -> None:
    error_json(
        http.get(f"{API}/runs/get", params={"run_id": uuid.uuid4().hex}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        server_kind,
    )
    error_json(
        http.get(f"{API}/experiments/get", params={"experiment_id": "123456789"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        server_kind,
    )
    name = ok_json(http.get(f"{API}/experiments/get", params={"experiment_id": experiment_id}))["experiment"][
        "name"
    ]
    error_json(
        http.post(f"{API}/experiments/create", json={"name": name}),
        400,
        "RESOURCE_ALREADY_EXISTS",
        server_kind,
    )
    error_json(http.post(f"{API}/experiments/create", json={}), 400, "INVALID_PARAMETER_VALUE", server_kind)


def _long(n: int) -> str:
    return "x" * n


def bad(
    case_id: str, method: str, path: str, payload: Any, statuses: set[int], mlflow_differs: str | None = None
) -> Any:
    """One client mistake: `payload` is the JSON body, or the query for GET (a dict or a list of pairs)."""
    return pytest.param(method, path, payload, statuses, mlflow_differs, id=case_id)


# "{run}" and "{exp}" in string values are replaced with a live run id / experiment id.
BAD_INPUTS = [
    bad("create-exp-name-number", "POST", "experiments/create", {"name": 123}, {400}),
    bad("create-exp-name-list", "POST", "experiments/create", {"name": ["a"]}, {400}),
    bad("create-exp-name-empty", "POST", "experiments/create", {"name": ""}, {400}),
    bad("create-exp-name-too-long", "POST", "experiments/create", {"name": _long(600)}, {400}),
    bad("create-exp-tags-not-list", "POST", "experiments/create", {"name": "t", "tags": "nope"}, {400}),
    bad(
        "create-exp-body-array",
        "POST",
        "experiments/create",
        [1, 2],
        {400},
        "MLflow answers 500 (HTML) to a JSON array body",
    ),
    bad(
        "create-exp-body-number",
        "POST",
        "experiments/create",
        5,
        {400},
        "MLflow answers 500 (HTML) to a JSON number body",
    ),
    bad("get-exp-not-integer", "GET", "experiments/get", {"experiment_id": "abc"}, {400}),
    bad("get-exp-unknown", "GET", "experiments/get", {"experiment_id": "99999999"}, {404}),
    bad("get-exp-missing-id", "GET", "experiments/get", {"unrelated": "1"}, {400}),
    bad(
        "get-exp-huge-id",
        "GET",
        "experiments/get",
        {"experiment_id": "9" * 40},
        {400, 404},
        "MLflow answers 500 INTERNAL_ERROR (integer too large for SQLite)",
    ),
    bad("search-exp-negative-max", "POST", "experiments/search", {"max_results": -1}, {400}),
    bad("search-exp-zero-max", "POST", "experiments/search", {"max_results": 0}, {400}),
    bad("search-exp-max-too-big", "POST", "experiments/search", {"max_results": 50001}, {400}),
    bad("search-exp-max-text", "POST", "experiments/search", {"max_results": "abc"}, {400}),
    bad("search-exp-max-int64-overflow", "POST", "experiments/search", {"max_results": 2**70}, {400}),
    bad(
        "search-exp-bad-filter",
        "POST",
        "experiments/search",
        {"max_results": 5, "filter": "name === 'x'"},
        {400},
    ),
    bad(
        "search-exp-bad-order",
        "POST",
        "experiments/search",
        {"max_results": 5, "order_by": ["nope DESC"]},
        {400},
    ),
    bad("search-exp-bad-token", "POST", "experiments/search", {"max_results": 5, "page_token": "%%%"}, {400}),
    bad(
        "update-exp-empty-name",
        "POST",
        "experiments/update",
        {"experiment_id": "{exp}", "new_name": ""},
        {400},
    ),
    bad("delete-exp-unknown", "POST", "experiments/delete", {"experiment_id": "99999999"}, {404}),
    bad(
        "exp-tag-too-long",
        "POST",
        "experiments/set-experiment-tag",
        {"experiment_id": "{exp}", "key": "k", "value": _long(20001)},
        {400},
    ),
    bad("exp-tag-missing-key", "POST", "experiments/set-experiment-tag", {"experiment_id": "{exp}"}, {400}),
    bad("create-run-exp-not-integer", "POST", "runs/create", {"experiment_id": "abc"}, {400}),
    bad("create-run-exp-unknown", "POST", "runs/create", {"experiment_id": "99999999"}, {404}),
    bad(
        "create-run-bad-start", "POST", "runs/create", {"experiment_id": "{exp}", "start_time": "soon"}, {400}
    ),
    bad("create-run-exp-object", "POST", "runs/create", {"experiment_id": {"a": 1}}, {400}),
    bad("get-run-unknown", "GET", "runs/get", {"run_id": "0" * 32}, {404}),
    bad("get-run-sql-ish", "GET", "runs/get", {"run_id": "'; DROP TABLE runs; --"}, {400, 404}),
    bad("get-run-missing-id", "GET", "runs/get", {"unrelated": "x"}, {400}),
    bad(
        "search-runs-negative-max",
        "POST",
        "runs/search",
        {"experiment_ids": ["{exp}"], "max_results": -5},
        {400},
    ),
    bad(
        "search-runs-max-too-big",
        "POST",
        "runs/search",
        {"experiment_ids": ["{exp}"], "max_results": 50001},
        {400},
    ),
    bad(
        "search-runs-bad-filter",
        "POST",
        "runs/search",
        {"experiment_ids": ["{exp}"], "filter": "metrics.m >> 1"},
        {400},
    ),
    bad(
        "search-runs-or-filter",
        "POST",
        "runs/search",
        {"experiment_ids": ["{exp}"], "filter": "metrics.a > 1 OR metrics.b > 1"},
        {400},
    ),
    bad(
        "search-runs-bad-order",
        "POST",
        "runs/search",
        {"experiment_ids": ["{exp}"], "order_by": ["metrics.m UPWARDS"]},
        {400},
    ),
    bad(
        "search-runs-duplicate-order",
        "POST",
        "runs/search",
        {"experiment_ids": ["{exp}"], "order_by": ["metrics.m", "metrics.m DESC"]},
        {400},
        mlflow_differs="MLflow answers 500 INTERNAL_ERROR for duplicate order_by keys",
    ),
    bad(
        "search-runs-bad-token",
        "POST",
        "runs/search",
        {"experiment_ids": ["{exp}"], "page_token": "bm90IGpzb24="},
        {400},
    ),
    bad("search-runs-exp-not-integer", "POST", "runs/search", {"experiment_ids": ["abc"]}, {400}),
    bad(
        "log-metric-value-text",
        "POST",
        "runs/log-metric",
        {"run_id": "{run}", "key": "m", "value": "abc", "timestamp": 1},
        {400},
    ),
    bad(
        "log-metric-value-bool",
        "POST",
        "runs/log-metric",
        {"run_id": "{run}", "key": "m", "value": True, "timestamp": 1},
        {400},
        "MLflow stores a JSON boolean metric value as 1.0",
    ),
    bad(
        "log-metric-missing-timestamp",
        "POST",
        "runs/log-metric",
        {"run_id": "{run}", "key": "m", "value": 1},
        {400},
    ),
    bad(
        "log-metric-negative-timestamp",
        "POST",
        "runs/log-metric",
        {"run_id": "{run}", "key": "m", "value": 1, "timestamp": -1},
        {400},
    ),
    bad(
        "log-metric-empty-key",
        "POST",
        "runs/log-metric",
        {"run_id": "{run}", "key": "", "value": 1, "timestamp": 1},
        {400},
    ),
    bad(
        "log-metric-escaping-key",
        "POST",
        "runs/log-metric",
        {"run_id": "{run}", "key": "../up", "value": 1, "timestamp": 1},
        {400},
    ),
    bad(
        "log-metric-step-overflow",
        "POST",
        "runs/log-metric",
        {"run_id": "{run}", "key": "m", "value": 1, "timestamp": 1, "step": 2**64},
        {400},
        "MLflow drops an unparsable field and logs the metric at step 0",
    ),
    bad(
        "log-metric-unknown-run",
        "POST",
        "runs/log-metric",
        {"run_id": "f" * 32, "key": "m", "value": 1, "timestamp": 1},
        {404},
    ),
    bad(
        "log-param-key-too-long",
        "POST",
        "runs/log-parameter",
        {"run_id": "{run}", "key": _long(251), "value": "v"},
        {400},
    ),
    bad("log-param-missing-key", "POST", "runs/log-parameter", {"run_id": "{run}", "value": "v"}, {400}),
    bad("set-tag-missing-run", "POST", "runs/set-tag", {"key": "k", "value": "v"}, {400}),
    bad("delete-tag-absent", "POST", "runs/delete-tag", {"run_id": "{run}", "key": "absent"}, {404}),
    bad("update-run-bad-end", "POST", "runs/update", {"run_id": "{run}", "end_time": "later"}, {400}),
    bad(
        "log-batch-too-many-metrics",
        "POST",
        "runs/log-batch",
        {"run_id": "{run}", "metrics": [{"key": f"m{i}", "value": 1, "timestamp": 1} for i in range(1001)]},
        {400},
    ),
    bad(
        "log-batch-too-many-params",
        "POST",
        "runs/log-batch",
        {"run_id": "{run}", "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]},
        {400},
    ),
    bad(
        "log-batch-too-many-tags",
        "POST",
        "runs/log-batch",
        {"run_id": "{run}", "tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]},
        {400},
    ),
    bad(
        "log-batch-metrics-not-list", "POST", "runs/log-batch", {"run_id": "{run}", "metrics": "nope"}, {400}
    ),
    bad(
        "log-batch-metric-without-value",
        "POST",
        "runs/log-batch",
        {"run_id": "{run}", "metrics": [{"key": "m", "timestamp": 1}]},
        {400},
    ),
    bad(
        "log-batch-duplicate-params",
        "POST",
        "runs/log-batch",
        {"run_id": "{run}", "params": [{"key": "p", "value": "1"}, {"key": "p", "value": "2"}]},
        {400},
    ),
    bad("log-batch-bad-run-id", "POST", "runs/log-batch", {"run_id": "bad id!", "params": []}, {400, 404}),
    bad(
        "history-negative-max",
        "GET",
        "metrics/get-history",
        {"run_id": "{run}", "metric_key": "m", "max_results": "-1"},
        {400},
    ),
    bad("history-missing-key", "GET", "metrics/get-history", {"run_id": "{run}"}, {400}),
    bad(
        "history-max-text",
        "GET",
        "metrics/get-history",
        {"run_id": "{run}", "metric_key": "m", "max_results": "many"},
        {400},
        "MLflow drops an unparsable field and answers 200",
    ),
    bad(
        "bulk-too-many-runs",
        "GET",
        "metrics/get-history-bulk-interval",
        [("metric_key", "m")] + [("run_ids", f"{i:032x}") for i in range(101)],
        {400},
    ),
    bad(
        "bulk-start-after-end",
        "GET",
        "metrics/get-history-bulk-interval",
        [("run_ids", "{run}"), ("metric_key", "m"), ("start_step", "5"), ("end_step", "1")],
        {400},
    ),
    bad(
        "bulk-zero-max",
        "GET",
        "metrics/get-history-bulk-interval",
        [("run_ids", "{run}"), ("metric_key", "m"), ("max_results", "0")],
        {400},
    ),
]


def _substitute(value: Any, run_id: str, experiment_id: str) -> Any:
    if isinstance(value, str):
        return value.replace("{run}", run_id).replace("{exp}", experiment_id)
    if isinstance(value, list):
        return [_substitute(item, run_id, experiment_id) for item in value]
    if isinstance(value, tuple):
        return tuple(_substitute(item, run_id, experiment_id) for item in value)
    if isinstance(value, dict):
        return {key: _substitute(item, run_id, experiment_id) for key, item in value.items()}
    return value


@pytest.mark.parametrize(
    "method,path,payload,statuses,mlflow_differs",
    BAD_INPUTS,
)
def test_client_mistakes_are_4xx_never_500(
    http: httpx.Client,
    server_kind: ServerKind,
    run_id: str,
    experiment_id: str,
    method: str,
    path: str,
    payload: Any,
    statuses: set[int],
    mlflow_differs: str | None,
) -> None:
    if server_kind == "mlflow" and mlflow_differs:
        pytest.skip(mlflow_differs)
    payload = _substitute(payload, run_id, experiment_id)
    if method == "GET":
        response = http.get(f"{API}/{path}", params=payload)
    else:
        response = http.request(method, f"{API}/{path}", content=json.dumps(payload).encode(),
                                headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code < 500, (
        f"server error for a client mistake: {response.status_code} {response.text[:1000]}"
    )
    assert response.status_code in statuses, (response.status_code, response.text[:1000])
    expected_code = {400: "INVALID_PARAMETER_VALUE", 404: "RESOURCE_DOES_NOT_EXIST"}[response.status_code]
    error_json(response, response.status_code, expected_code, server_kind)


def test_writes_to_deleted_run_are_400(http: httpx.Client, server_kind: ServerKind, run_id: str) -> None:
    ok_json(http.post(f"{API}/runs/delete", json={"run_id": run_id}))
    for path, body in [
        ("runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1}),
        ("runs/log-parameter", {"run_id": run_id, "key": "p", "value": "v"}),
        ("runs/set-tag", {"run_id": run_id, "key": "t", "value": "v"}),
        ("runs/log-batch", {"run_id": run_id, "params": [{"key": "p", "value": "v"}]}),
    ]:
        error_json(http.post(f"{API}/{path}", json=body), 400, "INVALID_PARAMETER_VALUE", server_kind)
    # Reads still work.
    assert get_run(http, run_id)["info"]["lifecycle_stage"] == "deleted"


def test_rename_deleted_experiment_is_not_a_server_error(
    http: httpx.Client, server_kind: ServerKind, experiment_id: str
) -> None:
    if server_kind == "mlflow":
        pytest.skip("MLflow answers 500 INVALID_STATE when renaming a deleted experiment")
    ok_json(http.post(f"{API}/experiments/delete", json={"experiment_id": experiment_id}))
    response = http.post(
        f"{API}/experiments/update", json={"experiment_id": experiment_id, "new_name": unique()}
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    error_json(response, response.status_code, None, server_kind)


# --------------------------------------------------------------------------------------------------
# Process lifecycle (own server: these stop it)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_server_stops_cleanly_and_keeps_data(
    server_kind: ServerKind, tmp_path: Path, signum: signal.Signals
) -> None:
    if server_kind == "mlflow":
        pytest.skip("checks polytrack's own process")
    name = unique("restart")
    server = start_server("polytrack", tmp_path)
    try:
        assert server.grpc_target and server.grpc_target.rsplit(":", 1)[1].isdigit(), server.grpc_target
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            experiment_id = ok_json(client.post(f"{API}/experiments/create", json={"name": name}))[
                "experiment_id"
            ]
        server.process.send_signal(signum)
        try:
            returncode = server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"server did not stop within 30 s of {signum.name}\n{server.describe()}", pytrace=False
            )
    finally:
        server.stop()
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    # Exiting 0, 130 (the shell's code for Ctrl-C) or by the re-raised signal are all clean stops.
    assert returncode in (0, 128 + signum, -signum), f"exit status {returncode}\n{server.describe()}"
    assert "Traceback" not in log, server.describe()

    again = start_server("polytrack", tmp_path)
    try:
        with httpx.Client(base_url=again.url, timeout=30.0) as client:
            found = ok_json(client.get(f"{API}/experiments/get-by-name", params={"experiment_name": name}))
    finally:
        again.stop()
    assert found["experiment"]["experiment_id"] == experiment_id


def test_nan_metric_value_is_never_a_bare_literal_in_history(http: httpx.Client, run_id: str) -> None:
    # A double that is NaN logged via log-batch must come back as the string "NaN" from every read path.
    ok_json(
        http.post(
            f"{API}/runs/log-batch",
            json={"run_id": run_id, "metrics": [{"key": "x", "value": "NaN", "timestamp": 1, "step": 3}]},
        )
    )
    for response in (
        http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "x"}),
        http.get(f"{API}/metrics/get-history-bulk-interval", params={"run_ids": run_id, "metric_key": "x"}),
        http.post(
            f"{API}/runs/search", json={"experiment_ids": [get_run(http, run_id)["info"]["experiment_id"]]}
        ),
    ):
        text = response.text
        assert response.status_code == 200, text
        parsed = json.loads(
            text, parse_constant=lambda literal, text=text: pytest.fail(f"bare {literal}: {text}")
        )
        values = [
            m["value"]
            for m in parsed.get("metrics", [])
            + [m for run in parsed.get("runs", []) for m in run["data"].get("metrics", [])]
        ]
        assert values and all(v == "NaN" for v in values), values
