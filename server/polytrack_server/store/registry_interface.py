"""The contract between the model registry service and storage.

The service validates requests (names, aliases, stages, tag limits, version numbers, sources) and
resolves `runs:/` and `models:/` sources to storage locations; the store owns what needs stored
state: existence, uniqueness, version numbering (concurrency-safe, never reusing a number), soft
deletion of versions, cascades on rename and delete, aliases, stages, search and paging. Stores
return the API's entity messages (`polytrack.v1.model_registry_pb2`). Every method runs its own
transaction: on any exception nothing it did is kept.

Version numbers are ints here; the wire carries them as strings. Stages are canonical
("None", "Staging", "Production", "Archived"). Errors are `polytrack_server.errors` exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

from polytrack.v1 import model_registry_pb2 as rpb
from polytrack_server.store.interface import Page

STAGE_NONE: Final = "None"
STAGE_STAGING: Final = "Staging"
STAGE_PRODUCTION: Final = "Production"
STAGE_ARCHIVED: Final = "Archived"
STAGES: Final = (STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED)
# The stage of a deleted version: never returned, never accepted from clients.
STAGE_DELETED: Final = "Deleted_Internal"


class RegistryStore(Protocol):
    """Registered models, their versions, tags and aliases."""

    # --- registered models -----------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: Sequence[tuple[str, str]],
        description: str | None,
        deployment_job_id: str | None,
    ) -> rpb.RegisteredModel:
        """A name already registered -> AlreadyExists."""
        ...

    def get_registered_model(self, name: str) -> rpb.RegisteredModel:
        """With latest_versions (one per stage), tags and aliases; unknown -> NotFound."""
        ...

    def rename_registered_model(self, name: str, new_name: str) -> rpb.RegisteredModel:
        """Versions, tags and aliases follow; new name taken -> AlreadyExists."""
        ...

    def update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None
    ) -> rpb.RegisteredModel:
        """None leaves a field unchanged."""
        ...

    def delete_registered_model(self, name: str) -> None:
        """Hard delete of the model with its versions, tags and aliases."""
        ...

    def search_registered_models(
        self, filter_string: str | None, max_results: int, order_by: Sequence[str], page_token: str | None
    ) -> Page[rpb.RegisteredModel]:
        """Grammar of store.search.registry; bad grammar or token -> InvalidParameter."""
        ...

    def get_latest_versions(self, name: str, stages: Sequence[str]) -> list[rpb.ModelVersion]:
        """The highest version in each of `stages` (all when empty), with aliases."""
        ...

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None: ...

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Unknown model -> NotFound; a missing tag is no error."""
        ...

    # --- aliases ---------------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: int) -> None:
        """Upsert; unknown or deleted version -> NotFound."""
        ...

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Unknown model -> NotFound; a missing alias is no error."""
        ...

    def get_model_version_by_alias(self, name: str, alias: str) -> rpb.ModelVersion:
        """`latest` (any case) is the highest live version; an unknown alias -> InvalidParameter."""
        ...

    # --- model versions --------------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        storage_location: str,
        run_id: str | None,
        tags: Sequence[tuple[str, str]],
        run_link: str | None,
        description: str | None,
        model_id: str | None,
    ) -> rpb.ModelVersion:
        """Number = highest ever used for the model + 1, distinct under concurrent callers."""
        ...

    def get_model_version(self, name: str, version: int) -> rpb.ModelVersion:
        """With aliases; unknown or deleted -> NotFound."""
        ...

    def update_model_version(self, name: str, version: int, description: str | None) -> rpb.ModelVersion: ...

    def delete_model_version(self, name: str, version: int) -> None:
        """Soft delete: hidden from every read, its aliases removed, its number never reused."""
        ...

    def search_model_versions(
        self, filter_string: str | None, max_results: int, order_by: Sequence[str], page_token: str | None
    ) -> Page[rpb.ModelVersion]:
        """Live versions only, without aliases."""
        ...

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None: ...

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        """Unknown version -> NotFound; a missing tag is no error."""
        ...

    def transition_model_version_stage(
        self, name: str, version: int, stage: str, archive_existing_versions: bool
    ) -> rpb.ModelVersion:
        """`stage` is canonical; archiving moves the other versions in `stage` to Archived."""
        ...

    def get_model_version_download_uri(self, name: str, version: int) -> str:
        """The version's storage location."""
        ...

    # --- runs (for resolving sources) -------------------------------------------------------------
    def run_artifact_uri(self, run_id: str) -> str:
        """The artifact root of a run, active or deleted; unknown -> NotFound."""
        ...
