"""The servicer of `polytrack.v1.ModelRegistryService`: validates requests, resolves sources, calls the store.

One method per RPC, named in snake_case, shared by the REST gateway and the gRPC edge. What can be
decided from the request alone (names, aliases, stages, version numbers, tag limits, page sizes)
is checked here; a version's `source` goes through `SourcePolicy` before anything is stored, and
nothing in the request (tags included) can skip that check.
"""

from __future__ import annotations

from polytrack.v1 import model_registry_service_pb2 as api
from polytrack_server.errors import InvalidParameter
from polytrack_server.services import registry_validation as rv
from polytrack_server.services import validation as v
from polytrack_server.services.model_sources import SourcePolicy
from polytrack_server.services.paging import paged
from polytrack_server.store.registry_interface import STAGE_PRODUCTION, STAGE_STAGING, RegistryStore

MODEL_TAG = "registered model tag"
VERSION_TAG = "model version tag"


class ModelRegistryServicer:
    """Implements every RPC of ModelRegistryService over a `RegistryStore`.

    `sources` decides which sources versions may be registered from; by default only `runs:/`
    and `models:/` sources and locations under a run's artifact root are accepted.
    """

    def __init__(self, store: RegistryStore, sources: SourcePolicy | None = None) -> None:
        self._store = store
        self._sources = sources or SourcePolicy(
            (), store.run_artifact_uri, store.get_model_version_download_uri
        )

    # --- registered models -----------------------------------------------------------------------
    def create_registered_model(
        self, request: api.CreateRegisteredModelRequest
    ) -> api.CreateRegisteredModelResponse:
        name = rv.model_name(request.name)
        tags = [rv.registry_tag(t.key, t.value, MODEL_TAG) for t in request.tags]
        description = rv.description(request.description) if request.HasField("description") else None
        job = rv.text(request.deployment_job_id, "deployment_job_id") or None
        model = self._store.create_registered_model(name, tags, description, job)
        return api.CreateRegisteredModelResponse(registered_model=model)

    def get_registered_model(self, request: api.GetRegisteredModelRequest) -> api.GetRegisteredModelResponse:
        model = self._store.get_registered_model(rv.required(request.name, "name"))
        return api.GetRegisteredModelResponse(registered_model=model)

    def rename_registered_model(
        self, request: api.RenameRegisteredModelRequest
    ) -> api.RenameRegisteredModelResponse:
        name = rv.required(request.name, "name")
        new_name = rv.model_name(request.new_name, "new_name")
        model = self._store.rename_registered_model(name, new_name)
        return api.RenameRegisteredModelResponse(registered_model=model)

    def update_registered_model(
        self, request: api.UpdateRegisteredModelRequest
    ) -> api.UpdateRegisteredModelResponse:
        name = rv.required(request.name, "name")
        description = rv.description(request.description) if request.HasField("description") else None
        job = (
            rv.text(request.deployment_job_id, "deployment_job_id")
            if request.HasField("deployment_job_id")
            else None
        )
        model = self._store.update_registered_model(name, description, job)
        return api.UpdateRegisteredModelResponse(registered_model=model)

    def delete_registered_model(
        self, request: api.DeleteRegisteredModelRequest
    ) -> api.DeleteRegisteredModelResponse:
        self._store.delete_registered_model(rv.required(request.name, "name"))
        return api.DeleteRegisteredModelResponse()

    def search_registered_models(
        self, request: api.SearchRegisteredModelsRequest
    ) -> api.SearchRegisteredModelsResponse:
        max_results = request.max_results if request.HasField("max_results") else rv.DEFAULT_RESULTS_MODELS
        v.validate_max_results(max_results, "max_results", rv.MAX_RESULTS_MODELS)
        page = self._store.search_registered_models(
            request.filter or None, max_results, list(request.order_by), request.page_token or None
        )
        return paged(api.SearchRegisteredModelsResponse(registered_models=page.items), page)

    def get_latest_versions(self, request: api.GetLatestVersionsRequest) -> api.GetLatestVersionsResponse:
        name = rv.required(request.name, "name")
        stages = list(dict.fromkeys(rv.stage(stage, "stages") for stage in request.stages))
        versions = self._store.get_latest_versions(name, stages)
        return api.GetLatestVersionsResponse(model_versions=versions)

    def set_registered_model_tag(
        self, request: api.SetRegisteredModelTagRequest
    ) -> api.SetRegisteredModelTagResponse:
        name = rv.required(request.name, "name")
        key, value = rv.registry_tag(request.key, request.value, MODEL_TAG)
        self._store.set_registered_model_tag(name, key, value)
        return api.SetRegisteredModelTagResponse()

    def delete_registered_model_tag(
        self, request: api.DeleteRegisteredModelTagRequest
    ) -> api.DeleteRegisteredModelTagResponse:
        name = rv.required(request.name, "name")
        self._store.delete_registered_model_tag(name, rv.required(request.key, "key"))
        return api.DeleteRegisteredModelTagResponse()

    # --- aliases ---------------------------------------------------------------------------------
    def set_registered_model_alias(
        self, request: api.SetRegisteredModelAliasRequest
    ) -> api.SetRegisteredModelAliasResponse:
        name = rv.required(request.name, "name")
        alias = rv.alias_name(request.alias)
        self._store.set_registered_model_alias(name, alias, rv.version_number(request.version))
        return api.SetRegisteredModelAliasResponse()

    def delete_registered_model_alias(
        self, request: api.DeleteRegisteredModelAliasRequest
    ) -> api.DeleteRegisteredModelAliasResponse:
        name = rv.required(request.name, "name")
        self._store.delete_registered_model_alias(name, rv.required(request.alias, "alias"))
        return api.DeleteRegisteredModelAliasResponse()

    def get_model_version_by_alias(
        self, request: api.GetModelVersionByAliasRequest
    ) -> api.GetModelVersionByAliasResponse:
        name = rv.required(request.name, "name")
        version = self._store.get_model_version_by_alias(name, rv.required(request.alias, "alias"))
        return api.GetModelVersionByAliasResponse(model_version=version)

    # --- model versions --------------------------------------------------------------------------
    def create_model_version(self, request: api.CreateModelVersionRequest) -> api.CreateModelVersionResponse:
        name = rv.model_name(request.name)
        run_id = request.run_id or None
        if run_id is not None:
            v.validate_run_id_format(run_id)
        tags = [rv.registry_tag(t.key, t.value, VERSION_TAG) for t in request.tags]
        description = rv.description(request.description) if request.HasField("description") else None
        # Existence first (404 for an unknown model, as MLflow answers), then the source.
        self._store.get_registered_model(name)
        resolved = self._sources.resolve(request.source, run_id)
        version = self._store.create_model_version(
            name,
            resolved.source,
            resolved.storage_location,
            run_id,
            tags,
            rv.text(request.run_link, "run_link") or None,
            description,
            rv.text(request.model_id, "model_id") or None,
        )
        return api.CreateModelVersionResponse(model_version=version)

    def get_model_version(self, request: api.GetModelVersionRequest) -> api.GetModelVersionResponse:
        name = rv.required(request.name, "name")
        version = self._store.get_model_version(name, rv.version_number(request.version))
        return api.GetModelVersionResponse(model_version=version)

    def update_model_version(self, request: api.UpdateModelVersionRequest) -> api.UpdateModelVersionResponse:
        name = rv.required(request.name, "name")
        number = rv.version_number(request.version)
        description = rv.description(request.description) if request.HasField("description") else None
        version = self._store.update_model_version(name, number, description)
        return api.UpdateModelVersionResponse(model_version=version)

    def delete_model_version(self, request: api.DeleteModelVersionRequest) -> api.DeleteModelVersionResponse:
        name = rv.required(request.name, "name")
        self._store.delete_model_version(name, rv.version_number(request.version))
        return api.DeleteModelVersionResponse()

    def search_model_versions(
        self, request: api.SearchModelVersionsRequest
    ) -> api.SearchModelVersionsResponse:
        max_results = request.max_results if request.HasField("max_results") else rv.DEFAULT_RESULTS_VERSIONS
        v.validate_max_results(max_results, "max_results", rv.MAX_RESULTS_VERSIONS)
        page = self._store.search_model_versions(
            request.filter or None, max_results, list(request.order_by), request.page_token or None
        )
        return paged(api.SearchModelVersionsResponse(model_versions=page.items), page)

    def set_model_version_tag(self, request: api.SetModelVersionTagRequest) -> api.SetModelVersionTagResponse:
        name = rv.required(request.name, "name")
        number = rv.version_number(request.version)
        key, value = rv.registry_tag(request.key, request.value, VERSION_TAG)
        self._store.set_model_version_tag(name, number, key, value)
        return api.SetModelVersionTagResponse()

    def delete_model_version_tag(
        self, request: api.DeleteModelVersionTagRequest
    ) -> api.DeleteModelVersionTagResponse:
        name = rv.required(request.name, "name")
        number = rv.version_number(request.version)
        self._store.delete_model_version_tag(name, number, rv.required(request.key, "key"))
        return api.DeleteModelVersionTagResponse()

    def transition_model_version_stage(
        self, request: api.TransitionModelVersionStageRequest
    ) -> api.TransitionModelVersionStageResponse:
        name = rv.required(request.name, "name")
        number = rv.version_number(request.version)
        stage = rv.stage(request.stage)
        archive = request.archive_existing_versions
        if archive and stage not in (STAGE_STAGING, STAGE_PRODUCTION):
            raise InvalidParameter(
                f"archive_existing_versions=true is only allowed when the target stage is Staging or "
                f"Production, not {stage}."
            )
        version = self._store.transition_model_version_stage(name, number, stage, archive)
        return api.TransitionModelVersionStageResponse(model_version=version)

    def get_model_version_download_uri(
        self, request: api.GetModelVersionDownloadUriRequest
    ) -> api.GetModelVersionDownloadUriResponse:
        name = rv.required(request.name, "name")
        uri = self._store.get_model_version_download_uri(name, rv.version_number(request.version))
        return api.GetModelVersionDownloadUriResponse(artifact_uri=uri)
