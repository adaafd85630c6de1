"""The embedded transport: the server's servicers in-process over SQLite, with the server's errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytrack._transport.base import RetryPolicy
from polytrack._transport.embedded import EmbeddedTransport
from polytrack.client import Client
from polytrack.errors import PolytrackException
from polytrack.v1 import tracking_service_pb2 as api


def test_default_artifact_root_is_under_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with EmbeddedTransport(f"sqlite:///{tmp_path / 'db.sqlite'}") as embedded:
        assert embedded.default_artifact_root == str(tmp_path / "polytrack-artifacts")
        created = embedded.call("CreateExperiment", api.CreateExperimentRequest(name="local"))
        assert isinstance(created, api.CreateExperimentResponse)
        response = embedded.call(
            "GetExperiment", api.GetExperimentRequest(experiment_id=created.experiment_id)
        )
        assert isinstance(response, api.GetExperimentResponse)
        expected = tmp_path / "polytrack-artifacts" / created.experiment_id
        assert response.experiment.artifact_location == str(expected)


def test_artifact_root_from_argument_or_environment(tmp_path: Path, monkeypatch) -> None:
    with EmbeddedTransport(
        f"sqlite:///{tmp_path / 'a.db'}", default_artifact_root="s3://bucket/root"
    ) as first:
        assert first.default_artifact_root == "s3://bucket/root"
    monkeypatch.setenv("POLYTRACK_DEFAULT_ARTIFACT_ROOT", "s3://bucket/from-env")
    with EmbeddedTransport(f"sqlite:///{tmp_path / 'b.db'}") as second:
        assert second.default_artifact_root == "s3://bucket/from-env"


def test_the_database_is_created_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "fresh.db"
    path.parent.mkdir()
    with Client(f"sqlite:///{path}") as client:
        assert client.get_experiment("0").name == "Default"
    assert path.exists()


def test_two_clients_share_one_database(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    with Client(uri) as writer, Client(uri) as reader:
        experiment_id = writer.create_experiment("shared")
        assert reader.get_experiment(experiment_id).name == "shared"


def test_server_errors_keep_their_code_and_status(tmp_path: Path) -> None:
    with EmbeddedTransport(f"sqlite:///{tmp_path / 'db.sqlite'}", retry=RetryPolicy.never()) as embedded:
        with pytest.raises(PolytrackException) as caught:
            embedded.call("CreateExperiment", api.CreateExperimentRequest(name=""))
        assert (caught.value.error_code, caught.value.http_status) == ("INVALID_PARAMETER_VALUE", 400)
        with pytest.raises(TypeError, match="GetRun takes a GetRunRequest"):
            embedded.call("GetRun", api.DeleteRunRequest(run_id="x"))


def test_an_unreachable_database_fails_with_a_clear_error() -> None:
    with pytest.raises(PolytrackException) as caught:
        EmbeddedTransport("postgresql://polytrack:s3cret@127.0.0.1:1/polytrack", retry=RetryPolicy.never())
    assert caught.value.error_code == "TEMPORARILY_UNAVAILABLE"
    assert "s3cret" not in str(caught.value)


def test_an_unsupported_driver_is_refused() -> None:
    with pytest.raises(PolytrackException) as caught:
        EmbeddedTransport("postgresql+asyncpg://u@127.0.0.1/db")
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "driver" in caught.value.message


def test_repr_names_the_database(tmp_path: Path) -> None:
    with EmbeddedTransport(f"sqlite:///{tmp_path / 'db.sqlite'}") as embedded:
        assert repr(embedded) == f"EmbeddedTransport('sqlite:///{tmp_path / 'db.sqlite'}')"
