"""Loading cases: the real suite loads and covers the API; malformed cases fail with clear errors."""

from __future__ import annotations

import re
import textwrap
from functools import cache
from pathlib import Path

import pytest

from conformance.runner import executors, implementations, report
from conformance.runner.schema import (
    DEFAULT_SERVICE,
    SUITE_DIR,
    CaseError,
    LoadedCase,
    load_cases,
    load_file,
    select,
)
from polytrack.v1 import artifacts_service_pb2, model_registry_service_pb2, tracking_service_pb2


@cache
def suite() -> list[LoadedCase]:
    """The real cases, loaded once per test process."""
    return load_cases()


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- the real suite ------------------------------------------------------------------------------
def test_the_suite_loads() -> None:
    cases = suite()
    assert len(cases) >= 450
    assert len({case.name for case in cases}) == len(cases)


# RPCs whose cases arrive with their own work; an entry that gains cases must go.
NOT_YET_COVERED = {
    "polytrack.v1.TrackingService.SearchLoggedModels": "logged-model cases come with logged models",
}
# RPCs a case cannot call: streams are not one request and one answer (their REST twins, the
# PUT/GET byte routes, are covered by artifacts/files/*).
NOT_CALLABLE = {
    "polytrack.v1.ArtifactsService.UploadArtifact": "client-streaming",
    "polytrack.v1.ArtifactsService.DownloadArtifact": "server-streaming",
}
# RPCs that have no error a client can cause.
NO_ERROR_CASE = {
    "polytrack.v1.ArtifactsService.GetServerInfo": "takes no input",
}
SERVICES = (
    tracking_service_pb2.DESCRIPTOR.services_by_name["TrackingService"],
    model_registry_service_pb2.DESCRIPTOR.services_by_name["ModelRegistryService"],
    artifacts_service_pb2.DESCRIPTOR.services_by_name["ArtifactsService"],
)


def _service_rpcs() -> set[str]:
    return {method.full_name for service in SERVICES for method in service.methods}


def _called(errors_only: bool = False) -> set[str]:
    return {
        f"{step.rpc.service or DEFAULT_SERVICE}.{step.rpc.method}"
        for case in suite()
        for step in case.steps
        if step.WhichOneof("action") == "rpc"
        and (not errors_only or step.expect.WhichOneof("outcome") == "error")
    }


def test_every_rpc_is_called_by_some_case() -> None:
    missing = sorted(_service_rpcs() - _called() - set(NOT_YET_COVERED) - set(NOT_CALLABLE))
    assert not missing, f"no case calls {missing}"
    stale = sorted(set(NOT_YET_COVERED) & _called())
    assert not stale, f"remove {stale} from NOT_YET_COVERED: cases call them now"


def test_every_rpc_has_an_error_case() -> None:
    exempt = set(NOT_YET_COVERED) | set(NOT_CALLABLE) | set(NO_ERROR_CASE)
    missing = sorted(_service_rpcs() - _called(errors_only=True) - exempt)
    assert not missing, f"no case expects an error from {missing}"


def test_readme_counts_table_is_current() -> None:
    readme = (SUITE_DIR / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- counts:begin -->\n(.*?)\n<!-- counts:end -->", readme, re.DOTALL)
    assert found, "README.md lost its counts markers"
    assert found.group(1) == report.counts_table(suite()), (
        "conformance/README.md's table is stale: paste the output of `polytrack conformance --list --counts`"
    )


@pytest.mark.parametrize("name", implementations.available())
def test_implementations_load_and_their_known_failures_match_cases(name: str) -> None:
    implementation = implementations.load(name)
    implementation.check_globs(suite())
    for entry in implementation.known_failures:
        assert entry.reason


def test_the_python_executor_is_configured() -> None:
    config = executors.load_client("python")
    assert config.transports == ("REST", "GRPC")
    assert Path(config.command[1]).is_file()


def test_a_client_without_executor_is_explained() -> None:
    with pytest.raises(executors.ExecutorError, match=r"no executor for client 'cobol'.*available: .*python"):
        executors.load_client("cobol")


def test_select_by_glob() -> None:
    cases = suite()
    chosen = select(cases, ["runs/search/*"])
    assert chosen and all(case.name.startswith("runs/search/") for case in chosen)
    assert select(cases, None) == cases


def test_http_cases_run_on_rest_only() -> None:
    for case in suite():
        if any(step.WhichOneof("action") == "http" for step in case.steps):
            assert case.transports == ("REST",), case.name


# --- malformed cases -----------------------------------------------------------------------------
VALID_STEP = '{rpc: {method: GetExperiment, request: {experiment_id: "0"}}}'
CASE_WITH = "cases:\n  - {{name: {name}, description: d, steps: [{step}]{extra}}}\n"


def case_with(name: str = "experiments/x", step: str = VALID_STEP, extra: str = "") -> str:
    return CASE_WITH.format(name=name, step=step, extra=extra)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            case_with(extra=", colour: red"),
            'does not fit polytrack.conformance.v1.Case: .*"colour"',
        ),
        (
            case_with(name="runs/x"),
            "a case in experiments.yaml must be named experiments/",
        ),
        (f"cases:\n  - {{name: experiments/x, steps: [{VALID_STEP}]}}\n", "description is required"),
        ("cases:\n  - {name: experiments/x, description: d, steps: []}\n", "at least one step"),
        (case_with(name="Experiments/X"), "lower-case path"),
        (
            "cases:\n  - {name: experiments/x, description: d, steps: [{expect: {}}]}\n",
            "neither `rpc` nor `http`",
        ),
        (
            "cases:\n  - {name: experiments/x, description: d, steps: [{rpc: {method: GetRun, "
            'request: {run_id: "${run_id}"}}}]}\n',
            r"step 1: uses \$\{run_id\} before any step captures it",
        ),
        (
            "cases:\n  - {name: experiments/x, description: d, steps: [{rpc: {method: GetRun}, "
            "expect: {response_subset: {run: {$regexp: x}}}}]}\n",
            "step 1: unknown matcher",
        ),
        (
            "cases:\n  - {name: experiments/x, description: d, steps: [{rpc: {method: GetRun, "
            "request: {run_id: {$any: true}}}}]}\n",
            "misplaced matcher '\\$any' in a request",
        ),
        (
            "cases:\n  - {name: experiments/x, description: d, transports: [GRPC], "
            "steps: [{http: {method: GET, path: /health}}]}\n",
            "a case with http steps runs on REST only",
        ),
        (
            "cases:\n  - {name: experiments/x, description: d, steps: [{rpc: {method: GetRun, "
            "request: {step: 9007199254740993}}}]}\n",
            "too large to keep exactly; write it as a string",
        ),
        (
            "cases:\n  - {name: experiments/x, description: d, steps: [{rpc: {method: GetRun}, "
            "expect: {error: {error_code: X}}, captures: [{name: id, path: run}]}]}\n",
            "cannot capture from a step expected to fail",
        ),
        (
            "cases:\n  - {name: experiments/x, description: d, steps: [{rpc: {method: GetRun}, "
            "captures: [{name: unique, path: run}]}]}\n",
            "capture name 'unique' is reserved",
        ),
        ("cases: [1]\n", "a case must be a mapping"),
        ("cases: {}\n", "expected a mapping with a `cases` list"),
        ("cases: []\nextra: 1\n", "unknown top-level keys"),
        ("cases: [\n", "not valid YAML"),
    ],
)
def test_malformed_case_names_file_and_case(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, "experiments.yaml", body)
    with pytest.raises(CaseError) as raised:
        load_file(path)
    text = str(raised.value)
    assert str(path) in text
    assert re.search(message, text), text
    if "name: experiments/x" in body:
        assert "case experiments/x" in text


def test_defaults_and_anchors(tmp_path: Path) -> None:
    write(
        tmp_path,
        "experiments_search.yaml",
        """
        defaults: {mlflow_compatible: true}
        common:
          - &get {rpc: {method: GetExperiment, request: {experiment_id: "0"}}}
        cases:
          - {name: experiments/search/a, description: d, steps: [*get, *get]}
          - {name: experiments/search/b, description: d, mlflow_compatible: false, steps: [*get]}
        """,
    )
    first, second = load_cases(tmp_path)
    assert first.mlflow_compatible and not second.mlflow_compatible
    assert len(first.steps) == 2 and first.transports == ("REST", "GRPC")
    assert first.area == "experiments/search"


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    step = "{rpc: {method: GetExperiment}}"
    write(
        tmp_path,
        "experiments.yaml",
        f"cases: [{{name: experiments/search/a, description: d, steps: [{step}]}}]",
    )
    write(
        tmp_path,
        "experiments_search.yaml",
        f"cases: [{{name: experiments/search/a, description: d, steps: [{step}]}}]",
    )
    with pytest.raises(CaseError, match="name already used in"):
        load_cases(tmp_path)


def test_same_step_captures_may_be_used_in_its_expectation(tmp_path: Path) -> None:
    write(
        tmp_path,
        "runs.yaml",
        """
        cases:
          - name: runs/x
            description: d
            steps:
              - rpc: {method: GetRun, request: {run_id: r}}
                captures: [{name: id, path: run.info.run_id}]
                expect: {response_subset: {run: {info: {run_uuid: "${id}"}}}}
        """,
    )
    (case,) = load_cases(tmp_path)
    assert case.name == "runs/x"


def test_empty_case_folder(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="no case files"):
        load_cases(tmp_path)


def test_known_failure_glob_matching_nothing_is_an_error(tmp_path: Path) -> None:
    write(
        tmp_path,
        "mlflow.yaml",
        """
        name: mlflow
        transports: [REST]
        known_failures:
          - {cases: [experiments/renamed-long-ago], reason: gone}
        """,
    )
    implementation = implementations.load("mlflow", tmp_path)
    with pytest.raises(implementations.ImplementationError, match="matches no case"):
        implementation.check_globs(suite())


def test_known_failure_needs_a_reason(tmp_path: Path) -> None:
    write(tmp_path, "x.yaml", "name: x\nknown_failures:\n  - {cases: [a/b]}\n")
    with pytest.raises(implementations.ImplementationError, match=r"needs `cases` .* and a `reason`"):
        implementations.load("x", tmp_path)
