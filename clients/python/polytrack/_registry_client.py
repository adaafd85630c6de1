"""The model registry half of `polytrack.Client`, with `MlflowClient`'s method names and semantics.

    client.create_registered_model("churn", tags={"team": "growth"})
    version = client.create_model_version("churn", f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias("churn", "champion", version.version)
    client.get_model_version_by_alias("churn", "champion")

`Client` inherits these methods; each is one request. Versions may be given as ints or strings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from google.protobuf.message import Message

from polytrack.entities import PagedList
from polytrack.registry_entities import ModelVersion, RegisteredModel
from polytrack.v1 import model_registry_pb2 as rpb
from polytrack.v1 import model_registry_service_pb2 as api

__all__ = ["REGISTRY_SEARCH_MAX_RESULTS_DEFAULT", "VERSIONS_SEARCH_MAX_RESULTS_DEFAULT", "RegistryMethods"]

# Page sizes of registry searches when none is given (those of MLflow's Python client).
REGISTRY_SEARCH_MAX_RESULTS_DEFAULT = 100
VERSIONS_SEARCH_MAX_RESULTS_DEFAULT = 10_000

ResponseT = TypeVar("ResponseT", bound=Message)


def _model_tags(tags: Mapping[str, object] | None) -> list[rpb.RegisteredModelTag]:
    return [rpb.RegisteredModelTag(key=str(k), value=str(v)) for k, v in (tags or {}).items()]


def _version_tags(tags: Mapping[str, object] | None) -> list[rpb.ModelVersionTag]:
    return [rpb.ModelVersionTag(key=str(k), value=str(v)) for k, v in (tags or {}).items()]


class RegistryMethods:
    """Registered models, model versions, their tags, aliases and stages."""

    if TYPE_CHECKING:  # provided by Client

        def _call(self, rpc: str, request: Message, response_type: type[ResponseT]) -> ResponseT: ...

    # --- registered models -----------------------------------------------------------------------
    def create_registered_model(
        self, name: str, tags: Mapping[str, object] | None = None, description: str | None = None
    ) -> RegisteredModel:
        """Register a new model name; RESOURCE_ALREADY_EXISTS if it is taken."""
        request = api.CreateRegisteredModelRequest(name=name, tags=_model_tags(tags), description=description)
        response = self._call("CreateRegisteredModel", request, api.CreateRegisteredModelResponse)
        return RegisteredModel.from_proto(response.registered_model)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The model with its latest version per stage, tags and aliases."""
        request = api.GetRegisteredModelRequest(name=name)
        response = self._call("GetRegisteredModel", request, api.GetRegisteredModelResponse)
        return RegisteredModel.from_proto(response.registered_model)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a model; its versions, tags and aliases follow."""
        request = api.RenameRegisteredModelRequest(name=name, new_name=new_name)
        response = self._call("RenameRegisteredModel", request, api.RenameRegisteredModelResponse)
        return RegisteredModel.from_proto(response.registered_model)

    def update_registered_model(self, name: str, description: str | None = None) -> RegisteredModel:
        """Change a model's description (None leaves it as it is)."""
        request = api.UpdateRegisteredModelRequest(name=name, description=description)
        response = self._call("UpdateRegisteredModel", request, api.UpdateRegisteredModelResponse)
        return RegisteredModel.from_proto(response.registered_model)

    def delete_registered_model(self, name: str) -> None:
        """Delete a model with all its versions, for good."""
        self._call(
            "DeleteRegisteredModel",
            api.DeleteRegisteredModelRequest(name=name),
            api.DeleteRegisteredModelResponse,
        )

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = REGISTRY_SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """One page of models matching `filter_string` (e.g. `name LIKE 'churn%'`); `.token` pages on."""
        request = api.SearchRegisteredModelsRequest(
            filter=filter_string or None,
            max_results=max_results,
            order_by=list(order_by or ()),
            page_token=page_token or None,
        )
        response = self._call("SearchRegisteredModels", request, api.SearchRegisteredModelsResponse)
        token = response.next_page_token if response.HasField("next_page_token") else None
        return PagedList([RegisteredModel.from_proto(m) for m in response.registered_models], token or None)

    def iter_registered_models(
        self, filter_string: str | None = None, order_by: Sequence[str] | None = None
    ) -> Iterator[RegisteredModel]:
        """Every model matching `filter_string`, page after page."""
        token: str | None = None
        while True:
            page = self.search_registered_models(filter_string, 1000, order_by, token)
            yield from page
            if not page.token:
                return
            token = page.token

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        """The highest version in each of `stages` (all stages when None or empty)."""
        request = api.GetLatestVersionsRequest(name=name, stages=list(stages or ()))
        response = self._call("GetLatestVersions", request, api.GetLatestVersionsResponse)
        return [ModelVersion.from_proto(v) for v in response.model_versions]

    def set_registered_model_tag(self, name: str, key: str, value: object) -> None:
        request = api.SetRegisteredModelTagRequest(name=name, key=key, value=str(value))
        self._call("SetRegisteredModelTag", request, api.SetRegisteredModelTagResponse)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        request = api.DeleteRegisteredModelTagRequest(name=name, key=key)
        self._call("DeleteRegisteredModelTag", request, api.DeleteRegisteredModelTagResponse)

    # --- aliases ---------------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        """Point `alias` at `version`, moving it if it pointed elsewhere."""
        request = api.SetRegisteredModelAliasRequest(name=name, alias=alias, version=str(version))
        self._call("SetRegisteredModelAlias", request, api.SetRegisteredModelAliasResponse)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        request = api.DeleteRegisteredModelAliasRequest(name=name, alias=alias)
        self._call("DeleteRegisteredModelAlias", request, api.DeleteRegisteredModelAliasResponse)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version `alias` points to (`latest`: the highest version)."""
        request = api.GetModelVersionByAliasRequest(name=name, alias=alias)
        response = self._call("GetModelVersionByAlias", request, api.GetModelVersionByAliasResponse)
        return ModelVersion.from_proto(response.model_version)

    # --- model versions --------------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, object] | None = None,
        run_link: str | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        """Register a new version of `name` from `source` (`runs:/<run_id>/<path>`, `models:/...`,
        or a location under the server's artifact roots)."""
        request = api.CreateModelVersionRequest(
            name=name,
            source=source,
            run_id=run_id or None,
            tags=_version_tags(tags),
            run_link=run_link or None,
            description=description,
        )
        response = self._call("CreateModelVersion", request, api.CreateModelVersionResponse)
        return ModelVersion.from_proto(response.model_version)

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        request = api.GetModelVersionRequest(name=name, version=str(version))
        response = self._call("GetModelVersion", request, api.GetModelVersionResponse)
        return ModelVersion.from_proto(response.model_version)

    def update_model_version(
        self, name: str, version: str | int, description: str | None = None
    ) -> ModelVersion:
        request = api.UpdateModelVersionRequest(name=name, version=str(version), description=description)
        response = self._call("UpdateModelVersion", request, api.UpdateModelVersionResponse)
        return ModelVersion.from_proto(response.model_version)

    def delete_model_version(self, name: str, version: str | int) -> None:
        """Delete a version; its number is never reused and its aliases are removed."""
        request = api.DeleteModelVersionRequest(name=name, version=str(version))
        self._call("DeleteModelVersion", request, api.DeleteModelVersionResponse)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = VERSIONS_SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        """One page of versions matching `filter_string` (e.g. `name = 'churn'`); `.token` pages on."""
        request = api.SearchModelVersionsRequest(
            filter=filter_string or None,
            max_results=max_results,
            order_by=list(order_by or ()),
            page_token=page_token or None,
        )
        response = self._call("SearchModelVersions", request, api.SearchModelVersionsResponse)
        token = response.next_page_token if response.HasField("next_page_token") else None
        return PagedList([ModelVersion.from_proto(v) for v in response.model_versions], token or None)

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: object) -> None:
        request = api.SetModelVersionTagRequest(name=name, version=str(version), key=key, value=str(value))
        self._call("SetModelVersionTag", request, api.SetModelVersionTagResponse)

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        request = api.DeleteModelVersionTagRequest(name=name, version=str(version), key=key)
        self._call("DeleteModelVersionTag", request, api.DeleteModelVersionTagResponse)

    def transition_model_version_stage(
        self, name: str, version: str | int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Move a version to None, Staging, Production or Archived (deprecated: prefer aliases)."""
        request = api.TransitionModelVersionStageRequest(
            name=name, version=str(version), stage=stage, archive_existing_versions=archive_existing_versions
        )
        response = self._call("TransitionModelVersionStage", request, api.TransitionModelVersionStageResponse)
        return ModelVersion.from_proto(response.model_version)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        """Where the version's files are stored."""
        request = api.GetModelVersionDownloadUriRequest(name=name, version=str(version))
        response = self._call("GetModelVersionDownloadUri", request, api.GetModelVersionDownloadUriResponse)
        return response.artifact_uri
