"""What the registry methods of `polytrack.Client` return: views of the registry's proto messages.

They have MLflow's shapes: `model.name`, `model.latest_versions`, `model.tags` and
`model.aliases` as dicts (`{"champion": "3"}`), `version.version` a string, `version.current_stage`,
`version.aliases` a list, `version.status == "READY"`. Each has `from_proto()` and `to_proto()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from polytrack.v1 import model_registry_pb2 as rpb

__all__ = ["ModelVersion", "RegisteredModel"]


def _optional_int(message: object, name: str) -> int | None:
    return getattr(message, name) if message.HasField(name) else None  # type: ignore[attr-defined]


def _optional_str(message: object, name: str) -> str | None:
    return getattr(message, name) if message.HasField(name) else None  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ModelVersion:
    """One numbered version of a registered model."""

    name: str
    version: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    current_stage: str = "None"
    description: str | None = None
    source: str = ""
    run_id: str | None = None
    status: str = "READY"
    status_message: str | None = None
    run_link: str | None = None
    model_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    @classmethod
    def from_proto(cls, message: rpb.ModelVersion) -> ModelVersion:
        """The ModelVersion of a `polytrack.v1.ModelVersion`."""
        return cls(
            name=message.name,
            version=message.version,
            creation_timestamp=_optional_int(message, "creation_timestamp"),
            last_updated_timestamp=_optional_int(message, "last_updated_timestamp"),
            current_stage=message.current_stage or "None",
            description=_optional_str(message, "description"),
            source=message.source,
            run_id=message.run_id or None,
            status=rpb.ModelVersionStatus.Name(message.status) if message.status else "READY",
            status_message=_optional_str(message, "status_message"),
            run_link=_optional_str(message, "run_link"),
            model_id=_optional_str(message, "model_id"),
            tags={tag.key: tag.value for tag in message.tags},
            aliases=list(message.aliases),
        )

    def to_proto(self) -> rpb.ModelVersion:
        """This version as a `polytrack.v1.ModelVersion`."""
        message = rpb.ModelVersion(
            name=self.name,
            version=self.version,
            current_stage=self.current_stage,
            source=self.source,
            run_id=self.run_id or "",
            status=self.status,
            tags=[rpb.ModelVersionTag(key=k, value=v) for k, v in self.tags.items()],
            aliases=self.aliases,
        )
        for name in ("creation_timestamp", "last_updated_timestamp"):
            value = getattr(self, name)
            if value is not None:
                setattr(message, name, value)
        for name in ("description", "status_message", "run_link", "model_id"):
            value = getattr(self, name)
            if value is not None:
                setattr(message, name, value)
        return message


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model with its latest version per stage, tags and aliases."""

    name: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    deployment_job_id: str | None = None

    @classmethod
    def from_proto(cls, message: rpb.RegisteredModel) -> RegisteredModel:
        """The RegisteredModel of a `polytrack.v1.RegisteredModel`."""
        return cls(
            name=message.name,
            creation_timestamp=_optional_int(message, "creation_timestamp"),
            last_updated_timestamp=_optional_int(message, "last_updated_timestamp"),
            description=_optional_str(message, "description"),
            latest_versions=[ModelVersion.from_proto(v) for v in message.latest_versions],
            tags={tag.key: tag.value for tag in message.tags},
            aliases={alias.alias: alias.version for alias in message.aliases},
            deployment_job_id=_optional_str(message, "deployment_job_id"),
        )

    def to_proto(self) -> rpb.RegisteredModel:
        """This model as a `polytrack.v1.RegisteredModel`."""
        message = rpb.RegisteredModel(
            name=self.name,
            latest_versions=[v.to_proto() for v in self.latest_versions],
            tags=[rpb.RegisteredModelTag(key=k, value=v) for k, v in self.tags.items()],
            aliases=[rpb.RegisteredModelAlias(alias=a, version=v) for a, v in self.aliases.items()],
        )
        for name in ("creation_timestamp", "last_updated_timestamp", "description", "deployment_job_id"):
            value = getattr(self, name)
            if value is not None:
                setattr(message, name, value)
        return message
