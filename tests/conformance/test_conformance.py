"""The conformance suite against a spawned polytrack: one test per case and transport.

One polytrack server per test session (per xdist worker) over a fresh SQLite database; every
case runs on REST and on gRPC through the Python executors, exactly as `polytrack conformance
--spawn` runs it. A failure prints the runner's report: the step, its request, the expected and
the actual answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.runner import executors, implementations, report, servers
from conformance.runner.engine import PlannedRun, Runner, Target, plan
from conformance.runner.schema import ALL_TRANSPORTS, load_cases

pytestmark = [pytest.mark.e2e, pytest.mark.conformance]

IMPLEMENTATION = implementations.load("polytrack")
PYTHON = executors.load_client("python")
# Every planned run, computed at collection time; the addresses are placeholders for planning.
PLANNED = plan(load_cases(), IMPLEMENTATION, Target("http://planned", "planned"), [PYTHON], ALL_TRANSPORTS)


@pytest.fixture(scope="session")
def conformance_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    workdir = tmp_path_factory.mktemp("conformance")
    server = servers.spawn_polytrack(workdir / "server")
    try:
        with Runner(IMPLEMENTATION, Target(server.url, server.grpc_target), Path(workdir)) as runner:
            yield runner
    finally:
        server.stop()


@pytest.mark.parametrize("planned", PLANNED, ids=[f"{p.case.name}[{p.transport}]" for p in PLANNED])
def test_case(conformance_runner: Runner, planned: PlannedRun) -> None:
    result = conformance_runner.run(planned)
    if result.status == "skipped":
        pytest.skip(result.reason)
    if result.status == "xfail":
        pytest.xfail(result.reason)
    if result.status != "passed":
        pytest.fail(report.details(result), pytrace=False)
