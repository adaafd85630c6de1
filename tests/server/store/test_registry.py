"""SqlRegistryStore on SQLite and PostgreSQL: models, versions, aliases, tags, stages, cascades."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from polytrack.v1 import model_registry_pb2 as rpb
from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import AlreadyExists, InvalidParameter, NotFound
from polytrack_server.store.registry import SqlRegistryStore
from polytrack_server.store.schema import model_version_tags, model_versions, registered_model_aliases
from polytrack_server.store.tracking import SqlTrackingStore


@pytest.fixture
def registry(engine: sa.Engine, store: SqlTrackingStore) -> SqlRegistryStore:
    return SqlRegistryStore(engine, store)


def _version(registry: SqlRegistryStore, name: str = "model", run_id: str | None = None) -> rpb.ModelVersion:
    return registry.create_model_version(
        name, "mlflow-artifacts:/x", "mlflow-artifacts:/x", run_id, [], None, None, None
    )


def test_create_and_get_registered_model(registry: SqlRegistryStore) -> None:
    created = registry.create_registered_model("model", [("team", "a"), ("team", "b")], "first", None)
    assert created.name == "model" and created.description == "first"
    assert [(t.key, t.value) for t in created.tags] == [("team", "b")]
    assert created.creation_timestamp == created.last_updated_timestamp > 0
    fetched = registry.get_registered_model("model")
    assert fetched == created
    assert not fetched.latest_versions and not fetched.aliases


def test_description_is_unset_until_given(registry: SqlRegistryStore) -> None:
    model = registry.create_registered_model("model", [], None, None)
    assert not model.HasField("description")
    updated = registry.update_registered_model("model", "now described", None)
    assert updated.description == "now described"
    assert registry.update_registered_model("model", None, "job-1").description == "now described"


def test_duplicate_and_unknown_models(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("model", [], None, None)
    with pytest.raises(AlreadyExists):
        registry.create_registered_model("model", [], None, None)
    for call in (
        lambda: registry.get_registered_model("nope"),
        lambda: registry.update_registered_model("nope", "d", None),
        lambda: registry.delete_registered_model("nope"),
        lambda: registry.set_registered_model_tag("nope", "k", "v"),
        lambda: registry.delete_registered_model_tag("nope", "k"),
        lambda: registry.get_latest_versions("nope", []),
        lambda: _version(registry, "nope"),
    ):
        with pytest.raises(NotFound):
            call()


def test_names_are_case_sensitive(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("Model", [], None, None)
    registry.create_registered_model("model", [], None, None)
    assert registry.get_registered_model("Model").name == "Model"


def test_version_numbers_are_never_reused(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("model", [], None, None)
    assert [_version(registry).version for _ in range(3)] == ["1", "2", "3"]
    registry.delete_model_version("model", 3)
    registry.delete_model_version("model", 2)
    assert _version(registry).version == "4"
    with pytest.raises(NotFound):
        registry.get_model_version("model", 3)


def test_creating_a_version_bumps_the_model(registry: SqlRegistryStore) -> None:
    before = registry.create_registered_model("model", [], None, None).last_updated_timestamp
    time.sleep(0.002)
    version = _version(registry)
    assert version.status == rpb.READY and version.current_stage == "None"
    assert (
        registry.get_registered_model("model").last_updated_timestamp >= version.creation_timestamp > before
    )


def test_soft_delete_hides_the_version_everywhere(registry: SqlRegistryStore, engine: sa.Engine) -> None:
    registry.create_registered_model("model", [], None, None)
    _version(registry)
    _version(registry)
    registry.set_model_version_tag("model", 2, "k", "v")
    registry.set_registered_model_alias("model", "champion", 2)
    registry.delete_model_version("model", 2)
    for call in (
        lambda: registry.get_model_version("model", 2),
        lambda: registry.update_model_version("model", 2, "d"),
        lambda: registry.delete_model_version("model", 2),
        lambda: registry.set_model_version_tag("model", 2, "k", "v"),
        lambda: registry.transition_model_version_stage("model", 2, "Staging", False),
        lambda: registry.get_model_version_download_uri("model", 2),
        lambda: registry.set_registered_model_alias("model", "again", 2),
    ):
        with pytest.raises(NotFound):
            call()
    model = registry.get_registered_model("model")
    assert [v.version for v in model.latest_versions] == ["1"] and not model.aliases
    assert [v.version for v in registry.search_model_versions(None, 100, [], None).items] == ["1"]
    assert registry.get_model_version_by_alias("model", "latest").version == "1"
    with pytest.raises(InvalidParameter):
        registry.get_model_version_by_alias("model", "champion")
    with engine.connect() as connection:
        row = connection.execute(sa.select(model_versions).where(model_versions.c.version == 2)).one()
    assert row.current_stage == "Deleted_Internal" and row.source == "" and row.run_id is None


def test_delete_registered_model_cascades(registry: SqlRegistryStore, engine: sa.Engine) -> None:
    registry.create_registered_model("model", [("k", "v")], None, None)
    _version(registry)
    registry.set_model_version_tag("model", 1, "k", "v")
    registry.set_registered_model_alias("model", "a", 1)
    registry.delete_registered_model("model")
    with pytest.raises(NotFound):
        registry.get_registered_model("model")
    with engine.connect() as connection:
        for table in (model_versions, model_version_tags, registered_model_aliases):
            assert connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0
    # The name is free again, and numbering starts afresh.
    registry.create_registered_model("model", [], None, None)
    assert _version(registry).version == "1"


def test_rename_cascades_to_versions_tags_and_aliases(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("old", [("k", "v")], None, None)
    _version(registry, "old")
    registry.set_model_version_tag("old", 1, "vk", "vv")
    registry.set_registered_model_alias("old", "champion", 1)
    renamed = registry.rename_registered_model("old", "new")
    assert renamed.name == "new" and [a.alias for a in renamed.aliases] == ["champion"]
    assert [(t.key, t.value) for t in renamed.tags] == [("k", "v")]
    version = registry.get_model_version("new", 1)
    assert version.name == "new" and [(t.key, t.value) for t in version.tags] == [("vk", "vv")]
    assert list(version.aliases) == ["champion"]
    with pytest.raises(NotFound):
        registry.get_registered_model("old")
    registry.create_registered_model("other", [], None, None)
    with pytest.raises(AlreadyExists):
        registry.rename_registered_model("new", "other")
    assert _version(registry, "new").version == "2"


def test_aliases_upsert_and_delete(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("model", [], None, None)
    _version(registry)
    _version(registry)
    registry.set_registered_model_alias("model", "champion", 1)
    registry.set_registered_model_alias("model", "challenger", 1)
    assert list(registry.get_model_version("model", 1).aliases) == ["challenger", "champion"]
    registry.set_registered_model_alias("model", "champion", 2)
    assert registry.get_model_version_by_alias("model", "champion").version == "2"
    assert list(registry.get_model_version("model", 1).aliases) == ["challenger"]
    model = registry.get_registered_model("model")
    assert [(a.alias, a.version) for a in model.aliases] == [("challenger", "1"), ("champion", "2")]
    registry.delete_registered_model_alias("model", "champion")
    registry.delete_registered_model_alias("model", "never-set")
    with pytest.raises(InvalidParameter, match="champion"):
        registry.get_model_version_by_alias("model", "champion")
    with pytest.raises(NotFound):
        registry.set_registered_model_alias("model", "x", 99)
    assert registry.get_model_version_by_alias("model", "LaTeSt").version == "2"


def test_latest_alias_without_versions(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("model", [], None, None)
    with pytest.raises(InvalidParameter):
        registry.get_model_version_by_alias("model", "latest")


def test_stages_latest_versions_and_archiving(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("model", [], None, None)
    for _ in range(4):
        _version(registry)
    registry.transition_model_version_stage("model", 1, "Production", False)
    registry.transition_model_version_stage("model", 2, "Staging", False)
    moved = registry.transition_model_version_stage("model", 3, "Production", True)
    assert moved.current_stage == "Production"
    assert registry.get_model_version("model", 1).current_stage == "Archived"
    assert registry.get_model_version("model", 2).current_stage == "Staging"
    latest = registry.get_latest_versions("model", [])
    assert [(v.version, v.current_stage) for v in latest] == [
        ("1", "Archived"),
        ("2", "Staging"),
        ("3", "Production"),
        ("4", "None"),
    ]
    assert [v.version for v in registry.get_latest_versions("model", ["Production", "Staging"])] == ["2", "3"]
    in_model = registry.get_registered_model("model").latest_versions
    assert [v.version for v in in_model] == ["1", "2", "3", "4"]
    assert all(not v.aliases for v in in_model)


def test_tags_on_models_and_versions(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("model", [], None, None)
    _version(registry)
    registry.set_registered_model_tag("model", "k", "1")
    registry.set_registered_model_tag("model", "k", "2")
    registry.set_model_version_tag("model", 1, "vk", "1")
    registry.set_model_version_tag("model", 1, "vk", "2")
    assert [(t.key, t.value) for t in registry.get_registered_model("model").tags] == [("k", "2")]
    assert [(t.key, t.value) for t in registry.get_model_version("model", 1).tags] == [("vk", "2")]
    registry.delete_registered_model_tag("model", "k")
    registry.delete_registered_model_tag("model", "k")
    registry.delete_model_version_tag("model", 1, "vk")
    registry.delete_model_version_tag("model", 1, "vk")
    assert not registry.get_registered_model("model").tags
    assert not registry.get_model_version("model", 1).tags
    with pytest.raises(NotFound):
        registry.delete_model_version_tag("model", 7, "vk")


def test_update_version_and_download_uri(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("model", [], None, None)
    registry.create_model_version(
        "model",
        "runs:/abc/model",
        "mlflow-artifacts:/1/abc/artifacts/model",
        "abc",
        [("t", "v")],
        "link",
        "d",
        "m-1",
    )
    updated = registry.update_model_version("model", 1, "better")
    assert updated.description == "better" and updated.run_link == "link" and updated.model_id == "m-1"
    assert updated.source == "runs:/abc/model" and updated.run_id == "abc"
    assert registry.get_model_version_download_uri("model", 1) == "mlflow-artifacts:/1/abc/artifacts/model"
    with pytest.raises(NotFound):
        registry.get_model_version("model", 2**40)


def test_run_artifact_uri_comes_from_the_tracking_store(
    registry: SqlRegistryStore, make_run: Callable[..., pb.Run]
) -> None:
    run = make_run()
    assert registry.run_artifact_uri(run.info.run_id) == run.info.artifact_uri
    with pytest.raises(NotFound):
        registry.run_artifact_uri("0" * 32)


# --- search ----------------------------------------------------------------------------------------


@pytest.fixture
def populated(registry: SqlRegistryStore) -> SqlRegistryStore:
    for name, tags in (("alpha", [("team", "a")]), ("beta", [("team", "b")]), ("Gamma", [])):
        registry.create_registered_model(name, tags, None, None)
        time.sleep(0.002)
    registry.create_registered_model("prompt", [("mlflow.prompt.is_prompt", "true")], None, None)
    for name in ("alpha", "alpha", "beta"):
        _version(registry, name, run_id="r" + name)
        time.sleep(0.002)
    registry.set_model_version_tag("alpha", 2, "validated", "yes")
    return registry


def _model_names(
    registry: SqlRegistryStore, filter_string: str | None, order_by: list[str] | None = None
) -> list[str]:
    return [m.name for m in registry.search_registered_models(filter_string, 100, order_by or [], None).items]


def _versions(
    registry: SqlRegistryStore, filter_string: str | None, order_by: list[str] | None = None
) -> list[str]:
    page = registry.search_model_versions(filter_string, 100, order_by or [], None)
    return [f"{v.name}/{v.version}" for v in page.items]


def test_search_registered_models(populated: SqlRegistryStore) -> None:
    assert _model_names(populated, None) == ["Gamma", "alpha", "beta"]
    assert _model_names(populated, "name = 'alpha'") == ["alpha"]
    assert _model_names(populated, "name LIKE 'a%'") == ["alpha"]
    assert _model_names(populated, "name ILIKE 'g%'") == ["Gamma"]
    assert _model_names(populated, "name IN ('beta', 'Gamma')") == ["Gamma", "beta"]
    assert _model_names(populated, "name NOT IN ('beta')") == ["Gamma", "alpha"]
    assert _model_names(populated, "tags.team = 'b'") == ["beta"]
    assert _model_names(populated, "tags.`mlflow.prompt.is_prompt` = 'true'") == ["prompt"]
    assert _model_names(populated, None, ["last_updated_timestamp DESC"]) == ["beta", "alpha", "Gamma"]
    assert _model_names(populated, None, ["name DESC"]) == ["beta", "alpha", "Gamma"]
    for bad in ("creation_timestamp = 1", "name > 'a'", "tags.team IS NULL", "name = 'a' OR name = 'b'"):
        with pytest.raises(InvalidParameter):
            populated.search_registered_models(bad, 10, [], None)
    with pytest.raises(InvalidParameter):
        populated.search_registered_models(None, 10, ["creation_timestamp"], None)
    with pytest.raises(InvalidParameter):
        populated.search_registered_models(None, 10, ["timestamp", "last_updated_timestamp"], None)


def test_search_registered_models_pages(populated: SqlRegistryStore) -> None:
    names, token = [], None
    while True:
        page = populated.search_registered_models(None, 2, [], token)
        names += [m.name for m in page.items]
        token = page.next_page_token
        if token is None:
            break
    assert names == ["Gamma", "alpha", "beta"]
    with pytest.raises(InvalidParameter):
        populated.search_registered_models(None, 2, [], "not-a-token")


def test_search_model_versions(populated: SqlRegistryStore) -> None:
    assert _versions(populated, None) == ["beta/1", "alpha/2", "alpha/1"]
    assert _versions(populated, "name = 'alpha'") == ["alpha/2", "alpha/1"]
    assert _versions(populated, "run_id IN ('rbeta')") == ["beta/1"]
    assert _versions(populated, "version_number >= 2") == ["alpha/2"]
    assert _versions(populated, "tags.validated = 'yes'") == ["alpha/2"]
    assert _versions(populated, "source_path LIKE 'mlflow-artifacts:%' AND name != 'beta'") == [
        "alpha/2",
        "alpha/1",
    ]
    assert _versions(populated, None, ["version_number ASC"]) == ["alpha/1", "beta/1", "alpha/2"]
    assert _versions(populated, None, ["name DESC"]) == ["beta/1", "alpha/2", "alpha/1"]
    assert all(not v.aliases for v in populated.search_model_versions(None, 10, [], None).items)
    for bad in ("version_number = '2'", "version_number = 1.5", "source_path IN ('x')", "stage = 'None'"):
        with pytest.raises(InvalidParameter):
            populated.search_model_versions(bad, 10, [], None)
    page = populated.search_model_versions(None, 2, [], None)
    assert len(page.items) == 2 and page.next_page_token is not None
    rest = populated.search_model_versions(None, 2, [], page.next_page_token)
    assert [f"{v.name}/{v.version}" for v in rest.items] == ["alpha/1"] and rest.next_page_token is None


def test_prompt_versions_are_hidden_unless_asked_for(populated: SqlRegistryStore) -> None:
    _version(populated, "prompt")
    assert "prompt/1" not in _versions(populated, None)
    assert _versions(populated, "tags.`mlflow.prompt.is_prompt` = 'true' AND name = 'prompt'") == []
    populated.set_model_version_tag("prompt", 1, "mlflow.prompt.is_prompt", "true")
    assert _versions(populated, "tags.`mlflow.prompt.is_prompt` = 'true'") == ["prompt/1"]
    assert _versions(populated, "tags.`mlflow.prompt.is_prompt` != 'false'") == ["prompt/1"]
    # What MLflow's clients add to every search: everything but prompts, models without the tag included.
    assert _versions(populated, "tags.`mlflow.prompt.is_prompt` != 'true'") == [
        "beta/1",
        "alpha/2",
        "alpha/1",
    ]
    assert _model_names(populated, "tags.`mlflow.prompt.is_prompt` != 'true'") == ["Gamma", "alpha", "beta"]
    assert _model_names(populated, "tags.`mlflow.prompt.is_prompt` = 'false' AND name = 'beta'") == ["beta"]


# --- concurrency -----------------------------------------------------------------------------------


def test_concurrent_registrations_get_distinct_consecutive_numbers(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("model", [], None, None)
    threads_count, per_thread = 8, 5
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads_count)

    def register() -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                version = _version(registry).version
                with lock:
                    numbers.append(version)
        except BaseException as error:  # collected and asserted on by the main thread
            errors.append(error)

    threads = [threading.Thread(target=register) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(int(n) for n in numbers) == list(range(1, threads_count * per_thread + 1))
