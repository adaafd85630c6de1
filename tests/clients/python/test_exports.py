"""The public surface of `polytrack`: `__all__` is complete and documented, and the fluent functions
have MLflow's names and parameters, so `import polytrack as mlflow` ports a script."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import types

import pytest

import polytrack
from polytrack import fluent

# The fluent functions the MLflow-style API must offer (MLflow's names).
MLFLOW_FLUENT_NAMES = [
    "active_run",
    "create_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush_async_logging",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "log_input",
    "log_inputs",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]


def public_members() -> list[str]:
    """Public attributes of the package that are not its submodules."""
    return [
        name
        for name in dir(polytrack)
        if not name.startswith("_") and not isinstance(getattr(polytrack, name), types.ModuleType)
    ]


def test_all_lists_exactly_the_public_members() -> None:
    assert sorted(polytrack.__all__) == sorted([*public_members(), "__version__"])
    assert len(set(polytrack.__all__)) == len(polytrack.__all__)


def test_every_exported_name_is_documented() -> None:
    undocumented = []
    for name in polytrack.__all__:
        member = getattr(polytrack, name)
        if name == "__version__":
            assert isinstance(member, str) and member
            continue
        if not inspect.getdoc(member):
            undocumented.append(name)
        if inspect.isclass(member) and member.__module__.startswith("polytrack"):
            for attribute, value in vars(member).items():
                if attribute.startswith("_") or not (
                    inspect.isfunction(value) or isinstance(value, property)
                ):
                    continue
                if not inspect.getdoc(value):
                    undocumented.append(f"{name}.{attribute}")
    assert undocumented == []


def test_every_fluent_function_is_exported() -> None:
    assert set(fluent.__all__) <= set(polytrack.__all__)
    missing = [name for name in MLFLOW_FLUENT_NAMES if not callable(getattr(polytrack, name, None))]
    assert missing == []
    for name in ("Client", "PolytrackException", "ActiveRun", "Run", "Experiment", "Metric", "Dataset"):
        assert inspect.isclass(getattr(polytrack, name))


@pytest.mark.mlflow
def test_parameters_match_mlflows_fluent_functions() -> None:
    """Our parameters are MLflow's, in MLflow's order (MLflow may have more, newer ones at the end)."""
    python = os.environ["POLYTRACK_TEST_MLFLOW_PYTHON"]
    script = (
        "import inspect, json, sys, mlflow\n"
        "names = json.loads(sys.argv[1])\n"
        "print(json.dumps({n: list(inspect.signature(getattr(mlflow, n)).parameters) for n in names}))\n"
    )
    completed = subprocess.run(
        [python, "-c", script, json.dumps(MLFLOW_FLUENT_NAMES)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    theirs: dict[str, list[str]] = json.loads(completed.stdout.strip().splitlines()[-1])
    for name in MLFLOW_FLUENT_NAMES:
        ours = list(inspect.signature(getattr(polytrack, name)).parameters)
        assert ours == theirs[name][: len(ours)], f"{name}: ours {ours}, MLflow's {theirs[name]}"
