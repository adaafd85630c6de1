"""RPC lookup, the retry classification of every RPC, and the retry policy's timing."""

from __future__ import annotations

import random

import pytest

from polytrack._transport.base import (
    DONE_WHEN_MISSING_ON_RETRY,
    KNOWN_SERVICES,
    RETRY_SAFE_WRITES,
    AttemptError,
    BaseTransport,
    RetryPolicy,
    Rpc,
    find_rpc,
)
from polytrack.errors import PolytrackException
from polytrack.v1 import artifacts_service_pb2 as artifacts_api
from polytrack.v1 import model_registry_service_pb2 as registry_api
from polytrack.v1 import tracking_service_pb2 as api

TRACKING = api.DESCRIPTOR.services_by_name["TrackingService"]
REGISTRY = registry_api.DESCRIPTOR.services_by_name["ModelRegistryService"]
ARTIFACTS = artifacts_api.DESCRIPTOR.services_by_name["ArtifactsService"]


def test_rpcs_are_found_by_bare_qualified_and_full_name() -> None:
    bare = find_rpc("LogBatch")
    assert find_rpc("TrackingService.LogBatch") is bare
    assert find_rpc("polytrack.v1.TrackingService.LogBatch") is bare
    assert bare.request_class is api.LogBatchRequest and bare.response_class is api.LogBatchResponse
    assert bare.service.full_name == "polytrack.v1.TrackingService"
    with pytest.raises(ValueError, match="Unknown RPC 'LogEverything'"):
        find_rpc("LogEverything")


def test_only_creations_are_unsafe_to_repeat() -> None:
    unsafe = {method.name for method in TRACKING.methods if not find_rpc(method.name).retry_safe}
    assert unsafe == {"CreateExperiment", "CreateRun"}
    known = {method.name for service in KNOWN_SERVICES for method in service.methods}
    assert known >= RETRY_SAFE_WRITES >= DONE_WHEN_MISSING_ON_RETRY


def test_registry_writes_that_could_duplicate_or_mislead_are_not_repeated() -> None:
    unsafe = {method.name for method in REGISTRY.methods if not find_rpc(method.name).retry_safe}
    assert unsafe == {"CreateRegisteredModel", "CreateModelVersion", "RenameRegisteredModel"}
    unsafe_artifacts = {m.name for m in ARTIFACTS.methods if not find_rpc(m.name).retry_safe}
    assert unsafe_artifacts == {"UploadArtifact", "DownloadArtifact"}  # streams: not sent by `call`


def test_a_deletion_missing_on_retry_was_done_by_the_lost_attempt() -> None:
    missing = AttemptError(
        PolytrackException("gone", "RESOURCE_DOES_NOT_EXIST", 404), transient=False, delivered=True
    )
    lost = FailingTransport([unavailable(delivered=True), missing])
    assert lost.call("DeleteModelVersion", registry_api.DeleteModelVersionRequest(name="m", version="1")) == (
        registry_api.DeleteModelVersionResponse()
    )
    assert lost.attempts == 2
    # Missing at the first attempt, or after an attempt that never reached the server: an error.
    for failures in ([missing], [unavailable(delivered=False), missing]):
        transport = FailingTransport(list(failures))
        with pytest.raises(PolytrackException, match="gone"):
            transport.call("DeleteRegisteredModel", registry_api.DeleteRegisteredModelRequest(name="m"))


def test_backoff_grows_with_jitter_and_stops_at_the_limits() -> None:
    random.seed(7)
    policy = RetryPolicy(max_attempts=6, initial_backoff=0.5, max_backoff=3.0, max_elapsed=100.0)
    for retry, ceiling in enumerate([0.5, 1.0, 2.0, 3.0, 3.0]):
        for _ in range(50):
            delay = policy.delay(retry, elapsed=0.0)
            assert delay is not None and ceiling / 2 <= delay <= ceiling
    assert policy.delay(5, elapsed=0.0) is None  # the sixth attempt was the last
    assert policy.delay(0, elapsed=99.9) is None  # no time left for the wait
    assert policy.delay(0, elapsed=0.0, retry_after=7.5) == 7.5
    assert RetryPolicy.never().delay(0, elapsed=0.0) is None


def test_retry_count_from_the_environment(monkeypatch) -> None:
    assert RetryPolicy.from_environment() == RetryPolicy()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    assert RetryPolicy.from_environment().max_attempts == 3
    monkeypatch.setenv("POLYTRACK_HTTP_REQUEST_MAX_RETRIES", "0")
    assert RetryPolicy.from_environment().max_attempts == 1
    monkeypatch.setenv("POLYTRACK_HTTP_REQUEST_MAX_RETRIES", "many")
    with pytest.raises(PolytrackException, match="whole number"):
        RetryPolicy.from_environment()


class FailingTransport(BaseTransport):
    """Fails each attempt with the next of `failures`, then answers an empty response."""

    def __init__(self, failures: list[AttemptError]) -> None:
        self.waits: list[float] = []
        super().__init__(RetryPolicy(max_attempts=5, initial_backoff=0.01, sleep=self.waits.append))
        self.failures = failures
        self.attempts = 0

    def _attempt(self, rpc: Rpc, request: object, timeout: float | None) -> object:  # type: ignore[override]
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        return rpc.response_class()

    def close(self) -> None:
        pass


def unavailable(*, delivered: bool, transient: bool = True) -> AttemptError:
    error = PolytrackException("busy", "TEMPORARILY_UNAVAILABLE", 503 if delivered else None)
    return AttemptError(error, transient=transient, delivered=delivered)


@pytest.mark.parametrize(
    ("rpc", "message", "failure", "attempts"),
    [
        ("GetRun", api.GetRunRequest(), unavailable(delivered=True), 2),
        ("LogBatch", api.LogBatchRequest(), unavailable(delivered=True), 2),
        ("CreateRun", api.CreateRunRequest(), unavailable(delivered=True), 1),
        ("CreateRun", api.CreateRunRequest(), unavailable(delivered=False), 2),
        ("GetRun", api.GetRunRequest(), unavailable(delivered=True, transient=False), 1),
    ],
)
def test_what_is_retried(rpc, message, failure, attempts) -> None:
    transport = FailingTransport([failure])
    if attempts == 1:
        with pytest.raises(PolytrackException) as caught:
            transport.call(rpc, message)
        assert caught.value.error_code == failure.error.error_code
        assert caught.value.http_status == failure.error.http_status
        assert caught.value.message.startswith(failure.error.message)
        if failure.transient:  # a possibly processed write that is not repeated says so
            assert "may have been processed; CreateRun is not retried" in caught.value.message
    else:
        assert transport.call(rpc, message) == find_rpc(rpc).response_class()
    assert transport.attempts == attempts
    assert len(transport.waits) == attempts - 1


def test_requests_of_the_wrong_type_are_refused_before_sending() -> None:
    transport = FailingTransport([])
    with pytest.raises(TypeError, match="CreateRun takes a CreateRunRequest, not a GetRunRequest"):
        transport.call("CreateRun", api.GetRunRequest())
    assert transport.attempts == 0
