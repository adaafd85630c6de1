"""The runner against a scripted executor: protocol, judging, known failures, skips and the matrix.

`fake_executor.py` answers from a JSON script instead of calling a server, so these tests pin down
what the runner sends, how it judges answers and how it classifies results, without a server.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conformance.runner import report
from conformance.runner.engine import CaseResult, PlannedRun, Runner, Target, plan
from conformance.runner.executors import ClientConfig
from conformance.runner.implementations import Implementation, KnownFailure
from conformance.runner.schema import LoadedCase, load_cases

FAKE = Path(__file__).with_name("fake_executor.py")
CLIENT = ClientConfig("fake", FAKE.parent, (sys.executable, str(FAKE)), ("REST", "GRPC"), "scripted")


def implementation(
    known: tuple[KnownFailure, ...] = (),
    features: frozenset[str] = frozenset(),
    compatible_only: bool = False,
) -> Implementation:
    return Implementation("test", "", ("REST", "GRPC"), compatible_only, features, known)


def cases_from(tmp_path: Path, text: str) -> list[LoadedCase]:
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "runs.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return load_cases(folder)


def run_one(
    tmp_path: Path,
    case: LoadedCase,
    answers: list[Any],
    impl: Implementation | None = None,
    transport: str = "REST",
) -> tuple[CaseResult, list[dict[str, Any]]]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(answers), encoding="utf-8")
    target = Target(str(script), str(script))
    with Runner(impl or implementation(), target, tmp_path) as runner:
        result = runner.run(PlannedRun(case, transport, CLIENT))
    log = tmp_path / "script.json.log"
    sent = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, sent


CREATE_AND_GET = """
cases:
  - name: runs/create-and-get
    description: a run is created and read back
    steps:
      - rpc: {method: CreateRun, request: {experiment_id: "1", start_time: 5}}
        captures: [{name: run_id, path: run.info.run_id}]
      - rpc: {method: GetRun, request: {run_id: "${run_id}"}}
        expect: {response_subset: {run: {info: {run_id: "${run_id}", start_time: 5, status: RUNNING}}}}
"""
CREATED = {"response": {"run": {"info": {"run_id": "abc", "startTime": "5", "status": "RUNNING"}}}}


def test_pass_sends_protocol_lines_and_substitutes_captures(tmp_path: Path) -> None:
    (case,) = cases_from(tmp_path, CREATE_AND_GET)
    result, sent = run_one(tmp_path, case, [CREATED, CREATED])
    assert result.status == "passed", report.details(result)
    assert sent == [
        {"transport": "rest", "id": 1, "kind": "rpc", "service": "polytrack.v1.TrackingService",
         "method": "CreateRun", "request": {"experiment_id": "1", "start_time": 5}},
        {"transport": "rest", "id": 2, "kind": "rpc", "service": "polytrack.v1.TrackingService",
         "method": "GetRun", "request": {"run_id": "abc"}},
    ]  # fmt: skip


def test_mismatch_fails_with_request_expected_actual(tmp_path: Path) -> None:
    (case,) = cases_from(tmp_path, CREATE_AND_GET)
    finished = {"response": {"run": {"info": {"run_id": "abc", "start_time": 5, "status": "FINISHED"}}}}
    result, _ = run_one(tmp_path, case, [CREATED, finished])
    assert result.status == "failed"
    assert result.failure is not None and result.failure.step == 2
    assert result.failure.request == {"run_id": "abc"}
    assert result.failure.problems == ['run.info.status: expected "RUNNING", got "FINISHED"']
    text = report.details(result)
    assert "FAIL runs/create-and-get [REST, fake]" in text and "step 2 (GetRun)" in text
    assert '"status": "FINISHED"' in text


def test_error_expectations(tmp_path: Path) -> None:
    (case,) = cases_from(
        tmp_path,
        """
        cases:
          - name: runs/missing
            description: unknown run
            steps:
              - rpc: {method: GetRun, request: {run_id: "x"}}
                expect: {error: {error_code: RESOURCE_DOES_NOT_EXIST, message_regex: "x"}, http_status: 404}
        """,
    )
    right = {"error": {"error_code": "RESOURCE_DOES_NOT_EXIST", "http_status": 404, "message": "no run x"}}
    assert run_one(tmp_path, case, [right])[0].status == "passed"
    (tmp_path / "script.json.log").unlink()
    wrong = {"error": {"error_code": "INTERNAL_ERROR", "http_status": 500, "message": "boom"}}
    result, _ = run_one(tmp_path, case, [wrong])
    assert result.failure is not None
    assert result.failure.problems == [
        "expected error_code RESOURCE_DOES_NOT_EXIST, got INTERNAL_ERROR",
        "expected an error message matching /x/, got 'boom'",
        "expected HTTP status 404, got 500",
    ]
    (tmp_path / "script.json.log").unlink()
    result, _ = run_one(tmp_path, case, [{"response": {}}])
    assert result.failure is not None
    assert result.failure.problems[0] == "expected an error RESOURCE_DOES_NOT_EXIST, the call succeeded"


def test_success_expected_but_error_answered(tmp_path: Path) -> None:
    (case,) = cases_from(tmp_path, CREATE_AND_GET)
    error = {"error": {"error_code": "INVALID_PARAMETER_VALUE", "http_status": 400, "message": "no"}}
    result, sent = run_one(tmp_path, case, [error])
    assert result.status == "failed" and result.failure is not None
    assert (
        result.failure.step == 1
        and "expected success, got error INVALID_PARAMETER_VALUE" in result.failure.problems
    )
    assert len(sent) == 1, "a case stops at its first failing step"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"failure": "no such method"}, "the executor could not make the call: no such method"),
        ("garbage", "wrote a line that is not JSON"),
        ("exit", "exited with status 3"),
        (
            {"response": {"run": {"no_such_field": 1}}},
            "response is not a valid polytrack.v1.CreateRunResponse",
        ),
        ({"error": {"message": "no code"}}, "the executor's error has no error_code"),
    ],
)
def test_executor_misbehaviour_fails_the_case(tmp_path: Path, answer: Any, message: str) -> None:
    (case,) = cases_from(tmp_path, CREATE_AND_GET)
    result, _ = run_one(tmp_path, case, [answer])
    assert result.status == "failed" and result.failure is not None
    assert any(message in problem for problem in result.failure.problems), result.failure.problems


def test_known_failure_that_fails_is_expected(tmp_path: Path) -> None:
    (case,) = cases_from(tmp_path, CREATE_AND_GET)
    known = (KnownFailure(("runs/*",), ("REST",), (), "the server is wrong"),)
    result, _ = run_one(tmp_path, case, [{"failure": "x"}], implementation(known))
    assert (result.status, result.reason) == ("xfail", "the server is wrong")


def test_known_failure_that_passes_is_stale(tmp_path: Path) -> None:
    (case,) = cases_from(tmp_path, CREATE_AND_GET)
    known = (KnownFailure(("runs/create-and-get",), (), ("fake",), "the server is wrong"),)
    result, _ = run_one(tmp_path, case, [CREATED, CREATED], implementation(known))
    assert result.status == "stale" and result.is_bad
    assert "remove it from the list" in result.reason


def test_known_failure_for_another_transport_or_client_does_not_apply(tmp_path: Path) -> None:
    (case,) = cases_from(tmp_path, CREATE_AND_GET)
    known = (
        KnownFailure(("runs/*",), ("GRPC",), (), "grpc only"),
        KnownFailure(("runs/*",), (), ("java",), "java only"),
    )
    result, _ = run_one(tmp_path, case, [CREATED, CREATED], implementation(known))
    assert result.status == "passed"


def test_missing_feature_skips(tmp_path: Path) -> None:
    (case,) = cases_from(
        tmp_path,
        """
        cases:
          - name: runs/fancy
            description: needs a feature
            requires_features: [json-error-pages]
            steps: [{rpc: {method: GetRun}}]
        """,
    )
    result, sent = run_one(tmp_path, case, [])
    assert (result.status, result.reason, sent) == ("skipped", "needs feature(s) json-error-pages", [])
    result, _ = run_one(
        tmp_path, case, [{"response": {}}], implementation(features=frozenset({"json-error-pages"}))
    )
    assert result.status == "passed"


def test_unknown_capture_path_fails(tmp_path: Path) -> None:
    (case,) = cases_from(tmp_path, CREATE_AND_GET)
    result, _ = run_one(tmp_path, case, [{"response": {"run": {}}}])
    assert result.failure is not None
    assert result.failure.problems == ["capture run_id: run.info.run_id: no 'info' in run"]


def test_plan_respects_transports_targets_and_compatibility(tmp_path: Path) -> None:
    cases = cases_from(
        tmp_path,
        """
        cases:
          - {name: runs/both, description: d, mlflow_compatible: true, steps: [{rpc: {method: GetRun}}]}
          - name: runs/http
            description: d
            mlflow_compatible: true
            steps: [{http: {method: GET, path: /health}}]
          - {name: runs/grpc-only, description: d, transports: [GRPC], steps: [{rpc: {method: GetRun}}]}
          - {name: runs/not-mlflow, description: d, steps: [{rpc: {method: GetRun}}]}
        """,
    )

    def names(runs: list[PlannedRun]) -> list[tuple[str, str]]:
        return [(r.case.name, r.transport) for r in runs]

    both = Target("http://x", "x:1")
    assert names(plan(cases, implementation(), both, [CLIENT])) == [
        ("runs/both", "REST"), ("runs/both", "GRPC"), ("runs/http", "REST"),
        ("runs/grpc-only", "GRPC"), ("runs/not-mlflow", "REST"), ("runs/not-mlflow", "GRPC"),
    ]  # fmt: skip
    rest_only = Target("http://x", None)
    assert ("runs/both", "GRPC") not in names(plan(cases, implementation(), rest_only, [CLIENT]))
    compatible = names(plan(cases, implementation(compatible_only=True), both, [CLIENT], ("REST",)))
    assert compatible == [("runs/both", "REST"), ("runs/http", "REST")]
    rest_client = ClientConfig("r", FAKE.parent, ("Rscript",), ("REST",), "")
    assert all(t == "REST" for _, t in names(plan(cases, implementation(), both, [rest_client])))


def test_matrix_keeps_other_implementations_rows(tmp_path: Path) -> None:
    (case,) = cases_from(tmp_path, CREATE_AND_GET)
    matrix = tmp_path / "MATRIX.md"
    report.update_matrix("mlflow", [CaseResult(case, "REST", "python", "xfail", reason="r")], matrix)
    report.update_matrix(
        "polytrack",
        [CaseResult(case, "REST", "python", "passed"), CaseResult(case, "GRPC", "python", "failed")],
        matrix,
    )
    text = matrix.read_text()
    assert "| mlflow | REST | python | 0 | 0 | 1 | 0 | 0 |" in text
    assert "| polytrack | GRPC | python | 0 | 1 | 0 | 0 | 0 |" in text
    assert "| polytrack | REST | python | 1 | 0 | 0 | 0 | 0 |" in text
    assert "| runs | 0/1 | 0/1 | 1/1 |" in text
    report.update_matrix("polytrack", [CaseResult(case, "REST", "python", "failed")], matrix)
    assert "| polytrack | REST | python | 0 | 1 | 0 | 0 | 0 |" in matrix.read_text()
    assert "| mlflow | REST | python | 0 | 0 | 1 | 0 | 0 |" in matrix.read_text()


MISSING_RUN = """
cases:
  - name: runs/missing
    description: unknown run, statuses derived from the error code
    steps:
      - rpc: {method: GetRun, request: {run_id: "x"}}
        expect: {error: {error_code: RESOURCE_DOES_NOT_EXIST}}
"""


def test_error_code_implies_http_status(tmp_path: Path) -> None:
    (case,) = cases_from(tmp_path, MISSING_RUN)
    wrong_status = {"error": {"error_code": "RESOURCE_DOES_NOT_EXIST", "http_status": 400, "message": "m"}}
    result, _ = run_one(tmp_path, case, [wrong_status])
    assert result.failure is not None
    assert result.failure.problems == ["expected HTTP status 404, got 400"]
    assert result.failure.expected["http_status"] == 404


def test_grpc_status_derived_from_error_code(tmp_path: Path) -> None:
    (case,) = cases_from(tmp_path, MISSING_RUN)
    base = {"error_code": "RESOURCE_DOES_NOT_EXIST", "http_status": 404, "message": "m"}
    right = {"error": {**base, "grpc_status": "NOT_FOUND"}}
    assert run_one(tmp_path, case, [right], transport="GRPC")[0].status == "passed"
    (tmp_path / "script.json.log").unlink()
    wrong = {"error": {**base, "grpc_status": "INVALID_ARGUMENT"}}
    result, _ = run_one(tmp_path, case, [wrong], transport="GRPC")
    assert result.failure is not None
    assert result.failure.problems == ["expected gRPC status NOT_FOUND, got INVALID_ARGUMENT"]
    (tmp_path / "script.json.log").unlink()
    unreported = {"error": base}
    result, _ = run_one(tmp_path, case, [unreported], transport="GRPC")
    assert result.failure is not None
    assert result.failure.problems == ["expected gRPC status NOT_FOUND, the executor reported no grpc_status"]
    (tmp_path / "script.json.log").unlink()
    # REST answers carry no canonical status: nothing to check there.
    assert run_one(tmp_path, case, [unreported], transport="REST")[0].status == "passed"


def test_stated_grpc_status_overrides_the_table(tmp_path: Path) -> None:
    (case,) = cases_from(
        tmp_path,
        """
        cases:
          - name: runs/conflict
            description: a stated canonical status wins over the error code's
            steps:
              - rpc: {method: GetRun, request: {run_id: "x"}}
                expect: {error: {error_code: INVALID_STATE, grpc_status: ABORTED}, http_status: 409}
        """,
    )
    answer = {
        "error": {"error_code": "INVALID_STATE", "http_status": 409, "message": "m", "grpc_status": "ABORTED"}
    }
    assert run_one(tmp_path, case, [answer], transport="GRPC")[0].status == "passed"
