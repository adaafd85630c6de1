"""Fluent registry functions: `register_model` and the resolution of `models:/` URIs.

    version = polytrack.register_model(f"runs:/{run_id}/model", "churn")
    polytrack.resolve_model_uri("models:/churn@champion")   # -> where the files are stored

A `models:/` URI names a version as `models:/<name>/<version>`, `models:/<name>/<stage>`
(the highest version in that stage), `models:/<name>/latest` (the highest version) or
`models:/<name>@<alias>`. `resolve_model_uri` returns the storage location of that version (e.g.
`mlflow-artifacts:/1/<run_id>/artifacts/model`); downloading the files from there is the
artifacts client's job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from polytrack._run_context import state
from polytrack.client import Client
from polytrack.errors import PolytrackException
from polytrack.registry_entities import ModelVersion

__all__ = ["ModelUri", "parse_model_uri", "register_model", "resolve_model_uri"]

_STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}
_RUNS_URI = re.compile(r"^runs:/(?P<run_id>[^/]+)(?:/.*)?$")
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<selector>[^/@]+)|@(?P<alias>[\w\-]+))/?$")


@dataclass(frozen=True)
class ModelUri:
    """A parsed `models:/` URI: exactly one of `version`, `stage`, `alias` or `latest` is set."""

    name: str
    version: str | None = None
    stage: str | None = None
    alias: str | None = None
    latest: bool = False


def parse_model_uri(uri: str) -> ModelUri:
    """Split a `models:/` URI; anything else -> PolytrackException INVALID_PARAMETER_VALUE."""
    match = _MODELS_URI.match(uri)
    if match is None:
        raise PolytrackException(
            f"Invalid model URI {uri!r}: expected models:/<name>/<version|stage|latest> or "
            "models:/<name>@<alias>",
            "INVALID_PARAMETER_VALUE",
        )
    name, selector, alias = match.group("name"), match.group("selector"), match.group("alias")
    if alias is not None:
        return ModelUri(name, alias=alias)
    assert selector is not None
    if selector.isdigit():
        return ModelUri(name, version=selector)
    if selector.lower() == "latest":
        return ModelUri(name, latest=True)
    stage = _STAGES.get(selector.lower())
    if stage is None:
        raise PolytrackException(
            f"Invalid model URI {uri!r}: {selector!r} is neither a version number, a stage nor 'latest'",
            "INVALID_PARAMETER_VALUE",
        )
    return ModelUri(name, stage=stage)


def _client(client: Client | None) -> Client:
    return client if client is not None else state.connection().client


def model_version_of(uri: str, client: Client | None = None) -> ModelVersion:
    """The version a `models:/` URI names."""
    parsed = parse_model_uri(uri)
    target = _client(client)
    if parsed.version is not None:
        return target.get_model_version(parsed.name, parsed.version)
    if parsed.alias is not None:
        return target.get_model_version_by_alias(parsed.name, parsed.alias)
    stages = [parsed.stage] if parsed.stage is not None else None
    versions = target.get_latest_versions(parsed.name, stages)
    if not versions:
        where = f"in stage {parsed.stage}" if parsed.stage else "at all"
        raise PolytrackException(
            f"Registered model {parsed.name!r} has no versions {where}", "RESOURCE_DOES_NOT_EXIST"
        )
    return max(versions, key=lambda version: int(version.version))


def resolve_model_uri(uri: str, client: Client | None = None) -> str:
    """Where the files of the version named by a `models:/` URI are stored (its download URI)."""
    version = model_version_of(uri, client)
    return _client(client).get_model_version_download_uri(version.name, version.version)


def register_model(
    model_uri: str, name: str, tags: Mapping[str, Any] | None = None, *, client: Client | None = None
) -> ModelVersion:
    """Register the model at `model_uri` as a new version of `name`, creating `name` if needed.

    `model_uri` is `runs:/<run_id>/<path>`, a `models:/` URI (the new version shares that version's
    files) or a location under the server's artifact roots.
    """
    target = _client(client)
    try:
        target.create_registered_model(name)
    except PolytrackException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    run_id: str | None = None
    source = model_uri
    runs = _RUNS_URI.match(model_uri)
    if runs is not None:
        run_id = runs.group("run_id")
    elif model_uri.startswith("models:/"):
        referenced = model_version_of(model_uri, target)
        source = f"models:/{referenced.name}/{referenced.version}"
    return target.create_model_version(name, source, run_id=run_id, tags=tags)
