"""Fixtures for the end-to-end tests: one live server per session, over real sockets.

`live_server` is a polytrack server by default. Set POLYTRACK_TEST_E2E_SERVER=mlflow (with
POLYTRACK_TEST_MLFLOW_PYTHON pointing at a Python that has `mlflow`) to run the same tests against
the real MLflow server instead, which is how the scenarios are checked to describe MLflow's
behaviour and not just polytrack's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from live_server import MLFLOW_PYTHON_ENV, ServerHandle, ServerKind, mlflow_python, start_server

SERVER_KIND_ENV = "POLYTRACK_TEST_E2E_SERVER"


@pytest.fixture(scope="session")
def server_kind() -> ServerKind:
    kind = os.environ.get(SERVER_KIND_ENV, "polytrack").strip() or "polytrack"
    if kind not in ("polytrack", "mlflow"):
        raise pytest.UsageError(f"${SERVER_KIND_ENV} must be 'polytrack' or 'mlflow', got {kind!r}")
    if kind == "mlflow" and mlflow_python() is None:
        pytest.skip(f"${SERVER_KIND_ENV}=mlflow needs ${MLFLOW_PYTHON_ENV}")
    return kind  # type: ignore[return-value]


@pytest.fixture(scope="session")
def live_server(server_kind: ServerKind, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """A server shared by the whole session (tests isolate themselves with unique names)."""
    handle = start_server(server_kind, tmp_path_factory.mktemp(f"live-{server_kind}"))
    try:
        yield handle
    finally:
        handle.stop()
