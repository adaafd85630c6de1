"""The official `mlflow` Python client, unchanged, against a live server.

The client lives in its own virtualenv ($POLYTRACK_TEST_MLFLOW_PYTHON): its protobuf pin conflicts
with polytrack's. `mlflow_scenarios.py` runs there, in ONE process for the whole session (importing
mlflow costs seconds), and reports each scenario's outcome as JSON; each scenario then becomes one
test here, so a failure names the scenario and shows the client-side traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from live_server import MLFLOW_PYTHON_ENV, ServerHandle, mlflow_python

pytestmark = [pytest.mark.e2e, pytest.mark.mlflow]

SCRIPT = Path(__file__).with_name("mlflow_scenarios.py")
RUN_TIMEOUT_SECONDS = 1800


def _scenario_names() -> list[str]:
    # `--list` does not import mlflow, so this interpreter can answer it at collection time.
    listed = subprocess.run(
        [sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True, timeout=120, check=False
    )
    if listed.returncode != 0:
        raise RuntimeError(f"{SCRIPT.name} --list failed ({listed.returncode}):\n{listed.stderr}")
    names = json.loads(listed.stdout)
    assert isinstance(names, list) and names, "mlflow_scenarios.py lists no scenarios"
    return names


SCENARIO_NAMES = _scenario_names()


def _selected_scenarios(session: pytest.Session) -> list[str]:
    """The scenarios whose tests were collected and selected (`-k`, node ids) in this session."""
    selected = []
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if item.module is not None and item.module.__name__ == __name__ and callspec is not None:
            name = callspec.params.get("scenario")
            if name in SCENARIO_NAMES and name not in selected:
                selected.append(name)
    return selected or list(SCENARIO_NAMES)


def _scrubbed_environment() -> dict[str, str]:
    # Our PYTHONPATH would put polytrack's protobuf in front of the venv's.
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(
        PYTHONUNBUFFERED="1", PYTHONNOUSERSITE="1", MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true"
    )
    # A tracking URI or experiment from the developer's shell must not leak into the scenarios.
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        env.pop(key, None)
    return env


@pytest.fixture(scope="session")
def scenario_results(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    python = mlflow_python()
    if python is None:
        pytest.skip(
            f"${MLFLOW_PYTHON_ENV} is not set: point it at the python of a virtualenv with mlflow installed"
        )
    if not Path(python).exists():
        pytest.fail(f"${MLFLOW_PYTHON_ENV}={python} does not exist", pytrace=False)
    # Only now start the server: without the client there is nothing to drive it with.
    live_server: ServerHandle = request.getfixturevalue("live_server")
    workdir = tmp_path_factory.mktemp("mlflow-client")
    output = workdir / "results.json"
    names = _selected_scenarios(request.session)
    command = [
        python,
        str(SCRIPT),
        "--tracking-uri",
        live_server.url,
        "--output",
        str(output),
        "--only",
        *names,
    ]
    try:
        finished = subprocess.run(
            command,
            cwd=workdir,
            env=_scrubbed_environment(),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        stderr = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else error.stderr
        pytest.fail(
            f"scenarios did not finish within {RUN_TIMEOUT_SECONDS} s\nclient stderr tail:\n"
            f"{(stderr or '')[-4000:]}\n{live_server.describe()}",
            pytrace=False,
        )
    (workdir / "client-stderr.log").write_text(finished.stderr, encoding="utf-8")
    if finished.returncode != 0 or not output.exists():
        pytest.fail(
            f"scenario runner exited with {finished.returncode}\n"
            f"client stderr tail:\n{finished.stderr[-4000:]}\n{live_server.describe()}",
            pytrace=False,
        )
    results: dict[str, dict[str, Any]] = json.loads(output.read_text(encoding="utf-8"))
    return results


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_mlflow_client_scenario(
    scenario: str, scenario_results: dict[str, dict[str, Any]], live_server: ServerHandle
) -> None:
    result = scenario_results.get(scenario)
    assert result is not None, (
        f"scenario {scenario!r} was not run (runner results: {sorted(scenario_results)})"
    )
    if result.get("skipped"):
        pytest.skip(f"{scenario}: {result['skipped']}")
    if not result["ok"]:
        pytest.fail(
            f"mlflow client scenario {scenario!r} failed against the {live_server.kind} server:\n"
            f"{result['error']}\n{live_server.describe(30)}",
            pytrace=False,
        )
