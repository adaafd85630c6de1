"""`polytrack.artifacts`: artifact helpers that need no client object (MLflow's module of the same name).

polytrack.artifacts.download_artifacts(run_id=run_id, artifact_path="model", dst_path="/tmp/m")
"""

from __future__ import annotations

import os

from polytrack._artifacts_client import FileInfo
from polytrack._artifacts_fluent import list_artifacts, load_dict, load_text

__all__ = ["FileInfo", "download_artifacts", "list_artifacts", "load_dict", "load_text"]


def download_artifacts(
    *,
    run_id: str,
    artifact_path: str = "",
    dst_path: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
) -> str:
    """Download a file or directory of a run; returns its local path (under a new temporary
    directory when `dst_path` is None)."""
    from polytrack._run_context import state

    if tracking_uri is None:
        return state.connection().client.download_artifacts(run_id, artifact_path, dst_path)
    from polytrack.client import Client

    with Client(tracking_uri) as client:
        return client.download_artifacts(run_id, artifact_path, dst_path)
