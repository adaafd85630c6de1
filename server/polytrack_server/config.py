"""Server settings, with `mlflow server`'s option names and meanings and polytrack's defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BACKEND_STORE_URI = "sqlite:///polytrack.db"
DEFAULT_ARTIFACTS_DESTINATION = "./polytrack-artifacts"
PROXIED_ARTIFACT_ROOT = "mlflow-artifacts:/"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_GRPC_PORT = 5001


@dataclass(frozen=True)
class ServerConfig:
    """Everything `polytrack server` needs to start.

    `default_artifact_root` None means: `mlflow-artifacts:/` when serving artifacts (clients upload
    through the server, which stores under `artifacts_destination`), else the absolute path of
    `artifacts_destination` (clients write there directly).
    """

    backend_store_uri: str = DEFAULT_BACKEND_STORE_URI
    registry_store_uri: str | None = None
    # Locations (besides the default artifact root and runs' artifact roots) that model versions
    # may be registered from, e.g. ("s3://models-bucket/released",).
    model_source_roots: tuple[str, ...] = ()
    default_artifact_root: str | None = None
    artifacts_destination: str = DEFAULT_ARTIFACTS_DESTINATION
    serve_artifacts: bool = True
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    grpc_port: int = DEFAULT_GRPC_PORT
    workers: int = 1

    @property
    def effective_registry_store_uri(self) -> str:
        return self.registry_store_uri or self.backend_store_uri

    @property
    def effective_default_artifact_root(self) -> str:
        if self.default_artifact_root:
            return self.default_artifact_root
        if self.serve_artifacts:
            return PROXIED_ARTIFACT_ROOT
        return str(Path(self.artifacts_destination).expanduser().resolve())

    @property
    def artifacts_destination_path(self) -> Path:
        return Path(self.artifacts_destination).expanduser().resolve()

    def validate(self) -> None:
        """Fail before binding anything when an option cannot work."""
        for name, port in (("--port", self.port), ("--grpc-port", self.grpc_port)):
            if not 0 <= port <= 65535:
                raise ValueError(f"{name} must be between 0 and 65535, got {port}")
        if self.port == self.grpc_port and self.port != 0:
            raise ValueError(f"--port and --grpc-port must differ (both are {self.port})")
        if self.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {self.workers}")
        if self.workers > 1 and 0 in (self.port, self.grpc_port):
            raise ValueError("--workers above 1 needs fixed ports: give --port and --grpc-port explicitly")


def from_environment(**overrides: object) -> ServerConfig:
    """Settings from POLYTRACK_* (then MLFLOW_*) environment variables, then explicit overrides."""
    values: dict[str, object] = {}
    for field, names in {
        "backend_store_uri": ("POLYTRACK_BACKEND_STORE_URI", "MLFLOW_BACKEND_STORE_URI"),
        "default_artifact_root": ("POLYTRACK_DEFAULT_ARTIFACT_ROOT", "MLFLOW_DEFAULT_ARTIFACT_ROOT"),
        "artifacts_destination": ("POLYTRACK_ARTIFACTS_DESTINATION", "MLFLOW_ARTIFACTS_DESTINATION"),
    }.items():
        for name in names:
            if os.environ.get(name):
                values[field] = os.environ[name]
                break
    values.update({k: val for k, val in overrides.items() if val is not None})
    return ServerConfig(**values)  # type: ignore[arg-type]
