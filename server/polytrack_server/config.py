"""Server settings, with `mlflow server`'s option names and meanings and polytrack's defaults."""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_BACKEND_STORE_URI = "sqlite:///polytrack.db"
DEFAULT_ARTIFACTS_DESTINATION = "./polytrack-artifacts"
PROXIED_ARTIFACT_ROOT = "mlflow-artifacts:/"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_GRPC_PORT = 5001
MODEL_SOURCE_ROOTS_ENV = "POLYTRACK_MODEL_SOURCE_ROOTS"

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
        for root in self.model_source_roots:
            if model_source_root(root) != root:
                raise ValueError(
                    f"--model-source-root {root!r} is not normalised: give {model_source_root(root)!r}"
                )


def model_source_root(text: str) -> str:
    """`text` as a model source root: a URI with a scheme (kept as given, minus a trailing slash)
    or a local directory (a `file:` URI or a path, relative ones against the working directory),
    returned as a normalised absolute path. A local root need not exist (nothing is created: the
    server only checks that registered sources lie under it).

    Raises ValueError naming the problem for: an empty value, `..` segments (a root must not
    escape upwards), `?`, `#`, backslashes or control characters, a `file:` URI naming another
    host, and the filesystem root itself (which would allow registering any local file).
    """
    value = text.strip()
    option = "--model-source-root"
    if not value:
        raise ValueError(f"{option} must not be empty")
    decoded = unquote(value)
    if _CONTROL.search(decoded) or "\\" in decoded:
        raise ValueError(f"{option} {text!r}: control characters and backslashes are not allowed")
    if "?" in decoded or "#" in decoded:
        raise ValueError(f"{option} {text!r}: query strings ('?') and fragments ('#') are not allowed")
    if ".." in decoded.split("/"):
        raise ValueError(f"{option} {text!r}: '..' segments are not allowed (give the directory itself)")
    scheme, colon, rest = value.partition(":")
    if colon and _SCHEME.match(scheme) and len(scheme) > 1:  # one letter: a Windows drive, not a scheme
        if scheme.lower() != "file":
            if rest.strip("/") == "":
                raise ValueError(f"{option} {text!r}: a URI needs a location after '{scheme}:'")
            return value.rstrip("/")
        parts = urlsplit(value)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{option} {text!r}: a file: URI must name this host (file:///path)")
        value = unquote(parts.path)
        if not value.startswith("/"):
            raise ValueError(f"{option} {text!r}: a file: URI needs an absolute path (file:///path)")
    path = posixpath.normpath(os.path.abspath(os.path.expanduser(value)))
    if path == "/":
        raise ValueError(f"{option} {text!r}: the filesystem root would allow registering any local file")
    return path


def split_model_source_roots(text: str) -> tuple[str, ...]:
    """The roots listed in `text`, separated by `os.pathsep`; on POSIX, where that is ':', a
    `scheme:` followed by '/' stays one URI (`s3://bucket/models:/srv/models` is two roots)."""
    pieces = text.split(os.pathsep)
    roots: list[str] = []
    index = 0
    while index < len(pieces):
        piece = pieces[index]
        rest = pieces[index + 1] if index + 1 < len(pieces) else None
        if os.pathsep == ":" and rest is not None and rest.startswith("/") and _SCHEME.match(piece.strip()):
            piece = f"{piece}:{rest}"
            index += 1
        index += 1
        if piece.strip():
            roots.append(model_source_root(piece))
    return tuple(roots)


def from_environment(**overrides: object) -> ServerConfig:
    """Settings from POLYTRACK_* (then MLFLOW_*) environment variables, then explicit overrides.

    `POLYTRACK_MODEL_SOURCE_ROOTS` lists model source roots (see `split_model_source_roots`); an
    explicit `model_source_roots` override (not None) replaces them."""
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
    if os.environ.get(MODEL_SOURCE_ROOTS_ENV, "").strip():
        try:
            values["model_source_roots"] = split_model_source_roots(os.environ[MODEL_SOURCE_ROOTS_ENV])
        except ValueError as error:
            raise ValueError(f"${MODEL_SOURCE_ROOTS_ENV}: {error}") from None
    values.update({k: val for k, val in overrides.items() if val is not None})
    return ServerConfig(**values)  # type: ignore[arg-type]
