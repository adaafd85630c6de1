"""`polytrack experiments ...` and `polytrack runs ...`, run through `polytrack.cli.main` against the
embedded store and the live server (REST and gRPC)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polytrack.cli import main
from polytrack.client import Client
from polytrack.entities import Metric, Param


@pytest.fixture(params=["embedded", "rest", "grpc"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "embedded":
        return f"sqlite:///{tmp_path / 'cli.db'}"
    value: str = request.getfixturevalue(f"{request.param}_uri")
    return value


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_experiment_commands(uri: str, unique, capsys) -> None:
    name = unique("cli-exp")
    status, out, err = run_cli(
        capsys, "experiments", "create", name, "--tag", "team=vision", "--tracking-uri", uri
    )
    assert (status, err) == (0, "")
    experiment_id = out.split()[2]
    assert out == f"Created experiment {experiment_id} ({name!r}).\n"

    status, out, _ = run_cli(
        capsys, "experiments", "list", "--filter", f"name = '{name}'", "--tracking-uri", uri
    )
    header, row = out.splitlines()
    assert header.split() == ["ID", "NAME", "STAGE", "CREATED", "ARTIFACT", "LOCATION"]
    assert row.split()[:3] == [experiment_id, name, "active"]

    status, out, _ = run_cli(capsys, "experiments", "describe", experiment_id, "--tracking-uri", uri)
    assert f"name:              {name}\n" in out and "tags:\n  team: vision\n" in out
    status, by_name, _ = run_cli(capsys, "experiments", "describe", "--name", name, "--tracking-uri", uri)
    assert by_name == out

    new_name = unique("cli-renamed")
    status, out, _ = run_cli(capsys, "experiments", "rename", experiment_id, new_name, "--tracking-uri", uri)
    assert out == f"Renamed experiment {experiment_id} to {new_name!r}.\n"

    assert run_cli(capsys, "experiments", "delete", experiment_id, "--tracking-uri", uri)[:2] == (
        0,
        f"Deleted experiment {experiment_id}.\n",
    )
    query = f"name = '{new_name}'"
    _, active, _ = run_cli(capsys, "experiments", "list", "--filter", query, "--tracking-uri", uri)
    assert active == "No experiments.\n"
    _, deleted, _ = run_cli(
        capsys, "experiments", "list", "--view", "deleted", "--filter", query, "--json", "--tracking-uri", uri
    )
    (listed,) = json.loads(deleted)["experiments"]
    assert listed["experiment_id"] == experiment_id and listed["lifecycle_stage"] == "deleted"
    assert listed["tags"] == [{"key": "team", "value": "vision"}]

    assert run_cli(capsys, "experiments", "restore", experiment_id, "--tracking-uri", uri)[:2] == (
        0,
        f"Restored experiment {experiment_id}.\n",
    )
    _, described, _ = run_cli(
        capsys, "experiments", "describe", experiment_id, "--json", "--tracking-uri", uri
    )
    assert json.loads(described)["experiment"]["lifecycle_stage"] == "active"


def test_experiments_create_json_and_list_limits(uri: str, unique, capsys) -> None:
    prefix = unique("cli-many")
    ids = []
    for index in range(3):
        _, out, _ = run_cli(
            capsys, "experiments", "create", f"{prefix}-{index}", "--json", "--tracking-uri", uri
        )
        ids.append(json.loads(out)["experiment_id"])
    _, out, _ = run_cli(
        capsys,
        "experiments", "list", "--filter", f"name LIKE '{prefix}-%'", "--order-by", "name DESC",
        "--max-results", "2", "--json", "--tracking-uri", uri,
    )  # fmt: skip
    assert [e["experiment_id"] for e in json.loads(out)["experiments"]] == [ids[2], ids[1]]


def test_run_commands(uri: str, unique, capsys) -> None:
    with Client(uri) as client:
        experiment_id = client.create_experiment(unique("cli-runs"))
        first = client.create_run(experiment_id, run_name="first", start_time=1_000)
        second = client.create_run(experiment_id, run_name="second", start_time=2_000)
        client.log_batch(
            first.info.run_id, metrics=[Metric("rmse", 0.5, 1_500, 3)], params=[Param("model", "gbm")]
        )
        client.log_metric(second.info.run_id, "rmse", 0.9, timestamp=2_500)
        client.set_terminated(first.info.run_id, end_time=61_000)
    first_id, second_id = first.info.run_id, second.info.run_id

    status, out, _ = run_cli(capsys, "runs", "list", "--experiment-id", experiment_id, "--tracking-uri", uri)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["RUN", "ID", "NAME", "STATUS", "STARTED", "DURATION"]
    assert [line.split()[:3] for line in lines[1:]] == [
        [second_id, "second", "RUNNING"],
        [first_id, "first", "FINISHED"],
    ]
    assert lines[2].split()[-1] == "1m00s"

    _, out, _ = run_cli(
        capsys,
        "runs", "list", "--experiment-id", experiment_id, "--filter", "metrics.rmse < 0.7",
        "--order-by", "metrics.rmse ASC", "--max-results", "5", "--json", "--tracking-uri", uri,
    )  # fmt: skip
    (run,) = json.loads(out)["runs"]
    assert run["info"]["run_id"] == first_id and run["info"]["status"] == "FINISHED"
    assert run["data"]["params"] == [{"key": "model", "value": "gbm"}]

    _, out, _ = run_cli(capsys, "runs", "describe", first_id, "--tracking-uri", uri)
    assert f"run_id:          {first_id}\n" in out
    assert "params:\n  model: gbm\n" in out
    assert "metrics:\n  rmse: 0.5 (step 3, " in out
    assert "tags:\n  mlflow.runName: first\n" in out

    assert run_cli(capsys, "runs", "delete", second_id, "--tracking-uri", uri)[:2] == (
        0,
        f"Deleted run {second_id}.\n",
    )
    _, out, _ = run_cli(
        capsys, "runs", "list", "--experiment-id", experiment_id, "--view", "deleted", "--tracking-uri", uri
    )
    assert out.splitlines()[0].split()[-1] == "STAGE"
    assert [line.split()[0] for line in out.splitlines()[1:]] == [second_id]
    assert out.splitlines()[1].split()[-1] == "deleted"
    assert run_cli(capsys, "runs", "restore", second_id, "--tracking-uri", uri)[:2] == (
        0,
        f"Restored run {second_id}.\n",
    )
    _, out, _ = run_cli(capsys, "runs", "describe", second_id, "--json", "--tracking-uri", uri)
    assert json.loads(out)["run"]["info"]["lifecycle_stage"] == "active"


def test_failures_are_one_line_with_the_error_code(uri: str, unique, capsys) -> None:
    status, out, err = run_cli(capsys, "runs", "describe", "0" * 32, "--tracking-uri", uri)
    assert (status, out) == (1, "")
    assert err.startswith("polytrack runs: error: RESOURCE_DOES_NOT_EXIST: ") and err.count("\n") == 1

    name = unique("cli-dup")
    run_cli(capsys, "experiments", "create", name, "--tracking-uri", uri)
    status, _, err = run_cli(capsys, "experiments", "create", name, "--tracking-uri", uri)
    assert status == 1 and err.startswith("polytrack experiments: error: RESOURCE_ALREADY_EXISTS: ")

    status, _, err = run_cli(
        capsys, "experiments", "describe", "--name", unique("absent"), "--tracking-uri", uri
    )
    assert status == 1 and err.startswith(
        "polytrack experiments: error: RESOURCE_DOES_NOT_EXIST: No experiment named"
    )


def test_tracking_uri_from_the_environment(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("POLYTRACK_TRACKING_URI", f"sqlite:///{tmp_path / 'env.db'}")
    status, out, _ = run_cli(capsys, "experiments", "list")
    assert status == 0 and out.splitlines()[1].split()[:2] == ["0", "Default"]
    assert (tmp_path / "env.db").exists()


def test_unreachable_server_is_one_line(free_port, capsys, monkeypatch) -> None:
    monkeypatch.setenv("POLYTRACK_HTTP_REQUEST_MAX_RETRIES", "0")
    status, _, err = run_cli(
        capsys, "experiments", "list", "--tracking-uri", f"http://127.0.0.1:{free_port()}"
    )
    assert status == 1 and err.startswith(
        "polytrack experiments: error: TEMPORARILY_UNAVAILABLE: Cannot reach"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["runs", "list"],
        ["experiments", "create", "x", "--tag", "no-equals-sign"],
        ["experiments", "list", "--max-results", "0"],
        ["experiments", "list", "--view", "archived"],
        ["experiments", "describe"],
        ["experiments", "describe", "1", "--name", "x"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err
