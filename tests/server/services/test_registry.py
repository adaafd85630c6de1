"""ModelRegistryServicer over real SQLite stores: request rules, sources, stages, aliases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from polytrack.v1 import model_registry_pb2 as rpb
from polytrack.v1 import model_registry_service_pb2 as api
from polytrack.v1 import tracking_service_pb2 as tapi
from polytrack_server.app import REGISTRY_SERVICE, TRACKING_SERVICE, build_services
from polytrack_server.config import ServerConfig
from polytrack_server.errors import AlreadyExists, InvalidParameter, NotFound
from polytrack_server.services.registry import ModelRegistryServicer
from polytrack_server.services.tracking import TrackingServicer
from polytrack_server.store.engine import create_engine_for
from polytrack_server.store.migrations import upgrade_database

PROMPT_TAG = "mlflow.prompt.is_prompt"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[ModelRegistryServicer, TrackingServicer]]:
    uri = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = create_engine_for(uri)
    upgrade_database(engine)
    config = ServerConfig(
        backend_store_uri=uri,
        artifacts_destination=str(tmp_path / "artifacts"),
        model_source_roots=("s3://models/released",),
    )
    built = build_services(config, engine)
    yield built[REGISTRY_SERVICE], built[TRACKING_SERVICE]
    engine.dispose()


@pytest.fixture
def registry(services: tuple[ModelRegistryServicer, TrackingServicer]) -> ModelRegistryServicer:
    return services[0]


@pytest.fixture
def run_id(services: tuple[ModelRegistryServicer, TrackingServicer]) -> str:
    tracking = services[1]
    experiment_id = tracking.create_experiment(tapi.CreateExperimentRequest(name="exp")).experiment_id
    return tracking.create_run(tapi.CreateRunRequest(experiment_id=experiment_id)).run.info.run_id


def _model(registry: ModelRegistryServicer, name: str = "model") -> rpb.RegisteredModel:
    return registry.create_registered_model(api.CreateRegisteredModelRequest(name=name)).registered_model


def _version(
    registry: ModelRegistryServicer, run_id: str, name: str = "model", **fields: object
) -> rpb.ModelVersion:
    request = api.CreateModelVersionRequest(
        name=name, source=f"runs:/{run_id}/model", run_id=run_id, **fields
    )
    return registry.create_model_version(request).model_version


@pytest.mark.parametrize("name", ["", "   ", "a/b", "a:b", "..", "x" * 257])
def test_invalid_model_names(registry: ModelRegistryServicer, name: str) -> None:
    with pytest.raises(InvalidParameter):
        registry.create_registered_model(api.CreateRegisteredModelRequest(name=name))


def test_create_get_update_rename_delete(registry: ModelRegistryServicer) -> None:
    created = registry.create_registered_model(
        api.CreateRegisteredModelRequest(
            name="model", description="d", tags=[rpb.RegisteredModelTag(key="k", value="v")]
        )
    ).registered_model
    assert created.description == "d" and created.tags[0].key == "k"
    with pytest.raises(AlreadyExists):
        _model(registry)
    updated = registry.update_registered_model(
        api.UpdateRegisteredModelRequest(name="model", description="e")
    )
    assert updated.registered_model.description == "e"
    renamed = registry.rename_registered_model(
        api.RenameRegisteredModelRequest(name="model", new_name="other")
    )
    assert renamed.registered_model.name == "other"
    with pytest.raises(InvalidParameter):
        registry.rename_registered_model(api.RenameRegisteredModelRequest(name="other", new_name="a/b"))
    registry.delete_registered_model(api.DeleteRegisteredModelRequest(name="other"))
    with pytest.raises(NotFound):
        registry.get_registered_model(api.GetRegisteredModelRequest(name="other"))


def test_create_version_from_a_run(registry: ModelRegistryServicer, run_id: str) -> None:
    _model(registry)
    version = _version(registry, run_id, description="first", run_link="http://ui/run")
    assert (version.version, version.status, version.current_stage) == ("1", rpb.READY, "None")
    assert version.source == f"runs:/{run_id}/model" and version.run_id == run_id
    uri = registry.get_model_version_download_uri(
        api.GetModelVersionDownloadUriRequest(name="model", version="1")
    )
    assert uri.artifact_uri == f"mlflow-artifacts:/1/{run_id}/artifacts/model"
    copy = registry.create_model_version(
        api.CreateModelVersionRequest(name="model", source="models:/model/1")
    )
    uri = registry.get_model_version_download_uri(
        api.GetModelVersionDownloadUriRequest(name="model", version="2")
    )
    assert copy.model_version.run_id == "" and uri.artifact_uri.endswith(f"{run_id}/artifacts/model")


def test_create_version_checks_model_then_source(registry: ModelRegistryServicer, run_id: str) -> None:
    with pytest.raises(NotFound):
        _version(registry, run_id, name="missing")
    _model(registry)
    with pytest.raises(NotFound):
        registry.create_model_version(
            api.CreateModelVersionRequest(name="model", source=f"runs:/{'f' * 32}/m")
        )
    with pytest.raises(InvalidParameter, match="source"):
        registry.create_model_version(api.CreateModelVersionRequest(name="model"))
    accepted = registry.create_model_version(
        api.CreateModelVersionRequest(name="model", source="s3://models/released/churn")
    )
    assert accepted.model_version.source == "s3://models/released/churn"


@pytest.mark.parametrize("source", ["file:///etc/", "../../../etc", "//proc/self/root", "/etc/passwd"])
def test_prompt_tag_does_not_skip_source_validation(
    registry: ModelRegistryServicer, run_id: str, source: str
) -> None:
    """CVE-2026-2614 / CVE-2026-116690: a prompt-tagged version is validated like any other."""
    _model(registry)
    request = api.CreateModelVersionRequest(
        name="model", source=source, run_id=run_id, tags=[rpb.ModelVersionTag(key=PROMPT_TAG, value="true")]
    )
    with pytest.raises(InvalidParameter):
        registry.create_model_version(request)
    versions = registry.search_model_versions(
        api.SearchModelVersionsRequest(filter=f"tags.`{PROMPT_TAG}` = 'true'")
    )
    assert not versions.model_versions


@pytest.mark.parametrize("version", ["", "abc", "1.5", "-1", "0x1"])
def test_version_must_be_an_integer(registry: ModelRegistryServicer, version: str) -> None:
    _model(registry)
    with pytest.raises(InvalidParameter):
        registry.get_model_version(api.GetModelVersionRequest(name="model", version=version))


def test_unknown_huge_version_is_not_found(registry: ModelRegistryServicer) -> None:
    _model(registry)
    with pytest.raises(NotFound):
        registry.get_model_version(api.GetModelVersionRequest(name="model", version=str(2**63)))


@pytest.mark.parametrize("alias", ["latest", "LATEST", "v1", "V12", "bad alias", "a/b", "x" * 256, ""])
def test_invalid_or_reserved_aliases(registry: ModelRegistryServicer, run_id: str, alias: str) -> None:
    _model(registry)
    _version(registry, run_id)
    with pytest.raises(InvalidParameter):
        registry.set_registered_model_alias(
            api.SetRegisteredModelAliasRequest(name="model", alias=alias, version="1")
        )


def test_alias_round_trip(registry: ModelRegistryServicer, run_id: str) -> None:
    _model(registry)
    _version(registry, run_id)
    _version(registry, run_id)
    registry.set_registered_model_alias(
        api.SetRegisteredModelAliasRequest(name="model", alias="champ", version="1")
    )
    by_alias = registry.get_model_version_by_alias(
        api.GetModelVersionByAliasRequest(name="model", alias="champ")
    )
    assert by_alias.model_version.version == "1" and list(by_alias.model_version.aliases) == ["champ"]
    latest = registry.get_model_version_by_alias(
        api.GetModelVersionByAliasRequest(name="model", alias="latest")
    )
    assert latest.model_version.version == "2"
    registry.delete_registered_model_alias(api.DeleteRegisteredModelAliasRequest(name="model", alias="champ"))
    with pytest.raises(InvalidParameter):
        registry.get_model_version_by_alias(api.GetModelVersionByAliasRequest(name="model", alias="champ"))


def test_stages_are_case_insensitive_and_archiving_is_restricted(
    registry: ModelRegistryServicer, run_id: str
) -> None:
    _model(registry)
    _version(registry, run_id)
    _version(registry, run_id)

    def transition(version: str, stage: str, archive: bool = False) -> rpb.ModelVersion:
        request = api.TransitionModelVersionStageRequest(
            name="model", version=version, stage=stage, archive_existing_versions=archive
        )
        return registry.transition_model_version_stage(request).model_version

    assert transition("1", "production").current_stage == "Production"
    assert transition("2", "PRODUCTION", archive=True).current_stage == "Production"
    assert (
        registry.get_model_version(
            api.GetModelVersionRequest(name="model", version="1")
        ).model_version.current_stage
        == "Archived"
    )
    for stage in ("Deleted_Internal", "prod", ""):
        with pytest.raises(InvalidParameter):
            transition("1", stage)
    for stage in ("None", "Archived"):
        with pytest.raises(InvalidParameter, match="archive_existing_versions"):
            transition("1", stage, archive=True)
    latest = registry.get_latest_versions(
        api.GetLatestVersionsRequest(name="model", stages=["production", "staging"])
    )
    assert [(v.version, v.current_stage) for v in latest.model_versions] == [("2", "Production")]
    with pytest.raises(InvalidParameter):
        registry.get_latest_versions(api.GetLatestVersionsRequest(name="model", stages=["nope"]))


def test_tag_limits(registry: ModelRegistryServicer, run_id: str) -> None:
    _model(registry)
    _version(registry, run_id)
    registry.set_registered_model_tag(
        api.SetRegisteredModelTagRequest(name="model", key="k", value="v" * 100_000)
    )
    with pytest.raises(InvalidParameter):
        registry.set_registered_model_tag(
            api.SetRegisteredModelTagRequest(name="model", key="k", value="v" * 100_001)
        )
    with pytest.raises(InvalidParameter):
        registry.set_model_version_tag(
            api.SetModelVersionTagRequest(name="model", version="1", key="../k", value="v")
        )
    registry.delete_model_version_tag(
        api.DeleteModelVersionTagRequest(name="model", version="1", key="absent")
    )


def test_search_page_size_limits(registry: ModelRegistryServicer) -> None:
    for name in ("a", "b"):
        _model(registry, name)
    with pytest.raises(InvalidParameter):
        registry.search_registered_models(api.SearchRegisteredModelsRequest(max_results=1001))
    with pytest.raises(InvalidParameter):
        registry.search_model_versions(api.SearchModelVersionsRequest(max_results=200_001))
    page = registry.search_registered_models(api.SearchRegisteredModelsRequest(max_results=1))
    assert [m.name for m in page.registered_models] == ["a"] and page.HasField("next_page_token")
    last = registry.search_registered_models(
        api.SearchRegisteredModelsRequest(max_results=1, page_token=page.next_page_token)
    )
    assert [m.name for m in last.registered_models] == ["b"] and not last.HasField("next_page_token")


def test_separate_registry_database(tmp_path: Path) -> None:
    tracking_uri = f"sqlite:///{tmp_path / 'tracking.sqlite'}"
    registry_uri = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    engine = create_engine_for(tracking_uri)
    upgrade_database(engine)
    config = ServerConfig(backend_store_uri=tracking_uri, registry_store_uri=registry_uri)
    built = build_services(config, engine)
    registry: ModelRegistryServicer = built[REGISTRY_SERVICE]
    _model(registry)
    other = create_engine_for(registry_uri)
    with other.connect() as connection:
        assert connection.exec_driver_sql("SELECT name FROM registered_models").scalars().all() == ["model"]
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM registered_models").scalar() == 0
    other.dispose()
    engine.dispose()


def test_nul_characters_are_refused_before_storage(registry: ModelRegistryServicer, run_id: str) -> None:
    """PostgreSQL cannot store NUL in text: such values are a 400, never a database error."""
    _model(registry)
    with pytest.raises(InvalidParameter):
        registry.get_registered_model(api.GetRegisteredModelRequest(name="a\x00b"))
    with pytest.raises(InvalidParameter):
        registry.set_registered_model_tag(
            api.SetRegisteredModelTagRequest(name="model", key="k", value="\x00")
        )
    with pytest.raises(InvalidParameter):
        registry.update_registered_model(api.UpdateRegisteredModelRequest(name="model", description="\x00"))
    with pytest.raises(InvalidParameter):
        _version(registry, run_id, run_link="http://x/\x00")
