"""The registry methods of polytrack.Client, `register_model` and `models:/` URIs, on every transport
(REST and gRPC to a live server, and the embedded store)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from polytrack._registry_fluent import parse_model_uri, register_model, resolve_model_uri
from polytrack.client import Client
from polytrack.errors import PolytrackException


def _run(client: Client, unique: Callable[[str], str]) -> tuple[str, str]:
    experiment_id = client.create_experiment(unique("registry"))
    run = client.create_run(experiment_id)
    return run.info.run_id, run.info.artifact_uri


def _code(call: Callable[[], object]) -> str:
    with pytest.raises(PolytrackException) as caught:
        call()
    return caught.value.error_code


def test_registered_model_lifecycle(client: Client, unique: Callable[[str], str]) -> None:
    name = unique("model")
    created = client.create_registered_model(name, tags={"team": "growth"}, description="churn")
    assert created.name == name and created.tags == {"team": "growth"} and created.description == "churn"
    assert _code(lambda: client.create_registered_model(name)) == "RESOURCE_ALREADY_EXISTS"
    assert client.update_registered_model(name, "better").description == "better"
    client.set_registered_model_tag(name, "stage", 1)
    client.delete_registered_model_tag(name, "team")
    client.delete_registered_model_tag(name, "never-set")
    assert client.get_registered_model(name).tags == {"stage": "1"}
    renamed = client.rename_registered_model(name, name + "-v2")
    assert renamed.name == name + "-v2"
    assert _code(lambda: client.get_registered_model(name)) == "RESOURCE_DOES_NOT_EXIST"
    client.delete_registered_model(name + "-v2")
    assert _code(lambda: client.get_registered_model(name + "-v2")) == "RESOURCE_DOES_NOT_EXIST"


def test_versions_aliases_and_stages(client: Client, unique: Callable[[str], str]) -> None:
    name = unique("model")
    run_id, artifact_uri = _run(client, unique)
    client.create_registered_model(name)
    first = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id, tags={"k": "v"})
    second = client.create_model_version(name, f"runs:/{run_id}/model2", run_id=run_id, description="d")
    assert (first.version, second.version) == ("1", "2")
    assert first.status == "READY" and first.current_stage == "None" and first.tags == {"k": "v"}
    assert client.get_model_version_download_uri(name, 1) == f"{artifact_uri}/model"
    client.set_registered_model_alias(name, "champion", 1)
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    assert client.get_model_version(name, "1").aliases == ["champion"]
    assert client.get_model_version_by_alias(name, "latest").version == "2"
    assert client.get_registered_model(name).aliases == {"champion": "1"}
    assert _code(lambda: client.get_model_version_by_alias(name, "missing")) == "INVALID_PARAMETER_VALUE"
    assert _code(lambda: client.set_registered_model_alias(name, "v3", 1)) == "INVALID_PARAMETER_VALUE"
    moved = client.transition_model_version_stage(name, 2, "production")
    assert moved.current_stage == "Production"
    assert [v.version for v in client.get_latest_versions(name, ["Production"])] == ["2"]
    assert client.update_model_version(name, 2, "new").description == "new"
    client.set_model_version_tag(name, 2, "validated", True)
    found = client.search_model_versions(f"name = '{name}' AND tags.validated = 'True'")
    assert [v.version for v in found] == ["2"]
    client.delete_registered_model_alias(name, "champion")
    client.delete_model_version(name, 1)
    assert _code(lambda: client.get_model_version(name, 1)) == "RESOURCE_DOES_NOT_EXIST"
    third = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    assert third.version == "3"
    assert _code(lambda: client.get_model_version(name, "one")) == "INVALID_PARAMETER_VALUE"


def test_hostile_sources_are_refused(client: Client, unique: Callable[[str], str]) -> None:
    name = unique("model")
    run_id, _ = _run(client, unique)
    client.create_registered_model(name)
    for source in ("file:///etc/", "//proc/self/root", "../../etc", "mlflow-artifacts:/%252e%252e/x"):
        refused = _code(
            lambda source=source: client.create_model_version(
                name, source, run_id=run_id, tags={"mlflow.prompt.is_prompt": "true"}
            )
        )
        assert refused == "INVALID_PARAMETER_VALUE", source
    assert not client.search_model_versions(f"name = '{name}' AND tags.`mlflow.prompt.is_prompt` = 'true'")


def test_search_registered_models_pages(client: Client, unique: Callable[[str], str]) -> None:
    prefix = unique("paged")
    for index in range(3):
        client.create_registered_model(f"{prefix}-{index}")
    first = client.search_registered_models(f"name LIKE '{prefix}-%'", max_results=2)
    assert [m.name for m in first] == [f"{prefix}-0", f"{prefix}-1"] and first.token
    rest = client.search_registered_models(f"name LIKE '{prefix}-%'", max_results=2, page_token=first.token)
    assert [m.name for m in rest] == [f"{prefix}-2"] and rest.token is None
    assert [m.name for m in client.iter_registered_models(f"name LIKE '{prefix}-%'")] == [
        f"{prefix}-{index}" for index in range(3)
    ]


def test_register_model_and_resolve_model_uris(client: Client, unique: Callable[[str], str]) -> None:
    name = unique("fluent")
    run_id, artifact_uri = _run(client, unique)
    version = register_model(f"runs:/{run_id}/model", name, tags={"t": "1"}, client=client)
    assert version.version == "1" and version.run_id == run_id and version.tags == {"t": "1"}
    again = register_model(f"runs:/{run_id}/model", name, client=client)
    assert again.version == "2"
    client.set_registered_model_alias(name, "prod", 1)
    client.transition_model_version_stage(name, 2, "Staging")
    assert resolve_model_uri(f"models:/{name}/1", client) == f"{artifact_uri}/model"
    assert resolve_model_uri(f"models:/{name}@prod", client) == f"{artifact_uri}/model"
    assert resolve_model_uri(f"models:/{name}/staging", client) == f"{artifact_uri}/model"
    assert resolve_model_uri(f"models:/{name}/latest", client) == f"{artifact_uri}/model"
    copied = register_model(f"models:/{name}@prod", name + "-copy", client=client)
    assert copied.source == f"models:/{name}/1"
    assert client.get_model_version_download_uri(name + "-copy", 1) == f"{artifact_uri}/model"
    with pytest.raises(PolytrackException):
        resolve_model_uri(f"models:/{name}/Production", client)


def test_parse_model_uri() -> None:
    assert parse_model_uri("models:/m/3").version == "3"
    assert parse_model_uri("models:/m@champion").alias == "champion"
    assert parse_model_uri("models:/m/PRODUCTION").stage == "Production"
    assert parse_model_uri("models:/m/latest").latest
    for bad in ("models:/m", "models:/m/x/y", "runs:/abc/m", "models:/m/nope"):
        with pytest.raises(PolytrackException):
            parse_model_uri(bad)
