"""Root-level fixtures shared by every test folder (folders add their own conftest.py beside their tests).

Services come from scripts/test, which starts them and exports:
- POLYTRACK_TEST_POSTGRES_URI: a PostgreSQL server (`postgres_uri`, marker `postgres`);
- POLYTRACK_TEST_MLFLOW_PYTHON: a Python with the official mlflow installed (marker `mlflow`);
- POLYTRACK_TEST_REQUIRE_SERVICES=1: a test that needs a missing service then fails instead of skipping,
  so that a full run cannot pass by skipping.
Run plain `pytest` without them and those tests are skipped.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import pytest

POSTGRES_ENV = "POLYTRACK_TEST_POSTGRES_URI"
MLFLOW_ENV = "POLYTRACK_TEST_MLFLOW_PYTHON"
# Marker name -> the environment variable that provides what tests with that marker need.
SERVICE_MARKERS = {"postgres": POSTGRES_ENV, "mlflow": MLFLOW_ENV}


def _require(variable: str) -> str:
    """The variable's value; without it, skip the test (or fail it when services are required)."""
    value = os.environ.get(variable, "")
    if value:
        return value
    message = f"{variable} is not set (scripts/test sets it)"
    if os.environ.get("POLYTRACK_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, variable in SERVICE_MARKERS.items():
        if item.get_closest_marker(marker) is not None:
            _require(variable)


@pytest.fixture(scope="session")
def postgres_uri() -> str:
    """URI of the test PostgreSQL server, e.g. postgresql://postgres@127.0.0.1:55433/postgres.

    The server is shared by every test and xdist worker: create uniquely named databases or schemas.
    """
    return _require(POSTGRES_ENV)


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """A function returning a TCP port on 127.0.0.1 that is free now (never the same one twice per worker)."""
    given: set[int] = set()

    def pick() -> int:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port: int = sock.getsockname()[1]
            if port not in given:
                given.add(port)
                return port
        raise RuntimeError("no free TCP port found on 127.0.0.1")

    return pick
