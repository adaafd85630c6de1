"""Fluent artifact functions: log to and read from the active run (MLflow's names).

    with polytrack.start_run():
        polytrack.log_artifact("model.pkl")
        polytrack.log_dict({"lr": 0.1}, "config.yaml")
        polytrack.log_text("done", "notes/status.txt")

Without an active run, logging starts one (as MLflow does). Reading functions take a `run_id`
(default: the active run). Text and dictionaries are written to a temporary file and uploaded
like any other artifact.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from polytrack._artifacts_client import FileInfo
from polytrack._run_context import state
from polytrack.client import Client
from polytrack.errors import PolytrackException

__all__ = [
    "list_artifacts",
    "load_dict",
    "load_text",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_text",
]


def _run_and_client(run_id: str | None, start: bool) -> tuple[str, Client]:
    from polytrack import fluent

    if run_id is None:
        current = fluent.active_run()
        if current is None:
            if not start:
                raise PolytrackException(
                    "No active run: give run_id or start a run", "INVALID_PARAMETER_VALUE"
                )
            current = fluent.start_run()
        return current.info.run_id, current.connection.client
    return run_id, state.connection().client


def log_artifact(
    local_path: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Upload one local file to the active run (under `artifact_path`)."""
    target, client = _run_and_client(run_id, start=True)
    client.log_artifact(target, local_path, artifact_path)


def log_artifacts(
    local_dir: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Upload a local directory tree to the active run (under `artifact_path`)."""
    target, client = _run_and_client(run_id, start=True)
    client.log_artifacts(target, local_dir, artifact_path)


def _log_file(artifact_file: str, write: Any, run_id: str | None) -> None:
    directory, _, name = artifact_file.replace("\\", "/").rpartition("/")
    if not name:
        raise PolytrackException(
            f"artifact_file must name a file, got {artifact_file!r}", "INVALID_PARAMETER_VALUE"
        )
    with tempfile.TemporaryDirectory(prefix="polytrack-") as scratch:
        path = Path(scratch, name)
        write(path)
        log_artifact(path, directory or None, run_id)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Store `text` (UTF-8) as the artifact `artifact_file`, e.g. `notes/summary.txt`."""
    _log_file(artifact_file, lambda path: path.write_text(text, encoding="utf-8"), run_id)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Store a dictionary as YAML (`.yaml`/`.yml`, needs PyYAML) or JSON (any other extension)."""
    if artifact_file.endswith((".yaml", ".yml")):
        yaml = _optional("yaml", "PyYAML", "log_dict to a .yaml file")

        def write(path: Path) -> None:
            path.write_text(
                yaml.safe_dump(dictionary, default_flow_style=False, sort_keys=False), encoding="utf-8"
            )
    else:

        def write(path: Path) -> None:
            path.write_text(json.dumps(dictionary, indent=2), encoding="utf-8")

    _log_file(artifact_file, write, run_id)


def log_image(image: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Store a PIL image, or a numpy array of pixels, as an image file (format from the extension)."""
    pil = _optional("PIL.Image", "Pillow", "log_image")
    if not isinstance(image, pil.Image):
        image = pil.fromarray(image)
    _log_file(artifact_file, lambda path: image.save(path), run_id)


def log_figure(figure: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Store a matplotlib figure (saved with `savefig`, format from the extension)."""
    _optional("matplotlib", "matplotlib", "log_figure")
    _log_file(artifact_file, lambda path: figure.savefig(path), run_id)


def _download_text(artifact_path: str, run_id: str | None) -> str:
    target, client = _run_and_client(run_id, start=False)
    with tempfile.TemporaryDirectory(prefix="polytrack-") as scratch:
        local = client.download_artifacts(target, artifact_path, scratch)
        return Path(local).read_text(encoding="utf-8")


def load_text(artifact_path: str, run_id: str | None = None) -> str:
    """The contents of a text artifact of the run."""
    return _download_text(artifact_path, run_id)


def load_dict(artifact_path: str, run_id: str | None = None) -> Any:
    """A JSON or YAML artifact of the run, parsed."""
    text = _download_text(artifact_path, run_id)
    if artifact_path.endswith((".yaml", ".yml")):
        return _optional("yaml", "PyYAML", "load_dict of a .yaml file").safe_load(text)
    return json.loads(text)


def list_artifacts(path: str | None = None, run_id: str | None = None) -> list[FileInfo]:
    """The artifacts directly under `path` of the run."""
    target, client = _run_and_client(run_id, start=False)
    return client.list_artifacts(target, path)


def _optional(module: str, package: str, purpose: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise PolytrackException(
            f"{purpose} needs the {package} package, which is not installed: pip install {package}",
            "INVALID_PARAMETER_VALUE",
        ) from None
