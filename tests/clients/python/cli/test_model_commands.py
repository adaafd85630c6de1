"""`polytrack models ...`, run through `polytrack.cli.main` against the embedded store and the live
server (REST and gRPC)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polytrack.cli import main
from polytrack.client import Client


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


@pytest.fixture
def model(uri: str, unique) -> str:
    name = unique("cli-model")
    with Client(uri) as client:
        run = client.create_run(client.create_experiment(name))
        client.create_registered_model(name, tags={"team": "growth"}, description="Churn model\nsecond line")
        for _ in range(2):
            client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    return name


def test_list_and_describe(uri: str, model: str, capsys) -> None:
    status, out, err = run_cli(
        capsys, "models", "list", "--filter", f"name = '{model}'", "--tracking-uri", uri
    )
    assert (status, err) == (0, "")
    header, row = out.splitlines()
    assert header.split() == ["NAME", "LATEST", "ALIASES", "UPDATED", "DESCRIPTION"]
    assert row.split()[:3] == [model, "2", "-"] and row.endswith("Churn model")

    status, out, _ = run_cli(capsys, "models", "describe", model, "--tracking-uri", uri)
    assert (
        f"name:        {model}\n" in out and "  None: 2 (runs:/" in out and "tags:\n  team: growth\n" in out
    )

    status, out, _ = run_cli(capsys, "models", "describe", model, "--json", "--tracking-uri", uri)
    body = json.loads(out)["registered_model"]
    assert body["name"] == model and body["tags"] == [{"key": "team", "value": "growth"}]


def test_versions_and_aliases(uri: str, model: str, capsys) -> None:
    status, out, _ = run_cli(capsys, "models", "versions", model, "--tracking-uri", uri)
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "STAGE", "STATUS", "CREATED", "RUN", "SOURCE"]
    assert [line.split()[1] for line in lines[1:]] == ["2", "1"]

    status, out, err = run_cli(capsys, "models", "set-alias", model, "champion", "1", "--tracking-uri", uri)
    assert (status, err) == (0, "") and "now points to version 1" in out
    status, out, _ = run_cli(
        capsys, "models", "list", "--filter", f"name = '{model}'", "--json", "--tracking-uri", uri
    )
    assert json.loads(out)["registered_models"][0]["aliases"] == [{"alias": "champion", "version": "1"}]
    status, out, _ = run_cli(capsys, "models", "delete-alias", model, "champion", "--tracking-uri", uri)
    assert status == 0

    status, out, err = run_cli(capsys, "models", "set-alias", model, "latest", "1", "--tracking-uri", uri)
    assert status == 1 and "INVALID_PARAMETER_VALUE" in err

    status, out, _ = run_cli(
        capsys, "models", "versions", model, "--max-results", "1", "--json", "--tracking-uri", uri
    )
    assert [v["version"] for v in json.loads(out)["model_versions"]] == ["2"]


def test_delete_version_then_model(uri: str, model: str, capsys) -> None:
    status, out, _ = run_cli(capsys, "models", "delete", model, "--version", "2", "--tracking-uri", uri)
    assert status == 0 and out == f"Deleted version 2 of {model!r}.\n"
    status, out, _ = run_cli(capsys, "models", "versions", model, "--json", "--tracking-uri", uri)
    assert [v["version"] for v in json.loads(out)["model_versions"]] == ["1"]
    status, out, _ = run_cli(capsys, "models", "delete", model, "--tracking-uri", uri)
    assert status == 0
    status, out, err = run_cli(capsys, "models", "describe", model, "--tracking-uri", uri)
    assert status == 1 and "RESOURCE_DOES_NOT_EXIST" in err
    status, out, _ = run_cli(capsys, "models", "list", "--filter", f"name = '{model}'", "--tracking-uri", uri)
    assert out == "No registered models.\n"
