"""SourcePolicy: which model version sources are accepted (attack list §2a) and where they resolve."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytrack_server.errors import InvalidParameter, NotFound
from polytrack_server.services.model_sources import SourcePolicy, is_under

RUN_ID = "a" * 32
RUN_ROOT = f"mlflow-artifacts:/1/{RUN_ID}/artifacts"
LOCAL_ROOT = "/srv/polytrack/artifacts"


def _run_artifact_uri(run_id: str) -> str:
    if run_id == RUN_ID:
        return RUN_ROOT
    if run_id == "b" * 32:
        return f"{LOCAL_ROOT}/2/{run_id}/artifacts"
    raise NotFound(f"No run with id {run_id!r} exists")


def _version_location(name: str, version: int) -> str:
    if (name, version) == ("model", 1):
        return f"{RUN_ROOT}/model"
    raise NotFound(f"Model version (name={name!r}, version={version}) not found")


@pytest.fixture
def policy() -> SourcePolicy:
    return SourcePolicy(("mlflow-artifacts:/", "s3://models/released"), _run_artifact_uri, _version_location)


def test_runs_source_resolves_to_the_run_artifacts(policy: SourcePolicy) -> None:
    resolved = policy.resolve(f"runs:/{RUN_ID}/model", RUN_ID)
    assert resolved.source == f"runs:/{RUN_ID}/model"
    assert resolved.storage_location == f"{RUN_ROOT}/model"
    assert policy.resolve(f"runs:/{RUN_ID}/a/b", None).storage_location == f"{RUN_ROOT}/a/b"
    assert policy.resolve(f"runs:/{RUN_ID}", None).storage_location == RUN_ROOT


def test_runs_source_must_name_an_existing_matching_run(policy: SourcePolicy) -> None:
    with pytest.raises(NotFound):
        policy.resolve(f"runs:/{'c' * 32}/model", None)
    with pytest.raises(InvalidParameter, match="differs"):
        policy.resolve(f"runs:/{RUN_ID}/model", "b" * 32)
    with pytest.raises(InvalidParameter):
        policy.resolve("runs:/", None)
    with pytest.raises(InvalidParameter):
        policy.resolve(f"runs://{RUN_ID}/model", None)


def test_models_source_resolves_to_the_referenced_version(policy: SourcePolicy) -> None:
    assert policy.resolve("models:/model/1", None).storage_location == f"{RUN_ROOT}/model"
    with pytest.raises(NotFound):
        policy.resolve("models:/model/2", None)
    with pytest.raises(InvalidParameter):
        policy.resolve("models:/model@champion", None)


def test_locations_under_roots_are_accepted(policy: SourcePolicy) -> None:
    for source in (
        "mlflow-artifacts:/1/abc/artifacts/model",
        "s3://models/released/churn/3",
        f"{RUN_ROOT}/model",
    ):
        assert policy.resolve(source, None).storage_location == source
    local = f"{LOCAL_ROOT}/2/{'b' * 32}/artifacts/model"
    assert policy.resolve(local, "b" * 32).storage_location == local
    assert policy.resolve(f"file://{local}", "b" * 32).storage_location == f"file://{local}"


@pytest.mark.parametrize(
    ("source", "run_id"),
    [
        ("file:///etc/", None),  # CVE-2023-1177
        ("file:///etc/", RUN_ID),
        ("file://./etc", None),  # CVE-2023-2780
        ("file://localhost/etc/passwd", None),
        ("//proc/self/root/etc", None),  # CVE-2023-6977
        ("/etc/passwd", None),  # CVE-2024-3573: no scheme
        ("../../../etc", None),  # CVE-2026-116690: schemeless relative
        ("etc/passwd", None),
        ("model", None),
        ("http:///?/../../../../etc/", None),  # CVE-2023-6909
        ("http:///#/../../../etc/", None),  # CVE-2024-2928 / CVE-2024-1483
        ("mlflow-artifacts:/1/x#/../../etc", None),  # CVE-2024-3848
        ("mlflow-artifacts:/1/x?/../../etc", None),
        ("mlflow-artifacts:/../../etc/passwd", None),  # CVE-2023-2356
        ("mlflow-artifacts:/1/%2e%2e/%2e%2e/etc", None),  # percent-encoded ..
        ("mlflow-artifacts:/1/%252e%252e%252fetc", None),  # double-encoded ../
        ("mlflow-artifacts:/1/%25252e%25252e/etc", None),  # triple-encoded ..
        ("s3://models/released/../secret", None),
        ("s3://models/released%2f..%2fsecret", None),
        ("mlflow-artifacts:/1\\..\\..\\etc", None),  # backslashes, CVE-2023-2780
        ("mlflow-artifacts:/1/x\x00.txt", None),  # NUL
        ("mlflow-artifacts:/1/x%00", None),
        ("mlflow-artifacts://attacker.example/1/x", None),  # proxy root with a foreign host
        ("http://attacker.example/api/2.0/mlflow-artifacts/artifacts/x", None),  # CVE-2023-6018 SSRF
        ("https://169.254.169.254/latest/meta-data", None),
        ("dbfs:/databricks/x", None),  # CVE-2024-8859: another scheme, no root
        ("s3://models/releasedx/y", None),  # prefix, not a segment boundary
        ("s3://other/released/y", None),
        (f"runs:/{RUN_ID}/../../etc", RUN_ID),
        (f"runs:/{RUN_ID}/%2e%2e/x", RUN_ID),
        (f"runs:/{RUN_ID}/model?x=1", RUN_ID),
        (f"{RUN_ROOT}/../../2/x", RUN_ID),
        ("C:/Windows/win.ini", None),
        ("", None),
    ],
)
def test_hostile_sources_are_refused(policy: SourcePolicy, source: str, run_id: str | None) -> None:
    with pytest.raises(InvalidParameter):
        policy.resolve(source, run_id)


def test_local_roots_match_on_segment_boundaries() -> None:
    assert is_under("/srv/a/b", "/srv/a")
    assert is_under("/srv/a", "/srv/a/")
    assert not is_under("/srv/ab", "/srv/a")
    assert is_under("file:///srv/a/b", "/srv/a")
    assert not is_under("file://host/srv/a/b", "/srv/a")
    assert is_under("mlflow-artifacts:/x", "mlflow-artifacts:/")
    assert not is_under("mlflow-artifacts://h/x", "mlflow-artifacts:/")
    assert is_under("S3://models/released/a", "s3://models/released")


_HOSTILE_CORES = st.sampled_from(
    [
        "..",
        "%2e%2e",
        "%2E%2E",
        "%252e%252e",
        "%25252e%25252e",
        ".%2e",
        "%2e.",
        "?",
        "#",
        "%3f",
        "%23",
        "%253f",
        "\\",
        "%5c",
        "%255c",
        "\x00",
        "%00",
        "%2500",
    ]
)
_PREFIXES = st.sampled_from(
    [
        "mlflow-artifacts:/",
        "mlflow-artifacts:/1/",
        "s3://models/released/",
        f"runs:/{RUN_ID}/",
        f"{RUN_ROOT}/",
        "models:/model/",
        "file:///",
        "/",
        "",
    ]
)
_SEGMENT = st.text(alphabet="abcxyz019_-", min_size=0, max_size=6)
_SEPARATOR = st.sampled_from(["/", "%2f", "%252f"])


@settings(max_examples=400, deadline=None)
@given(
    prefix=_PREFIXES,
    before=_SEGMENT,
    core=_HOSTILE_CORES,
    separator=_SEPARATOR,
    after=_SEGMENT,
    with_run=st.booleans(),
)
def test_generated_hostile_sources_are_refused(
    prefix: str, before: str, core: str, separator: str, after: str, with_run: bool
) -> None:
    policy = SourcePolicy(
        ("mlflow-artifacts:/", "s3://models/released"), _run_artifact_uri, _version_location
    )
    # `..` must stand as a segment of its own to traverse; the other cores are hostile anywhere.
    if core.replace("%25", "%").replace("%25", "%").lower() in ("..", "%2e%2e", ".%2e", "%2e."):
        source = f"{prefix}{before}/{core}{separator}{after}"
    else:
        source = f"{prefix}{before}{core}{after}"
    with pytest.raises(InvalidParameter):
        policy.resolve(source, RUN_ID if with_run else None)
