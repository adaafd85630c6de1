"""Running cases: plan which (case, transport, client) runs happen, run each, judge each step.

A run of a case gets a fresh `${unique}` and an empty set of captures, sends its steps in order
(RPC steps through the executor of its client and transport, HTTP steps with the runner's own
HTTP client), and stops at the first step whose answer does not match. Its result is then
classified against the implementation's known failures:

| outcome | not a known failure | a known failure |
|---|---|---|
| every step matched | passed | **stale** (fails the run: remove the entry) |
| a step did not match | **failed** | expected failure |

Runs needing a feature the implementation lacks are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from conformance.runner import http, statuses, values, wire
from conformance.runner.executors import ClientConfig, Executor, ExecutorError
from conformance.runner.implementations import Implementation
from conformance.runner.matchers import MISSING, match
from conformance.runner.schema import DEFAULT_SERVICE, GRPC, REST, LoadedCase

Status = Literal["passed", "failed", "xfail", "stale", "skipped"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "xfail", "stale", "skipped")


@dataclass(frozen=True)
class Target:
    """Where the server under test listens: REST base URL and/or gRPC host:port."""

    rest_url: str | None = None
    grpc_target: str | None = None

    def for_transport(self, transport: str) -> str | None:
        return self.rest_url if transport == REST else self.grpc_target


@dataclass
class StepFailure:
    """The step that did not match: what was sent, what was expected, what came back."""

    step: int
    label: str
    request: Any
    expected: Any
    actual: Any
    problems: list[str]


@dataclass
class CaseResult:
    """One run of one case on one transport through one client."""

    case: LoadedCase
    transport: str
    client: str
    status: Status
    failure: StepFailure | None = None
    reason: str = ""
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return self.case.name

    @property
    def is_bad(self) -> bool:
        """Failed, or a stale known failure: either makes the run fail."""
        return self.status in ("failed", "stale")


@dataclass(frozen=True)
class PlannedRun:
    case: LoadedCase
    transport: str
    client: ClientConfig


def plan(
    cases: list[LoadedCase],
    implementation: Implementation,
    target: Target,
    clients: list[ClientConfig],
    transports: tuple[str, ...] = (REST, GRPC),
) -> list[PlannedRun]:
    """Every (case, transport, client) run that applies, in case order."""
    runs: list[PlannedRun] = []
    for case in cases:
        if not implementation.runs(case):
            continue
        for transport in case.transports:
            if (
                transport not in transports
                or transport not in implementation.transports
                or target.for_transport(transport) is None
            ):
                continue
            for client in clients:
                if transport in client.transports:
                    runs.append(PlannedRun(case, transport, client))
    return runs


@dataclass
class _Outcome:
    """An answer, in the form expectations are judged against."""

    ok: bool
    body: Any = None  # response (wire form) or HTTP body
    error: dict[str, Any] = field(default_factory=dict)
    http_status: int | None = None
    headers: dict[str, str] | None = None
    is_json: bool = True
    grpc_status: str | None = None  # the canonical status name of a failed gRPC call

    def shown(self, headers: list[str] | None = None) -> dict[str, Any]:
        """The answer as shown in reports, with the named headers when given."""
        shown: dict[str, Any] = {}
        if self.http_status is not None:
            shown["http_status"] = self.http_status
        if self.grpc_status is not None:
            shown["grpc_status"] = self.grpc_status
        if headers and self.headers is not None:
            shown["headers"] = {name: self.headers.get(name) for name in headers}
        if self.ok:
            shown["response"] = self.body
        else:
            shown["error"] = self.error if self.error else self.body
        return shown


class Runner:
    """Runs planned case runs against one server, owning the executors and the HTTP client."""

    def __init__(self, implementation: Implementation, target: Target, workdir: Path) -> None:
        self.implementation = implementation
        self.target = target
        self.workdir = workdir
        self._executors: dict[tuple[str, str], Executor] = {}
        self._http: httpx.Client | None = None

    # --- resources -------------------------------------------------------------------------------
    def _executor(self, client: ClientConfig, transport: str) -> Executor:
        key = (client.name, transport)
        executor = self._executors.get(key)
        if executor is None:
            address = self.target.for_transport(transport)
            assert address is not None
            log = self.workdir / f"executor-{client.name}-{transport.lower()}.log"
            executor = self._executors[key] = Executor(client, transport, address, log)
        return executor

    def _http_client(self) -> httpx.Client:
        if self._http is None:
            assert self.target.rest_url is not None
            self._http = http.new_client(self.target.rest_url)
        return self._http

    def close(self) -> None:
        for executor in self._executors.values():
            executor.close()
        self._executors.clear()
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- running ---------------------------------------------------------------------------------
    def run_all(self, runs: list[PlannedRun]) -> Iterator[CaseResult]:
        for planned in runs:
            yield self.run(planned)

    def run(self, planned: PlannedRun) -> CaseResult:
        case, transport, client = planned.case, planned.transport, planned.client
        missing = sorted(set(case.features) - self.implementation.features)
        if missing:
            return CaseResult(
                case, transport, client.name, "skipped", reason=f"needs feature(s) {', '.join(missing)}"
            )
        started = time.monotonic()
        failure = self._run_steps(case, transport, client)
        seconds = time.monotonic() - started
        known = self.implementation.known_failure(case.name, transport, client.name)
        if known is None:
            status: Status = "failed" if failure else "passed"
            return CaseResult(case, transport, client.name, status, failure, seconds=seconds)
        if failure is None:
            reason = f"listed as a known failure ({known.reason}) but passed: remove it from the list"
            return CaseResult(case, transport, client.name, "stale", None, reason, seconds)
        return CaseResult(case, transport, client.name, "xfail", failure, known.reason, seconds)

    def _run_steps(self, case: LoadedCase, transport: str, client: ClientConfig) -> StepFailure | None:
        variables: dict[str, Any] = {"unique": uuid.uuid4().hex[:12]}
        for index, step in enumerate(case.steps, start=1):
            kind = step.WhichOneof("action")
            label = step.label or (
                step.rpc.method if kind == "rpc" else f"{step.http.method} {step.http.path}"
            )
            request: Any = None
            try:
                if kind == "rpc":
                    request = values.prepare(values.from_proto_struct(step.rpc.request), variables)
                    outcome = self._call_rpc(step.rpc, request, transport, client)
                else:
                    prepared = self._prepare_http(step.http, variables)
                    request = prepared.describe()
                    outcome = self._call_http(prepared)
            except (values.TemplateError, wire.WireError, ExecutorError, httpx.HTTPError) as error:
                return StepFailure(index, label, request, _expected_shown(step.expect), None, [str(error)])
            problems = self._capture(step, outcome, variables)
            try:
                problems = _judge(step.expect, outcome, variables, kind == "http", transport) + problems
            except values.TemplateError as error:
                problems = [str(error)]
            if problems:
                expected = _expected_shown(step.expect, variables, transport)
                shown = outcome.shown(sorted(step.expect.headers))
                return StepFailure(index, label, request, expected, shown, problems)
        return None

    def _call_rpc(self, call: Any, request: dict[str, Any], transport: str, client: ClientConfig) -> _Outcome:
        service = call.service or DEFAULT_SERVICE
        method = wire.find_method(service, call.method)
        wire.check_request(method, request)
        answer = self._executor(client, transport).call(
            {"kind": "rpc", "service": service, "method": call.method, "request": request}
        )
        if "failure" in answer:
            raise ExecutorError(f"the executor could not make the call: {answer['failure']}")
        if "error" in answer:
            error = answer["error"]
            if not isinstance(error, dict) or not isinstance(error.get("error_code"), str):
                raise ExecutorError(f"the executor's error has no error_code: {error!r}")
            status = error.get("http_status")
            grpc_status = error.get("grpc_status")
            return _Outcome(
                False,
                error=error,
                http_status=status if isinstance(status, int) else None,
                grpc_status=grpc_status if isinstance(grpc_status, str) else None,
            )
        return _Outcome(True, body=wire.normalize_response(method, answer["response"]), http_status=200)

    @staticmethod
    def _prepare_http(call: Any, variables: dict[str, Any]) -> http.HttpRequest:
        def text(value: str) -> str:
            substituted = values.substitute(value, variables)
            return substituted if isinstance(substituted, str) else values.as_text(substituted)

        body_kind = call.WhichOneof("body")
        json_body = (
            values.prepare(values.from_proto_value(call.json), variables) if body_kind == "json" else None
        )
        return http.prepare(
            call.method,
            text(call.path),
            [(text(q.name), text(q.value)) for q in call.query],
            {name: text(value) for name, value in call.headers.items()},
            json_body=json_body,
            raw_body=text(call.raw) if body_kind == "raw" else None,
            has_json=body_kind == "json",
        )

    def _call_http(self, request: http.HttpRequest) -> _Outcome:
        answer = http.send(self._http_client(), request)
        ok = 200 <= answer.status < 300
        error: dict[str, Any] = {}
        if not ok and answer.is_json and isinstance(answer.body, dict):
            error = answer.body
        return _Outcome(ok, answer.body, error, answer.status, answer.headers, answer.is_json)

    @staticmethod
    def _capture(step: Any, outcome: _Outcome, variables: dict[str, Any]) -> list[str]:
        problems: list[str] = []
        if not step.captures or not outcome.ok:
            return problems
        for capture in step.captures:
            try:
                variables[capture.name] = values.resolve(outcome.body, capture.path)
            except values.TemplateError as error:
                problems.append(f"capture {capture.name}: {error}")
        return problems


def _expected_http_status(expect: Any) -> int | None:
    """The HTTP status the answer must have: the stated one, else the one the error code maps to."""
    if expect.HasField("http_status"):
        status: int = expect.http_status
        return status
    if expect.WhichOneof("outcome") == "error" and expect.error.error_code:
        return statuses.expected_http_status(expect.error.error_code)
    return None


def _expected_grpc_status(expect: Any) -> str | None:
    """The canonical gRPC status a failed call must have: the stated one, else the error code's."""
    if expect.WhichOneof("outcome") != "error":
        return None
    if expect.error.grpc_status:
        stated: str = expect.error.grpc_status
        return stated
    return statuses.expected_grpc_status(expect.error.error_code) if expect.error.error_code else None


def _expected_shown(
    expect: Any, variables: dict[str, Any] | None = None, transport: str = REST
) -> dict[str, Any]:
    """The expectation as shown in reports (substituted when the variables are known)."""
    shown: dict[str, Any] = {}
    outcome = expect.WhichOneof("outcome")
    if outcome == "response_subset":
        expected = values.from_proto_value(expect.response_subset)
        if variables is not None:
            with contextlib.suppress(values.TemplateError):
                expected = values.prepare(expected, variables)
        shown["response"] = expected
    elif outcome == "error":
        shown["error"] = {"error_code": expect.error.error_code or "<any>"}
        if expect.error.message_regex:
            shown["error"]["message"] = f"/{expect.error.message_regex}/"
    else:
        shown["response"] = "<any success>"
    http_status = _expected_http_status(expect)
    if http_status is not None:
        shown["http_status"] = http_status
    grpc_status = _expected_grpc_status(expect)
    if transport == GRPC and grpc_status is not None:
        shown["grpc_status"] = grpc_status
    if expect.headers:
        shown["headers"] = {name: values.from_proto_value(v) for name, v in expect.headers.items()}
    return shown


def _judge(
    expect: Any, outcome: _Outcome, variables: dict[str, Any], is_http: bool, transport: str = REST
) -> list[str]:
    """The ways `outcome` differs from `expect`.

    An error's HTTP status is checked on every transport (gRPC carries it in the ErrorInfo), its
    canonical gRPC status on gRPC; either comes from the error code when the case does not state it.
    """
    problems: list[str] = []
    wanted = expect.WhichOneof("outcome")
    if wanted == "error":
        if outcome.ok:
            problems.append(
                f"expected an error {expect.error.error_code or ''}, the call succeeded".replace("  ", " ")
            )
        else:
            code = outcome.error.get("error_code")
            if expect.error.error_code and code != expect.error.error_code:
                if is_http and not outcome.is_json:
                    problems.append(
                        f"expected error_code {expect.error.error_code}, the error body is not JSON"
                    )
                else:
                    problems.append(f"expected error_code {expect.error.error_code}, got {code}")
            grpc_status = _expected_grpc_status(expect)
            if transport == GRPC and not is_http and grpc_status is not None:
                if outcome.grpc_status is None:
                    problems.append(
                        f"expected gRPC status {grpc_status}, the executor reported no grpc_status"
                    )
                elif outcome.grpc_status != grpc_status:
                    problems.append(f"expected gRPC status {grpc_status}, got {outcome.grpc_status}")
            if expect.error.message_regex:
                message = outcome.error.get("message")
                if not isinstance(message, str) or not re.search(expect.error.message_regex, message):
                    problems.append(
                        f"expected an error message matching /{expect.error.message_regex}/, got {message!r}"
                    )
    else:
        if not outcome.ok:
            code = outcome.error.get("error_code") if outcome.error else None
            got = f"error {code}" if code else f"HTTP {outcome.http_status}"
            problems.append(f"expected success, got {got}")
        elif wanted == "response_subset":
            # A body that is not JSON (e.g. /health's "OK") is matched as one string.
            expected = values.prepare(values.from_proto_value(expect.response_subset), variables)
            problems += match(expected, outcome.body)
    http_status = _expected_http_status(expect)
    if http_status is not None and outcome.http_status != http_status:
        problems.append(f"expected HTTP status {http_status}, got {outcome.http_status}")
    for name, raw in expect.headers.items():
        headers = outcome.headers or {}
        expected_header = values.prepare(values.from_proto_value(raw), variables)
        problems += match(expected_header, headers.get(name, MISSING), f"header {name}")
    return problems
