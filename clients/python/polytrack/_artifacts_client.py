"""Artifact methods of `polytrack.Client` (MlflowClient's names and semantics).

    client.log_artifact(run_id, "model.pkl", artifact_path="models")
    client.log_artifacts(run_id, "outputs/")
    client.list_artifacts(run_id, "models")          # [FileInfo("models/model.pkl", False, 1234)]
    client.download_artifacts(run_id, "models", dst_path="/tmp/x")

Paths inside a run are relative to its artifact root, with `/` separators. How bytes travel
depends on the run's artifact URI and the transport (see `_artifact_transfer`); files are always
streamed, never read whole into memory.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polytrack._artifact_transfer import (
    GrpcStreamTransfer,
    HttpProxyTransfer,
    LocalTransfer,
    Transfer,
    join,
    local_directory_of,
    proxied_path_of,
    safe_relative,
)
from polytrack.errors import PolytrackException
from polytrack.v1 import tracking_service_pb2 as api

if TYPE_CHECKING:
    from polytrack._transport import Transport

__all__ = ["ArtifactMethods", "FileInfo"]


@dataclass(frozen=True)
class FileInfo:
    """An artifact listing entry: its path relative to the run's artifact root, whether it is a
    directory, and its size in bytes (files only)."""

    path: str
    is_dir: bool
    file_size: int | None


class ArtifactMethods:
    """Mixed into `Client`: needs its `transport` and `_call`."""

    @property
    def transport(self) -> Transport:  # provided by Client
        raise NotImplementedError

    def _call(self, rpc: str, request: Any, response_type: Any) -> Any:  # provided by Client
        raise NotImplementedError

    # --- plumbing ------------------------------------------------------------------------------
    def _artifact_uri(self, run_id: str) -> str:
        response = self._call("GetRun", api.GetRunRequest(run_id=run_id), api.GetRunResponse)
        uri: str = response.run.info.artifact_uri
        return uri

    def _transfer_for(self, run_id: str) -> tuple[Transfer, LocalTransfer | None]:
        """The transfer of the run's artifacts, and the local one too when the root is local."""
        uri = self._artifact_uri(run_id)
        local = local_directory_of(uri)
        if local is not None:
            transfer = LocalTransfer(local)
            return transfer, transfer
        proxied = proxied_path_of(uri)
        if proxied is not None:
            from polytrack._transport.grpc import GrpcTransport
            from polytrack._transport.rest import RestTransport

            transport = self.transport
            if isinstance(transport, RestTransport):
                return HttpProxyTransfer(transport.http, proxied, transport.retry), None
            if isinstance(transport, GrpcTransport):
                return GrpcStreamTransfer(transport, proxied), None
        raise PolytrackException(
            f"Cannot transfer artifacts of run {run_id} stored at {uri!r} with {self.transport!r}: "
            "supported are mlflow-artifacts: roots (over http(s):// or grpc://) and local directories.",
            "INVALID_PARAMETER_VALUE",
        )

    # --- API -------------------------------------------------------------------------------------
    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Upload one local file to `artifact_path/<file name>` of the run."""
        source = Path(local_path)
        if not source.is_file():
            raise PolytrackException(f"{source} is not a file", "INVALID_PARAMETER_VALUE")
        transfer, _ = self._transfer_for(run_id)
        transfer.upload(source, join(safe_relative(artifact_path or ""), source.name))

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Upload every file below a local directory, keeping its layout, to `artifact_path` of the run."""
        source = Path(local_dir)
        if not source.is_dir():
            raise PolytrackException(f"{source} is not a directory", "INVALID_PARAMETER_VALUE")
        prefix = safe_relative(artifact_path or "")
        transfer, _ = self._transfer_for(run_id)
        for directory, _dirs, files in os.walk(source):
            for name in sorted(files):
                path = Path(directory, name)
                transfer.upload(path, join(prefix, path.relative_to(source).as_posix()))

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """The entries directly under `path` (the artifact root when None) of the run."""
        relative = safe_relative(path or "")
        uri = self._artifact_uri(run_id)
        local = local_directory_of(uri)
        if local is not None:
            entries = LocalTransfer(local).list(relative) or []
            return [FileInfo(entry_path, is_dir, size) for entry_path, is_dir, size in entries]
        request = api.ListArtifactsRequest(run_id=run_id, path=relative or None)
        response = self._call("ListArtifacts", request, api.ListArtifactsResponse)
        return [
            FileInfo(f.path, f.is_dir, f.file_size if f.HasField("file_size") else None)
            for f in response.files
        ]

    def download_artifacts(
        self, run_id: str, path: str, dst_path: str | os.PathLike[str] | None = None
    ) -> str:
        """Download a file or a directory tree of the run into `dst_path` (a new temporary directory
        when None); returns the local path of the downloaded file or directory."""
        relative = safe_relative(path or "")
        destination = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="polytrack-"))
        destination.mkdir(parents=True, exist_ok=True)
        transfer, _ = self._transfer_for(run_id)
        entries = self.list_artifacts(run_id, relative)
        if not entries and relative:
            target = _inside(destination, relative)
            transfer.download(relative, target)
            return str(target)
        root = _inside(destination, relative) if relative else destination
        root.mkdir(parents=True, exist_ok=True)
        pending = list(entries)
        while pending:
            entry = pending.pop()
            if entry.is_dir:
                _inside(destination, entry.path).mkdir(parents=True, exist_ok=True)
                pending.extend(self.list_artifacts(run_id, entry.path))
            else:
                transfer.download(entry.path, _inside(destination, entry.path))
        return str(root)


def _inside(directory: Path, relative: str) -> Path:
    """`directory/relative`, refusing any path (from a hostile server, say) that would leave it."""
    target = directory.joinpath(*safe_relative(relative).split("/")).resolve()
    base = directory.resolve()
    if target != base and base not in target.parents:
        raise PolytrackException(
            f"Refusing to write {relative!r} outside {directory}", "INVALID_PARAMETER_VALUE"
        )
    return target
