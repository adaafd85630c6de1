"""The benchmark scripts are not a package: their tests get them loaded from bench/ by path."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def bench() -> ModuleType:
    """bench/artifacts.py, the artifact transfer benchmark."""
    return _load("artifacts")


@pytest.fixture(scope="session")
def report() -> ModuleType:
    """bench/artifacts_report.py, which renders its figures."""
    return _load("artifacts_report")
